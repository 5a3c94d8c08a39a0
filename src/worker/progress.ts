import { UsageError } from '../errors';

/** The state `ctx.progress()` reports, as Celery users name it in `update_state`. */
export const PROGRESS_STATE = 'PROGRESS';

/** At most one progress state per run goes out this often. */
export const PROGRESS_INTERVAL_MS = 200;

/** The meta of a progress state: `{ ...meta, current, total }`. */
export type ProgressMeta = Record<string, unknown> & { current: number; total: number };

/**
 * Throttles one run's `ctx.progress()`: the first call goes out at once, then at most one every
 * `intervalMs`; a call made inside the interval replaces the one waiting, which goes out when the
 * interval is over (the latest wins). Once the run ended, nothing more goes out: a progress
 * state stored after the task's result would hide it.
 *
 * A store that fails is logged by `onStoreFailed`, not thrown: a task that does not await its
 * progress (`void ctx.progress(…)`) must not fail for a lost progress state.
 */
export class ProgressReporter {
  private lastSentAt = -Infinity;
  private waiting: ProgressMeta | undefined;
  private timer: NodeJS.Timeout | undefined;
  private ended = false;

  constructor(
    private readonly store: (meta: ProgressMeta) => Promise<void>,
    private readonly onStoreFailed: (error: unknown) => void,
    private readonly intervalMs = PROGRESS_INTERVAL_MS,
  ) {}

  /**
   * `ctx.progress(current, total, meta)`. Resolves once the state is stored when it went out now,
   * at once when it waits or was replaced.
   * @throws UsageError when current or total is not a finite number, or meta not an object.
   */
  report(current: number, total: number, meta?: Readonly<Record<string, unknown>>): Promise<void> {
    if (typeof current !== 'number' || !Number.isFinite(current) || typeof total !== 'number' || !Number.isFinite(total)) {
      throw new UsageError(`ctx.progress(current, total): both must be finite numbers (got ${String(current)}, ${String(total)})`);
    }
    if (meta !== undefined && (typeof meta !== 'object' || meta === null || Array.isArray(meta))) {
      throw new UsageError(`ctx.progress(current, total, meta): meta must be an object (got ${Array.isArray(meta) ? 'an array' : String(meta)})`);
    }
    if (this.ended) return Promise.resolve();
    const state: ProgressMeta = { ...meta, current, total };
    const dueIn = this.lastSentAt + this.intervalMs - performance.now();
    if (dueIn <= 0 && !this.timer) return this.send(state);
    this.waiting = state;
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      const next = this.waiting;
      this.waiting = undefined;
      if (next && !this.ended) void this.send(next);
    }, Math.max(0, dueIn));
    return Promise.resolve();
  }

  /** The run ended: a waiting state is dropped, later calls do nothing. */
  end(): void {
    this.ended = true;
    this.waiting = undefined;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async send(state: ProgressMeta): Promise<void> {
    this.lastSentAt = performance.now();
    try {
      await this.store(state);
    } catch (error) {
      this.onStoreFailed(error);
    }
  }
}
