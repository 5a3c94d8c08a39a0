import { setTimeout as sleep } from 'node:timers/promises';
import { BrokerUnavailableError } from '../errors';
import type { Logger } from '../logging/logger';
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
}

export interface BeatEvents {
  fired: { fire: Fire; lagMs: number };
  leader: { queue: string };
  /** The store's entries changed and were reloaded. */
  reloaded: { entries: number };
  follower: { reason: string };
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
 */
export class Beat {
  private scheduler: Scheduler | undefined;
  private changeToken: string | undefined;
  private lastPoll = 0;
  private running: Promise<void> | undefined;
  private stopping = false;
  private wake: (() => void) | undefined;
  private readonly logger: Logger;
  private readonly events = new TypedEvents<BeatEvents>();

  constructor(private readonly options: BeatOptions) {
    this.logger = options.logger.child({ component: 'beat' });
  }

  on<K extends keyof BeatEvents>(event: K, listener: (event: BeatEvents[K]) => void): this {
    this.events.on(event, listener);
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
      this.events.emit('follower', { reason });
      this.wake?.();
    });
    this.running = this.loop().catch((error: unknown) => {
      this.logger.error({ err: error instanceof Error ? error.message : String(error) }, 'beat stopped on an error');
      throw error;
    });
    this.logger.info('beat started');
  }

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      let delayMs: number;
      if (!this.options.lock.isHeld()) {
        delayMs = (await this.options.lock.tryAcquire()) ? 0 : (this.options.lockRetryMs ?? 1000);
        if (this.options.lock.isHeld()) await this.becomeLeader();
      } else {
        delayMs = await this.leaderStep();
      }
      if (delayMs > 0 && !this.stopping) await this.pause(delayMs);
    }
  }

  private async pause(ms: number): Promise<void> {
    const controller = new AbortController();
    this.wake = () => controller.abort();
    await sleep(ms, undefined, { signal: controller.signal }).catch(() => undefined);
    this.wake = undefined;
  }

  /** A new leader starts from what the store says was fired, whoever fired it. */
  private async becomeLeader(): Promise<void> {
    const { store, schedules } = this.options;
    this.changeToken = await store.changeToken();
    const [entries, state] = await Promise.all([
      schedules.entries({ includeDisabled: true, onInvalid: logInvalidEntry(this.logger) }),
      store.loadState(),
    ]);
    this.scheduler = new Scheduler(entries, state);
    this.lastPoll = Date.now();
    this.logger.info({ entries: entries.filter((e) => e.enabled).length }, 'leading: firing the schedule');
    this.events.emit('leader', { queue: this.options.lock.queue });
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
          await this.options.store.saveState(fire.entry.name, fire.planned);
          return;
        }
        log.warn({ err: reason, attempt }, 'could not publish a fire; retrying');
        await this.pause(Math.min(1000 * attempt, 5000));
      }
    }
    await this.options.store.saveState(fire.entry.name, fire.planned);
    const lagMs = Date.now() - fire.planned.getTime();
    log.info({ planned: fire.planned.toISOString(), lagMs }, 'fired');
    this.events.emit('fired', { fire, lagMs });
  }

  /** Stops firing and gives the lock up, so a follower takes over at once. The store stays open: its owner closes it. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.running?.catch(() => undefined);
    await this.options.lock.release();
    this.logger.info('beat stopped');
  }
}
