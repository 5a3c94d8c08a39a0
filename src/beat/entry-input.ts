/**
 * A schedule entry as a user gives it at runtime, in the same shape as an entry under
 * `schedule:` in the definitions files: what stores persist and what `schedule list|show`
 * prints. `resolveScheduleEntry` (config) turns it into a `ScheduleEntryDefinition`.
 */
import type { ScheduleEntryDefinition } from '../config/types';

/** Celery-crontab style fields; a left-out field is `*`. */
export interface CronFieldsInput {
  minute?: string | number;
  hour?: string | number;
  dayOfMonth?: string | number;
  monthOfYear?: string | number;
  dayOfWeek?: string | number;
}

/** `run-once` (the default), `skip`, `catch-up`, or `{ policy: 'catch-up', max: 10 }`. */
export type MisfireInput =
  | 'run-once'
  | 'skip'
  | 'catch-up'
  | { policy: 'run-once' | 'skip' }
  | { policy: 'catch-up'; max?: number };

/**
 * One schedule entry, JSON-safe, exactly as written in YAML: durations as `'10s'` or a number
 * of seconds, instants as ISO 8601 strings with an offset. Exactly one of `every`, `cron`, `at`.
 */
export interface ScheduleEntryInput {
  task: string;
  /** An interval: `'250ms'`, `'10s'`, `'1.5m'`, `'2h'`, or a number of seconds. */
  every?: string | number;
  /** 5 or 6 fields (`'30 7 * * 1'`), or Celery-crontab fields. */
  cron?: string | CronFieldsInput;
  /** IANA time zone of a cron entry. @defaultValue the definitions' `timezone`, else UTC */
  timezone?: string;
  /** A one-off fire time, like `2026-12-01T08:00:00+08:00`. */
  at?: string;
  args?: unknown[];
  kwargs?: Record<string, unknown>;
  queue?: string;
  exchange?: string;
  routingKey?: string;
  priority?: number;
  /** Seconds (or a duration string) after the planned fire time after which the task is not run. */
  expires?: string | number;
  /** @defaultValue true */
  enabled?: boolean;
  /** @defaultValue 'run-once' */
  misfire?: MisfireInput;
  startAt?: string;
  endAt?: string;
}

const UNITS: ReadonlyArray<readonly [string, number]> = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1000],
];

/** `90000` -> `'90s'`, `7200000` -> `'2h'`, `250` -> `'250ms'`: the largest unit that divides exactly. */
function formatInterval(ms: number): string {
  const unit = UNITS.find(([, size]) => ms % size === 0);
  return unit === undefined ? `${ms}ms` : `${ms / unit[1]}${unit[0]}`;
}

function misfireInput(misfire: ScheduleEntryDefinition['misfire']): MisfireInput | undefined {
  if (misfire.policy === 'run-once') return undefined;
  if (misfire.policy === 'skip') return 'skip';
  return { policy: 'catch-up', max: misfire.max };
}

/**
 * The input that resolves to `entry`, for printing a file entry beside runtime ones or for
 * copying it into a store. Defaults are left out (no `args: []`, `enabled: true`,
 * `misfire: run-once`); a cron entry always names its time zone, so the input means the same
 * whatever the definitions' default is. `resolveScheduleEntry` of the result equals `entry`.
 */
export function scheduleEntryToInput(entry: ScheduleEntryDefinition): ScheduleEntryInput {
  const input: ScheduleEntryInput = { task: entry.task };
  const { schedule } = entry;
  if (schedule.kind === 'every') input.every = formatInterval(schedule.everyMs);
  if (schedule.kind === 'cron') {
    input.cron = schedule.expression;
    input.timezone = schedule.timezone;
  }
  if (schedule.kind === 'at') input.at = schedule.at.toISOString();
  if (entry.args.length > 0) input.args = structuredClone([...entry.args]);
  if (Object.keys(entry.kwargs).length > 0) input.kwargs = structuredClone({ ...entry.kwargs });
  if (entry.queue !== undefined) input.queue = entry.queue;
  if (entry.exchange !== undefined) input.exchange = entry.exchange;
  if (entry.routingKey !== undefined) input.routingKey = entry.routingKey;
  if (entry.priority !== undefined) input.priority = entry.priority;
  if (entry.expires !== undefined) input.expires = entry.expires;
  if (!entry.enabled) input.enabled = false;
  const misfire = misfireInput(entry.misfire);
  if (misfire !== undefined) input.misfire = misfire;
  if (entry.startAt !== undefined) input.startAt = entry.startAt.toISOString();
  if (entry.endAt !== undefined) input.endAt = entry.endAt.toISOString();
  return input;
}

/** An entry's schedule in a few words: `every 30s`, `cron "30 7 * * 1" Asia/Shanghai`, `at 2026-12-01T08:00:00+08:00`. */
export function describeSchedule(input: ScheduleEntryInput): string {
  if (input.every !== undefined) return `every ${typeof input.every === 'number' ? `${input.every}s` : input.every}`;
  if (input.at !== undefined) return `at ${input.at}`;
  const cron = typeof input.cron === 'string' ? input.cron : JSON.stringify(input.cron);
  return `cron "${cron}"${input.timezone ? ` ${input.timezone}` : ''}`;
}
