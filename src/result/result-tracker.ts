import { ClosedError, ResultForgottenError } from '../errors';
import type { Logger } from '../logging/logger';
import { decodeError, type ResultMeta } from '../protocol';
import { AsyncResult, DEFAULT_RESULT_TIMEOUT_MS, type RemoteError, type ResultFollower, type Revoker } from './async-result';

/** How many results a backend follows at once unless told otherwise. */
export const DEFAULT_MAX_TRACKED_RESULTS = 100_000;

/** How many timed-out results still take a late result, so that a later `get()` finds it. */
export const MAX_TIMED_OUT_RESULTS = 1000;

export interface ResultTrackerOptions {
  /** How long `get()` waits when the call sets no `timeout`. @defaultValue 60000 */
  resultTimeoutMs?: number;
  /**
   * The most results followed at once; past it the oldest is dropped (with a warning) and its
   * `get()` rejects with `ResultForgottenError`. @defaultValue 100000
   */
  maxTrackedResults?: number;
}

/**
 * The bounded bookkeeping every result backend shares on the caller's side. A result is followed
 * from `track` until it is ready, `forget()` is called, or the last `get()` waiting for it times
 * out; then it moves to a short list of timed-out results (the last {@link MAX_TIMED_OUT_RESULTS})
 * that still take a late result, so a later `get()` finds it. At most `maxTrackedResults` are
 * followed at once: past it the oldest is dropped with a warning, and its `get()` rejects with
 * `ResultForgottenError` instead of hanging.
 *
 * A backend tells it what arrived (`deliver`); it tells the backend when a result starts and
 * stops being followed (`followed`, `unfollowed`), so a backend that subscribes per task
 * (Redis) subscribes and unsubscribes there.
 */
export abstract class ResultTracker implements ResultFollower {
  readonly defaultTimeoutMs: number;
  /** What the results' `revoke()` sends through: the app sets its remote control here. */
  revoker: Revoker | undefined;
  protected readonly logger: Logger;
  protected closed = false;
  private readonly maxTracked: number;
  /** Results followed, oldest first. */
  private readonly followedResults = new Map<string, AsyncResult>();
  /** Results whose last `get()` timed out, oldest first; they still take a late result. */
  private readonly timedOutResults = new Map<string, AsyncResult>();
  private droppedSinceWarning = 0;
  private lastDropWarning = 0;

  protected constructor(logger: Logger, options: ResultTrackerOptions = {}) {
    this.logger = logger;
    this.defaultTimeoutMs = options.resultTimeoutMs ?? DEFAULT_RESULT_TIMEOUT_MS;
    this.maxTracked = options.maxTrackedResults ?? DEFAULT_MAX_TRACKED_RESULTS;
  }

  /** A result starts being followed (sent, waited on again). */
  protected abstract followed(result: AsyncResult): void;
  /** A result is no longer followed: ready, forgotten, dropped, or its last `get()` timed out and it was pushed out. */
  protected abstract unfollowed(taskId: string): void;

  /** An AsyncResult that follows the results of `taskId` from now on. */
  track<T>(taskId: string): AsyncResult<T> {
    if (this.closed) throw new ClosedError(`the result backend is closed: the result of task ${taskId} cannot be followed`);
    const result = new AsyncResult<T>(taskId, this);
    this.follow(result as AsyncResult);
    return result;
  }

  /** The AsyncResult this backend follows for `taskId` (or one whose `get()` timed out), if any. */
  find<T = unknown>(taskId: string): AsyncResult<T> | undefined {
    return this.lookUp(taskId) as AsyncResult<T> | undefined;
  }

  /** The result followed (or timed out) for `taskId`, if any. */
  protected lookUp(taskId: string): AsyncResult | undefined {
    return this.followedResults.get(taskId) ?? this.timedOutResults.get(taskId);
  }

  /** Every result followed or timed out, oldest first. */
  protected all(): AsyncResult[] {
    return [...this.followedResults.values(), ...this.timedOutResults.values()];
  }

  /** Stops following `taskId` without a word (its publish failed, so nobody holds its result). */
  untrack(taskId: string): void {
    const had = this.followedResults.delete(taskId) || this.timedOutResults.delete(taskId);
    if (had) this.unfollowed(taskId);
  }

