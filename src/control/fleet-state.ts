import type { CeleryEvent } from './celery-events';

/** A worker as its events show it. */
export interface WorkerState {
  hostname: string;
  /** Heard from within its heartbeat window, and not offline. */
  alive: boolean;
  /** `warren 0.1.0`, `py-celery 5.2.6`. */
  software: string | undefined;
  active: number | undefined;
  processed: number | undefined;
  /** Seconds between its heartbeats. */
  freq: number;
  /** Unix ms of its last event. */
  lastHeard: number;
  pid: number | undefined;
  loadavg: number[] | undefined;
}

/** A task failure, for the list of the latest ones. */
export interface FailureState {
  /** Unix ms. */
  at: number;
  uuid: string;
  name: string | undefined;
  hostname: string;
  exception: string;
}

/** How many events of each task type came within the window: rates per second. */
export interface TaskRates {
  received: number;
  started: number;
  succeeded: number;
  failed: number;
  retried: number;
  revoked: number;
}

const RATE_TYPES = ['received', 'started', 'succeeded', 'failed', 'retried', 'revoked'] as const;

/** Celery's `HEARTBEAT_EXPIRE_WINDOW`: a worker is alive for twice its heartbeat interval after its last event. */
const EXPIRE_WINDOW = 2;

/**
 * The fleet as Celery events show it, as Celery's `events.State` keeps it: workers with their
 * last heartbeat (alive while heard from within twice their interval), task rates over a
 * sliding window, the latest failures. Pure: events in, state out; the clock is the caller's.
 */
export class FleetState {
  private readonly workers = new Map<string, WorkerState & { offline: boolean }>();
  /** Unix ms of each task event by type, within the window. */
  private readonly times = new Map<string, number[]>();
  private readonly names = new Map<string, string>();
  private readonly failures: FailureState[] = [];
  /** Events seen, by type. */
  readonly counts = new Map<string, number>();

  constructor(
    private readonly windowMs = 10_000,
    private readonly keepFailures = 10,
  ) {}

  /** Takes in one event, received at `now` (unix ms). */
  add(event: CeleryEvent, now = Date.now()): void {
    this.counts.set(event.type, (this.counts.get(event.type) ?? 0) + 1);
    const at = typeof event.timestamp === 'number' ? event.timestamp * 1000 : now;
    const hostname = typeof event.hostname === 'string' ? event.hostname : '?';
    if (event.type.startsWith('worker-')) {
      const known = this.workers.get(hostname);
      const number = (value: unknown): number | undefined => (typeof value === 'number' ? value : undefined);
      this.workers.set(hostname, {
        hostname,
        alive: true,
        offline: event.type === 'worker-offline',
        software: typeof event.sw_ident === 'string' ? `${event.sw_ident} ${String(event.sw_ver ?? '')}`.trim() : known?.software,
        active: number(event.active) ?? known?.active,
        processed: number(event.processed) ?? known?.processed,
        freq: number(event.freq) ?? known?.freq ?? 2,
        lastHeard: now,
        pid: number(event.pid) ?? known?.pid,
        loadavg: Array.isArray(event.loadavg) ? (event.loadavg as number[]) : known?.loadavg,
      });
      return;
    }
    if (!event.type.startsWith('task-')) return;
    const uuid = typeof event.uuid === 'string' ? event.uuid : undefined;
    if (uuid && typeof event.name === 'string') {
      this.names.set(uuid, event.name);
      if (this.names.size > 10_000) this.names.delete(this.names.keys().next().value as string);
    }
    const kind = event.type.slice('task-'.length);
    const list = this.times.get(kind) ?? [];
    list.push(now);
    this.times.set(kind, list);
    const worker = this.workers.get(hostname);
    if (worker) worker.lastHeard = Math.max(worker.lastHeard, now);
    if (kind === 'failed' && uuid) {
      this.failures.unshift({ at, uuid, name: this.names.get(uuid), hostname, exception: typeof event.exception === 'string' ? event.exception : '?' });
      this.failures.splice(this.keepFailures);
    }
  }

  /** The workers, by name, each alive or not at `now`. */
  workerList(now = Date.now()): WorkerState[] {
    return [...this.workers.values()]
      .map(({ offline, ...worker }) => ({ ...worker, alive: !offline && now - worker.lastHeard <= worker.freq * EXPIRE_WINDOW * 1000 }))
      .sort((a, b) => a.hostname.localeCompare(b.hostname));
  }

  /** Task events per second over the last window. */
  rates(now = Date.now()): TaskRates {
    const rates = {} as TaskRates;
    for (const kind of RATE_TYPES) {
      const list = (this.times.get(kind) ?? []).filter((t) => now - t <= this.windowMs);
      this.times.set(kind, list);
      rates[kind] = list.length / (this.windowMs / 1000);
    }
    return rates;
  }

  /** The latest failures, newest first. */
  latestFailures(): readonly FailureState[] {
    return this.failures;
  }
}
