import { ResultForgottenError, ResultTimeoutError, TaskFailedError, TaskRevokedError, UsageError } from '../errors';
import { TypedEvents } from '../util/typed-events';
import type { GroupResult } from './group-result';

/**
 * A task's state: Celery's built-in states, or a custom one a task reported with
 * `ctx.updateState('PROGRESS', meta)` (Python's `update_state`).
 */
export type ResultState = 'PENDING' | 'RECEIVED' | 'STARTED' | 'RETRY' | 'FAILURE' | 'SUCCESS' | 'REVOKED' | (string & {});

const READY: ReadonlySet<ResultState> = new Set(['SUCCESS', 'FAILURE', 'REVOKED']);

/** How long `get()` waits when the app sets no `resultTimeoutMs` and the call no `timeout`. */
export const DEFAULT_RESULT_TIMEOUT_MS = 60_000;

/** Every result's state until its first message: shared, never changed (an update replaces it). */
const PENDING: ResultUpdate = Object.freeze({ state: 'PENDING', result: null, traceback: null, dateDone: null });

/** The longest delay one Node timer takes (about 24.8 days); longer waits are chained. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** What a result message said, already decoded. */
export interface ResultUpdate {
  state: ResultState;
  /** The return value for SUCCESS; the encoded error for FAILURE, RETRY and REVOKED. */
  result: unknown;
  traceback: string | null;
  dateDone: Date | null;
  /** The node that ran the task, where the worker reported it (Celery's extended result `worker`). */
  worker?: string;
  /** The queue the task came from, where reported (extended result `queue`). */
  queue?: string;
}

/** The remote error as the worker encoded it (Celery's `exc_type` / `exc_message` / `exc_module`). */
export interface RemoteError {
  type: string;
  module: string | undefined;
  message: string;
}

/** What a task reported with `ctx.progress(current, total, meta)` (or Python's `update_state('PROGRESS', meta={'current': …, 'total': …})`). */
export interface ResultProgress {
  current: number;
  total: number;
  /** The other keys of the state's meta. */
  meta: Record<string, unknown>;
}

/** An AsyncResult's events (`result.on(name, listener)`). */
export interface AsyncResultEvents {
  /** A state arrived (or was read): every state, PENDING excluded, in the order seen. */
  state: { state: ResultState; info: unknown };
  /** A PROGRESS state whose meta has numeric `current` and `total`. */
  progress: ResultProgress;
}

export interface GetOptions {
  /**
   * Milliseconds to wait for a ready state (SUCCESS, FAILURE, REVOKED); `Infinity` waits as
   * long as it takes. A timeout rejects with `ResultTimeoutError`; the task may still finish,
   * and a later `get()` can still see its result.
   * @defaultValue the app's `resultTimeoutMs`, 60000 unless set
   */
  timeout?: number;
}

/** How `AsyncResult.revoke()` revokes, as Celery's `AsyncResult.revoke(terminate, signal, wait, timeout)`. */
export interface RevokeOptions {
  /** Also end the task where it runs. @defaultValue false */
  terminate?: boolean;
  /** The signal for `terminate`: a name (`SIGKILL`, `KILL`) or a number. @defaultValue 'SIGTERM' */
  signal?: string;
  /** Wait for the workers' replies (resolve once they came, or `timeoutMs` passed). @defaultValue false */
  wait?: boolean;
  /** How long `wait` waits. @defaultValue 1000 */
  timeoutMs?: number;
}

/** @internal Sends a revoke for a task id to every worker: the app's remote control. */
export type Revoker = (taskId: string, options: RevokeOptions) => Promise<void>;

/**
 * @internal What an AsyncResult needs from the backend that follows its result messages.
 */
export interface ResultFollower {
  /** Milliseconds `get()` waits when the call sets no `timeout`. */
  readonly defaultTimeoutMs: number;
  decodeError(encoded: unknown): RemoteError;
  /** Nobody waits any more: the last pending `get()` timed out. */
  timedOut(result: AsyncResult): void;
  /** A `get()` begins on a result that is not ready. */
  waiting(result: AsyncResult): void;
  /** `forget()`: stop following the result for good. */
  forget(result: AsyncResult): void;
  /** Reads the stored state now (backends that store states: Redis); absent for rpc://. */
  refresh?(result: AsyncResult): Promise<void>;
  /** Deletes the stored state (backends that store states), for `forget()`. */
  remove?(result: AsyncResult): Promise<void>;
  /** The app's remote control, for `revoke()`. */
  readonly revoker?: Revoker;
}

/**
 * The caller's view of a task it sent. `state` starts PENDING and follows the result messages
 * that arrive on the caller's reply queue; `get()` waits for SUCCESS, FAILURE or REVOKED.
 */
