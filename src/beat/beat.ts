import { setTimeout as sleep } from 'node:timers/promises';
import { BrokerUnavailableError } from '../errors';
import type { Logger } from '../logging/logger';
import { RateLimitedLog } from '../logging/rate-limited-log';
import { mapConcurrent } from '../util/map-concurrent';
import { TypedEvents } from '../util/typed-events';
import type { LeaderLock } from './leader-lock';
import { Scheduler, type Fire } from './scheduler';
import { logInvalidEntry, type Schedules } from './schedules';
import type { ScheduleStore } from './stores';

export interface BeatOptions {
  schedules: Schedules;
  store: ScheduleStore;
  lock: LeaderLock;
  /** Publishes one fire; resolves once the broker confirmed it. */
  send: (fire: Fire) => Promise<void>;
  logger: Logger;
  /** How often the store is asked whether entries changed. @defaultValue 250 */
  pollMs?: number;
  /** How often a follower tries to take the lock. @defaultValue 1000 */
  lockRetryMs?: number;
  /** Fires published at once when many fall due together. @defaultValue 256 */
  maxInFlight?: number;
  /** The clock; tests may pass their own. @defaultValue () => new Date() */
  now?: () => Date;
  /**
   * The wait after a round that failed (the store or the lock threw); it doubles with each
   * failure in a row, up to `maxRetryMs`. @defaultValue 1000
   */
  retryMs?: number;
  /** The longest wait between failed rounds. @defaultValue 30000 */
  maxRetryMs?: number;
}

/**
 * Beat's events. A listener that throws changes nothing in what beat does: its exception is
 * emitted as `error` (a `ListenerError`), or logged where nobody listens for `error`.
 */
export interface BeatEvents {
  /** Started: the store is open and the loop runs. Emitted after `start()` resolved. */
  ready: void;
  /** A fire the broker confirmed (and that was recorded in the store, or will be). */
  fired: { fire: Fire; lagMs: number };
  /** This beat took the lock and fires the schedule from the store's state. */
  leader: { queue: string };
  /** The store's entries changed and were reloaded. */
  reloaded: { entries: number };
  /** This beat lost the lock; it tries to take it again. */
  follower: { reason: string };
  /**
   * Something failed and beat goes on: a round whose store or lock call threw (retried after a
   * backoff), a fire dropped as unroutable or refused, or a listener that threw (`ListenerError`).
   */
  error: Error;
  /** Stopped: the loop ended and the lock was given up. */
  closed: void;
}

/**
 * The beat process: while it holds the leader lock it ticks the scheduler, publishes what is
 * due, and records each confirmed fire in the store. Entries changed in the store (by
 * `warren schedule ...` or `app.schedules`) are picked up within `pollMs`. Without the lock it
 * only tries to take it, once a `lockRetryMs`.
 *
 * A fire is recorded after the broker confirmed it, so a beat killed between the two may have
 * its successor send that one fire again; its task id, derived from entry and planned time, is
 * then the same, so the repeat is visible as such. Everything else is exactly once.
 *
 * No error ends the loop. A round in which the store or the lock throws is retried after a
 * backoff (`retryMs` doubling up to `maxRetryMs`), emitted as `error` and logged once per
 * distinct failure. While the store fails, nothing new fires: a fire the broker confirmed but
 * the store did not record is kept and recorded first when the store answers again, and the
 * schedule is then rebuilt from the store's state, so nothing fires twice and what fell due
 * meanwhile follows each entry's misfire policy.
 */
export class Beat {
  private scheduler: Scheduler | undefined;
  private changeToken: string | undefined;
  private lastPoll = 0;
  private running: Promise<void> | undefined;
  private stopping = false;
  private stopped: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  /** Took the lock and has not announced it yet (`leader` goes out once the schedule is loaded). */
  private newlyLeading = false;
  /** Fires the broker confirmed that the store has not recorded yet: entry name to planned time. */
  private readonly unrecorded = new Map<string, Date>();
  private recordError: unknown;
  private readonly logger: Logger;
  private failureLog: RateLimitedLog;
  private readonly events: TypedEvents<BeatEvents>;

  constructor(private readonly options: BeatOptions) {
    this.logger = options.logger.child({ component: 'beat' });
    this.failureLog = new RateLimitedLog(this.logger);
    this.events = new TypedEvents<BeatEvents>({ logger: this.logger });
  }