  /** How many results are followed, and how many timed-out ones still take a late result. */
  get tracked(): { followed: number; timedOut: number } {
    return { followed: this.followedResults.size, timedOut: this.timedOutResults.size };
  }

  /** @internal */
  decodeError(encoded: unknown): RemoteError {
    return decodeError(encoded);
  }

  /** @internal A `get()` begins on a result that is not ready; a timed-out one is followed again. */
  waiting(result: AsyncResult): void {
    if (this.timedOutResults.get(result.id) !== result) return;
    this.timedOutResults.delete(result.id);
    this.follow(result);
  }

  /** @internal The last `get()` waiting for `result` timed out. */
  timedOut(result: AsyncResult): void {
    if (this.followedResults.get(result.id) !== result) return;
    this.followedResults.delete(result.id);
    this.timedOutResults.set(result.id, result);
    if (this.timedOutResults.size <= MAX_TIMED_OUT_RESULTS) return;
    const [oldestId, oldest] = this.timedOutResults.entries().next().value as [string, AsyncResult];
    this.timedOutResults.delete(oldestId);
    this.unfollowed(oldestId);
    oldest.detach(new ResultForgottenError(oldestId, `its get() timed out, and ${MAX_TIMED_OUT_RESULTS} results have timed out since`));
  }

  /** @internal `AsyncResult.forget()`. */
  forget(result: AsyncResult): void {
    let had = false;
    if (this.followedResults.get(result.id) === result) had = this.followedResults.delete(result.id);
    if (this.timedOutResults.get(result.id) === result) had = this.timedOutResults.delete(result.id) || had;
    if (had) this.unfollowed(result.id);
  }

  protected follow(result: AsyncResult): void {
    const earlier = this.lookUp(result.id);
    if (earlier && earlier !== result) {
      earlier.detach(new ResultForgottenError(result.id, 'a task was sent again with the same id; the AsyncResult of the later send follows it'));
    }
    this.followedResults.delete(result.id);
    this.timedOutResults.delete(result.id);
    this.followedResults.set(result.id, result);
    if (!earlier) this.followed(result);
    if (this.followedResults.size <= this.maxTracked) return;
    const [oldestId, oldest] = this.followedResults.entries().next().value as [string, AsyncResult];
    this.followedResults.delete(oldestId);
    this.unfollowed(oldestId);
    oldest.detach(
      new ResultForgottenError(
        oldestId,
        `more than ${this.maxTracked} results were followed at once (maxTrackedResults), and it was the oldest`,
      ),
    );
    this.warnDropped(oldestId);
  }

  /** At the first drop, then at most once a minute with the count since. */
  private warnDropped(taskId: string): void {
    this.droppedSinceWarning += 1;
    if (Date.now() - this.lastDropWarning < 60_000) return;
    this.logger.warn(
      { taskId, dropped: this.droppedSinceWarning, maxTrackedResults: this.maxTracked },
      'too many results followed at once: the oldest are no longer followed and their get() rejects; ' +
        'send tasks whose result you do not wait for with ignoreResult, or call forget()',
    );
    this.droppedSinceWarning = 0;
    this.lastDropWarning = Date.now();
  }

  /**
   * A state of `meta.taskId` arrived: the AsyncResult following it takes it; once ready it is no
   * longer followed. False when nobody follows that task here.
   */
  protected deliver(meta: ResultMeta): boolean {
    const result = this.lookUp(meta.taskId);
    if (!result) return false;
    result.update({
      state: meta.status,
      result: meta.result,
      traceback: meta.traceback ?? null,
      dateDone: meta.dateDone ?? null,
      worker: meta.worker,
      queue: meta.queue,
    });
    if (result.ready) this.untrack(meta.taskId);
    return true;
  }

  /** Every result still pending rejects its `get()` with ClosedError, now and later. */
  protected detachAll(): void {
    for (const result of this.all()) {
      result.detach(new ClosedError(`the app was closed while the result of task ${result.id} was pending; it will not come`));
    }
    this.followedResults.clear();
    this.timedOutResults.clear();
  }
}