export class AsyncResult<T = unknown> {
  private current: ResultUpdate = PENDING;
  // The waiters and listeners are made when first needed: a client makes an AsyncResult per task.
  private waiters: Set<{ wake: () => void; fail: (error: Error) => void }> | undefined;
  private readonly seen: ResultState[] = ['PENDING'];
  /** Set once no result can arrive any more (forgotten, dropped, closed): what `get()` rejects with. */
  private detachedBy: Error | undefined;
  /** When the reply queue was lost while this result was pending: its result may have been dropped. */
  private replyQueueLostAt: Date | undefined;
  private events: TypedEvents<AsyncResultEvents> | undefined;

  /** @internal Results come from the app: `sendTask` and task handles return them. */
  constructor(
    readonly id: string,
    private readonly follower: ResultFollower | undefined,
    private readonly revoker: Revoker | undefined = follower?.revoker,
  ) {}

  /** A result that will never come: the task was sent with `ignoreResult`. */
  static ignored<T>(id: string, revoker?: Revoker): AsyncResult<T> {
    return new AsyncResult<T>(id, undefined, revoker);
  }

  /**
   * Revokes the task on every worker, as Celery's `AsyncResult.revoke()` (`app.control.revoke`
   * with this id): a worker that gets it later discards it (REVOKED); `terminate` also ends it
   * where it runs. Resolves once the revoke is sent (with `wait`, once the workers replied).
   * @throws UsageError for a result made without an app (none to send the revoke through)
   */
  revoke(options: RevokeOptions = {}): Promise<void> {
    if (!this.revoker) return Promise.reject(new UsageError(`revoke(): the result of task ${this.id} was not made by an app, which sends the revoke; use app.control.revoke('${this.id}')`));
    return this.revoker(this.id, options);
  }

  /** Whether the task succeeded (Celery's `successful()`). */
  get successful(): boolean {
    return this.current.state === 'SUCCESS';
  }

  /** Whether the task failed (Celery's `failed()`). */
  get failed(): boolean {
    return this.current.state === 'FAILURE';
  }

  get state(): ResultState {
    return this.current.state;
  }

  /** Every state this result went through, in the order the messages arrived, from PENDING. */
  get history(): readonly ResultState[] {
    return this.seen;
  }

  get ready(): boolean {
    return READY.has(this.current.state);
  }

  /** The finish time the worker reported, once ready. */
  get dateDone(): Date | null {
    return this.current.dateDone;
  }

  /** The worker node that reported the latest state, e.g. `warren@host`. */
  get worker(): string | undefined {
    return this.current.worker;
  }

  /** The queue the task was consumed from, as the worker reported it. */
  get queue(): string | undefined {
    return this.current.queue;
  }

  /**
   * What the latest state carried, as Python's `AsyncResult.info`: the meta of a custom state
   * (`{ done: 3, total: 10 }` for PROGRESS), the return value once SUCCESS, the encoded
   * exception (`exc_type`, `exc_message`, `exc_module`) for FAILURE and RETRY; null while PENDING.
   */
  get info(): unknown {
    return this.current.result;
  }

  /** The traceback the worker reported with a FAILURE or RETRY, else null. */
  get traceback(): string | null {
    return this.current.traceback;
  }

  /**
   * The result of the task before this one in a chain (`chain(a, b).apply()` returns b's, whose
   * `parent` is a's), or the header's GroupResult of a chord's body. Undefined otherwise.
   */
  parent: AsyncResult | GroupResult | undefined;

  /**
   * Reads the state the backend holds now and returns it (a Redis backend reads the key; rpc://
   * holds nothing and returns the latest state that arrived).
   */
  async refresh(): Promise<ResultState> {
    if (this.follower?.refresh && !this.ready) await this.follower.refresh(this);
    return this.current.state;
  }

  /**
   * Listens to the states of the task as they arrive: `state` for each, `progress` for each
   * PROGRESS with `current` and `total` (throttled by the worker, see `ctx.progress`). A
   * listener that throws changes nothing (it is logged as a process warning).
   */
  on<K extends keyof AsyncResultEvents>(event: K, listener: (payload: AsyncResultEvents[K]) => void): this {
    (this.events ??= new TypedEvents<AsyncResultEvents>()).on(event, listener);
    return this;
  }

  off<K extends keyof AsyncResultEvents>(event: K, listener: (payload: AsyncResultEvents[K]) => void): this {
    this.events?.off(event, listener);
    return this;
  }

  /** @internal Called by the result backend for each result message of this task. */
  update(update: ResultUpdate): void {
    if (this.ready || this.detachedBy) return; // a ready state is final; late STARTED/RETRY messages change nothing
    const repeated = this.current.state === update.state && this.current.result === update.result;
    this.current = update;
    if (this.seen.at(-1) !== update.state) this.seen.push(update.state);
    if (!repeated && this.events) {
      this.events.emit('state', { state: update.state, info: update.result });
      const progress = progressOf(update);
      if (progress) this.events.emit('progress', progress);
    }
    if (this.ready && this.waiters) for (const waiter of [...this.waiters]) waiter.wake();
  }