  on<K extends keyof BeatEvents>(event: K, listener: (event: BeatEvents[K]) => void): this {
    this.events.on(event, listener);
    return this;
  }

  off<K extends keyof BeatEvents>(event: K, listener: (event: BeatEvents[K]) => void): this {
    this.events.off(event, listener);
    return this;
  }

  get isLeader(): boolean {
    return this.options.lock.isHeld();
  }

  /** Opens the store and starts the loop in the background. */
  async start(): Promise<void> {
    if (this.running) return;
    await this.options.store.open();
    this.options.lock.onLost(({ reason }) => {
      this.scheduler = undefined;
      this.newlyLeading = false;
      this.events.emit('follower', { reason });
      this.wake?.();
    });
    this.running = this.loop().catch((error: unknown) => {
      // Every round's errors are caught in the loop; this is a bug in the loop itself.
      this.logger.error({ err: describe(error) }, 'beat loop ended on an unexpected error; nothing fires any more');
      this.events.emit('error', asError(error));
    });
    this.logger.info('beat started');
  }

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }

  private async loop(): Promise<void> {
    // A later turn than start()'s: a listener added right after `await startBeat()` hears it.
    await new Promise((resolve) => setImmediate(resolve));
    this.events.emit('ready', undefined);
    let failures = 0;
    let failingSince = 0;
    while (!this.stopping) {
      let delayMs: number;
      try {
        delayMs = await this.round();
        if (failures > 0) {
          this.logger.info({ failures, downMs: Date.now() - failingSince }, 'beat recovered');
          failures = 0;
          this.failureLog = new RateLimitedLog(this.logger); // the next outage is logged afresh
        }
      } catch (error) {
        if (failures === 0) failingSince = Date.now();
        failures += 1;
        // The schedule in memory may be ahead of the store: start again from the store's state.
        this.scheduler = undefined;
        delayMs = Math.min(this.options.maxRetryMs ?? 30_000, (this.options.retryMs ?? 1000) * 2 ** Math.min(failures - 1, 30));
        if (this.stopping) break;
        this.failureLog.error({ err: describe(error), failures, retryInMs: delayMs, unrecorded: this.unrecorded.size }, 'beat round failed; retrying');
        this.events.emit('error', asError(error));
      }
      if (delayMs > 0 && !this.stopping) await this.pause(delayMs);
    }
  }

  /** One round: take the lock if free, (re)load the schedule if needed, fire what is due. Returns the wait before the next. */
  private async round(): Promise<number> {
    await this.recordUnrecorded();
    if (!this.options.lock.isHeld()) {
      if (!(await this.options.lock.tryAcquire())) return this.options.lockRetryMs ?? 1000;
      this.newlyLeading = true;
    }
    if (!this.scheduler) {
      await this.loadSchedule();
      return 0;
    }
    return this.leaderStep();
  }

  private async pause(ms: number): Promise<void> {
    const controller = new AbortController();
    this.wake = () => controller.abort();
    await sleep(ms, undefined, { signal: controller.signal }).catch(() => undefined);
    this.wake = undefined;
  }

  /**
   * A new leader starts from what the store says was fired, whoever fired it; so does a leader
   * after a failed round.
   */
  private async loadSchedule(): Promise<void> {
    const { store, schedules } = this.options;
    const changeToken = await store.changeToken();
    const [entries, state] = await Promise.all([
      schedules.entries({ includeDisabled: true, onInvalid: logInvalidEntry(this.logger) }),
      store.loadState(),
    ]);
    // Lost the lock while loading: the next round tries to take it again.
    if (!this.options.lock.isHeld()) return;
    this.changeToken = changeToken;
    this.scheduler = new Scheduler(entries, state);
    this.lastPoll = Date.now();
    const enabled = entries.filter((e) => e.enabled).length;
    if (this.newlyLeading) {
      this.newlyLeading = false;
      this.logger.info({ entries: enabled }, 'leading: firing the schedule');
      this.events.emit('leader', { queue: this.options.lock.queue });
    } else {
      this.logger.info({ entries: enabled }, 'schedule reloaded from the store');
    }
  }

  /** Records the fires a failed store could not; throws while it still fails. */
  private async recordUnrecorded(): Promise<void> {
    for (const [name, planned] of [...this.unrecorded]) {
      await this.options.store.saveState(name, planned);
      if (this.unrecorded.get(name) === planned) this.unrecorded.delete(name);
    }
  }

  /**
   * Records a fire (or a dropped one) in the store. One the store refuses is kept for the next
   * round, which records it before anything else: recorded late, never lost, so no other
   * beat (and no rebuild of this one's schedule) fires it again.
   */
  private async record(name: string, planned: Date): Promise<void> {
    try {
      await this.options.store.saveState(name, planned);
    } catch (error) {
      const kept = this.unrecorded.get(name);
      if (!kept || kept < planned) this.unrecorded.set(name, planned);
      this.recordError = error;
    }
  }

  private async reloadIfChanged(): Promise<void> {
    if (Date.now() - this.lastPoll < (this.options.pollMs ?? 250)) return;
    this.lastPoll = Date.now();
    const token = await this.options.store.changeToken();
    if (token === this.changeToken) return;
    this.changeToken = token;
    const entries = await this.options.schedules.entries({ includeDisabled: true, onInvalid: logInvalidEntry(this.logger) });
    this.scheduler?.setEntries(entries);
    const enabled = entries.filter((e) => e.enabled).length;
    this.logger.info({ entries: enabled }, 'schedule changed; entries reloaded');
    this.events.emit('reloaded', { entries: enabled });
  }

  /** One round as leader; returns how long to wait before the next. */
  private async leaderStep(): Promise<number> {
    await this.reloadIfChanged();
    const scheduler = this.scheduler;
    if (!scheduler) return 0;
    const now = this.now();
    const { due, nextDelayMs } = scheduler.tick(now);
    // Fires go out together (confirms are pipelined); each is recorded once confirmed.
    await mapConcurrent(due, this.options.maxInFlight ?? 256, async (fire) => {
      // Lost the lock meanwhile: another beat leads now and starts from the store's state.
      if (this.options.lock.isHeld()) await this.fire(fire);
    });
    if (this.unrecorded.size > 0) {
      const error = this.recordError ?? new Error('the store did not record a fire');
      this.recordError = undefined;
      throw error;
    }
    return Math.min(nextDelayMs, this.options.pollMs ?? 250);
  }

  private async fire(fire: Fire): Promise<void> {
    const log = this.logger.child({ entry: fire.entry.name, task: fire.entry.task, taskId: fire.taskId });
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.options.send(fire);
        break;
      } catch (error) {
        if (this.stopping || !this.options.lock.isHeld()) return;
        const reason = error instanceof Error ? error.message : String(error);
        if (!(error instanceof BrokerUnavailableError)) {
          // Unroutable, refused or not encodable: sending it again would fail the same way, and
          // must not hold up the rest of the schedule. The slot counts as dealt with.
          log.error({ err: reason, planned: fire.planned.toISOString() }, 'fire failed and is dropped');
          this.events.emit('error', asError(error));
          await this.record(fire.entry.name, fire.planned);
          return;
        }
        log.warn({ err: reason, attempt }, 'could not publish a fire; retrying');
        await this.pause(Math.min(1000 * attempt, 5000));
      }
    }
    await this.record(fire.entry.name, fire.planned);
    const lagMs = Date.now() - fire.planned.getTime();
    log.info({ planned: fire.planned.toISOString(), lagMs }, 'fired');
    this.events.emit('fired', { fire, lagMs });
  }

  /** Stops firing and gives the lock up, so a follower takes over at once. The store stays open: its owner closes it. */
  async stop(): Promise<void> {
    if (this.stopping) return this.stopped;
    this.stopping = true;
    this.wake?.();
    this.stopped = (async () => {
      await this.running;
      if (this.unrecorded.size > 0) {
        await this.recordUnrecorded().catch((error: unknown) => {
          this.logger.error(
            { err: describe(error), entries: Object.fromEntries([...this.unrecorded].map(([name, planned]) => [name, planned.toISOString()])) },
            'stopped with fires the store did not record; the next leader may send them again',
          );
        });
      }
      await this.options.lock.release();
      this.logger.info('beat stopped');
      this.events.emit('closed', undefined);
    })();
    return this.stopped;
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
