import type { ScheduleEntryDefinition, ScheduleSpec } from '../../../src/config/types';

/** A resolved schedule entry with the defaults the config layer fills in. */
export function entry(name: string, schedule: ScheduleSpec, overrides: Partial<ScheduleEntryDefinition> = {}): ScheduleEntryDefinition {
  return {
    name,
    task: `tasks.${name}`,
    schedule,
    args: [],
    kwargs: {},
    enabled: true,
    misfire: { policy: 'run-once' },
    ...overrides,
  };
}

export function every(ms: number): ScheduleSpec {
  return { kind: 'every', everyMs: ms };
}

export function cron(expression: string, timezone = 'UTC'): ScheduleSpec {
  return { kind: 'cron', expression, timezone };
}

export function at(iso: string): ScheduleSpec {
  return { kind: 'at', at: new Date(iso) };
}

export function date(iso: string): Date {
  return new Date(iso);
}

export function iso(value: Date | null): string | null {
  return value === null ? null : value.toISOString();
}