  /** @internal No result will arrive any more: pending and later `get()`s reject with `error`. */
  detach(error: Error): void {
    if (this.ready || this.detachedBy) return;
    this.detachedBy = error;
    if (this.waiters) for (const waiter of [...this.waiters]) waiter.fail(error);
  }

  /** @internal The reply queue was lost (and declared again) while this result was pending. */
  noteReplyQueueLost(at: Date): void {
    if (!this.ready) this.replyQueueLostAt ??= at;
  }

  /**
   * Stops following the task, as Celery's `forget()`: its result messages are dropped from now
   * on, and a pending or later `get()` rejects with `ResultForgottenError` (a result that had
   * already arrived stays readable). A backend that stores states (Redis) also deletes the
   * stored one; the promise resolves once it is deleted. Use it for results you will not wait
   * for, or send the task with `ignoreResult`.
   */
  forget(): Promise<void> {
    if (!this.follower) return Promise.resolve();
    const removed = this.follower.remove?.(this) ?? Promise.resolve();
    if (!this.ready && !this.detachedBy) {
      this.follower.forget(this);
      this.detach(new ResultForgottenError(this.id, 'forget() was called'));
    }
    return removed;
  }

  /**
   * Resolves to the task's return value; rejects with `TaskFailedError`, `TaskRevokedError`,
   * `ResultTimeoutError` (after `timeout`, by default the app's `resultTimeoutMs`),
   * `ResultForgottenError` (no longer followed) or `ClosedError` (the app was closed).
   */
  async get(options: GetOptions = {}): Promise<T> {
    if (!this.follower) throw new UsageError(`task ${this.id} was sent with ignoreResult: no result will come back`);
    const timeout = options.timeout;
    if (timeout !== undefined && (typeof timeout !== 'number' || Number.isNaN(timeout) || timeout < 0)) {
      throw new UsageError(`get() timeout must be a number of milliseconds, 0 or more, or Infinity for no limit (got ${String(timeout)})`);
    }
    if (!this.ready) {
      if (this.detachedBy) throw this.detachedBy;
      await this.waitReady(timeout);
    }
    return this.settle();
  }

  private waitReady(timeout: number | undefined): Promise<void> {
    const follower = this.follower!;
    const limit = timeout ?? follower.defaultTimeoutMs;
    follower.waiting(this);
    return new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const waiters = (this.waiters ??= new Set());
      const done = (): void => {
        waiters.delete(waiter);
        if (timer) clearTimeout(timer);
      };
      const waiter = {
        wake: () => {
          done();
          resolve();
        },
        fail: (error: Error) => {
          done();
          reject(error);
        },
      };
      waiters.add(waiter);
      if (limit === Infinity) return;
      const deadline = Date.now() + limit;
      const arm = (ms: number): void => {
        timer = setTimeout(() => {
          const left = deadline - Date.now();
          if (left > 0) return arm(Math.min(left, MAX_TIMER_MS));
          done();
          if (waiters.size === 0) follower.timedOut(this);
          reject(new ResultTimeoutError(this.id, limit, this.timeoutDetail(timeout === undefined)));
        }, ms);
      };
      arm(Math.min(limit, MAX_TIMER_MS));
    });
  }

  private timeoutDetail(byDefault: boolean): string | undefined {
    const notes: string[] = [];
    if (byDefault) notes.push('the default resultTimeoutMs; pass get({ timeout }) to wait longer, Infinity for no limit');
    if (this.replyQueueLostAt) {
      notes.push(
        `the reply queue was lost while it was pending and declared again at ${this.replyQueueLostAt.toISOString()}: ` +
          'a result published meanwhile was dropped by the broker',
      );
    }
    return notes.length > 0 ? notes.join('; ') : undefined;
  }

  private settle(): T {
    const { state, result, traceback } = this.current;
    if (state === 'SUCCESS') return result as T;
    const remote = this.follower!.decodeError(result);
    if (state === 'REVOKED') throw new TaskRevokedError(this.id, remote.message || remote.type);
    throw new TaskFailedError(this.id, remote.type, remote.module, remote.message, traceback);
  }
}

/** The progress a PROGRESS state carries: its meta's numeric `current` and `total`, and the rest. */
function progressOf(update: ResultUpdate): ResultProgress | undefined {
  if (update.state !== 'PROGRESS' || typeof update.result !== 'object' || update.result === null) return undefined;
  const { current, total, ...meta } = update.result as Record<string, unknown>;
  if (typeof current !== 'number' || typeof total !== 'number') return undefined;
  return { current, total, meta };
}
