import type { Logger } from '../logging/logger';

/**
 * What a running task knows about its own delivery (Celery's `self.request`). A bound task
 * (`bind: true`) gets it as its first parameter; any task's code can reach it with
 * `currentTask()`.
 */
export interface TaskContext {
  taskId: string;
  taskName: string;
  /** The message's positional arguments. */
  args: readonly unknown[];
  /** The message's keyword arguments (Celery kwargs); empty when it had none. */
  kwargs: Readonly<Record<string, unknown>>;
  /** How many times this task was retried before this run. */
  retries: number;
  /** The broker delivered this message before (a worker died or handed it back). */
  redelivered: boolean;
  /** The time the task was due (from `countdown` or `eta`); null when it was due at once. */
  eta: Date | null;
  /**
   * Aborted when the worker wants the task to stop: its soft time limit passed (reason
   * `SoftTimeLimitExceededError`), its hard limit passed, or the worker's shutdown timed out.
   */
  signal: AbortSignal;
  /** The worker's node name, e.g. `warren@host`. */
  hostname: string;
  /** The queue the message came from. */
  queue: string;
  logger: Logger;
  /**
   * Asks to run the task again later and ends this run: throws a `Retry` signal (let it
   * propagate). Without `countdown` or `eta` the task's `retry` policy picks the delay. Past the
   * allowed retries the task fails with `MaxRetriesExceededError` instead. Options that are not
   * valid (a NaN or negative countdown, an invalid Date, both countdown and eta) throw a
   * `UsageError` instead, which fails the task.
   */
  retry(options?: RetryOptions): never;
  /**
   * Reports a state of the running task, as Celery's `update_state`: a custom one such as
   * `PROGRESS` with its meta, which a caller reads as the result's `state` and `info`.
   * Stored by the result backend (Redis), or published to the caller's reply queue (rpc://);
   * resolves once it is. Nothing is stored for a task sent with `ignoreResult`.
   *
   * ```ts
   * await ctx.updateState('PROGRESS', { done: 30, total: 100 });
   * ```
   */
  updateState(state: string, meta?: unknown): Promise<void>;
  /**
   * Reports how far the task got: a `PROGRESS` state whose meta is `{ current, total, ...meta }`,
   * which Python's `AsyncResult.state` / `.info` read as they read Celery's `update_state`, and
   * warren's `AsyncResult` emits as a `progress` event. Throttled: at most one state goes out
   * every 200 ms (the latest wins, the one before the task ends is dropped rather than landing
   * after its result), so a tight loop may call it every iteration. Works the same in the
   * process pool (the child passes it to the worker, which stores it).
   *
   * ```ts
   * for (let i = 0; i < rows.length; i += 1) { work(rows[i]); void ctx.progress(i + 1, rows.length); }
   * ```
   */
  progress(current: number, total: number, meta?: Readonly<Record<string, unknown>>): Promise<void>;
}

/** What `ctx.retry()` takes. */
export interface RetryOptions {
  /** Seconds until the next attempt. @defaultValue from the task's `retry` policy */
  countdown?: number;
  /** The time of the next attempt, instead of `countdown`. */
  eta?: Date;
  /** The error that made the task retry; reported with the RETRY state (and FAILURE, past max). */
  error?: unknown;
  /** Retries allowed, instead of the policy's `max`. */
  max?: number;
}

/**
 * When and how often a task is retried, after `ctx.retry()` or an error `autoretryFor` lists.
 * Delays are whole seconds kept by the broker (rounded up).
 */
export interface RetryPolicy {
  /** Retries after the first run; then the task fails with `MaxRetriesExceededError`. `Infinity` for no limit. @defaultValue 3 */
  max?: number;
  /**
   * Seconds before a retry: every retry with `fixed`, the first with `exponential` (then doubling).
   * @defaultValue 180 with `fixed` (Celery's `default_retry_delay`), 1 with `exponential` (Celery's `retry_backoff=True`)
   */
  delay?: number;
  /** @defaultValue 'fixed' */
  backoff?: 'fixed' | 'exponential';
  /** Upper bound of an exponential delay, in seconds. @defaultValue 600 (Celery's `retry_backoff_max`) */
  maxDelay?: number;
  /** Spread each delay at random over [delay / 2, delay], so that failed tasks do not all come back at once. @defaultValue false */
  jitter?: boolean;
}

/** An error class, for `autoretryFor`. */
export type ErrorClass = abstract new (...args: never[]) => Error;

/**
 * A task body, as the registry keeps it. It receives the message's args; with `bind: true`
 * the context comes first. Celery kwargs: with `params`, each is placed at its parameter's
 * position by name; without, non-empty kwargs are passed as one object after the args.
 * `app.task()` types the handler itself, from the function given.
 */
// The handler's own parameter types are the user's; warren only spreads JSON values into them.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type TaskHandler = (...params: any[]) => unknown;

export interface TaskOptions {
  /**
   * Pass the task's context as the handler's first parameter, as Celery's `bind=True` passes
   * `self`: `app.task('t', async (ctx, a: number) => ..., { bind: true })`.
   * @defaultValue false
   */
  bind?: boolean;
  /**
   * The names of the handler's positional parameters (context excluded), so Celery kwargs are
   * placed by name, as Python does: with `params: ['a', 'b']`, a message with args `[1]` and
   * kwargs `{ b: 2 }` calls the handler with `(1, 2)`. A kwarg naming no parameter, or one
   * already given by position, fails the task with a `TypeError` that names it.
   * @defaultValue none: non-empty kwargs are passed as one object after the args
   */
  params?: readonly string[];
  /**
   * With `--pool process`: when the pool process running the task dies before the task ends
   * (a crash, `process.exit()`, the OOM killer), hand the message back to the broker instead of
   * recording FAILURE with `WorkerLostError`, as Celery's `reject_on_worker_lost`. Bounded by
   * the queue's `deliveryLimit` (a task that always kills its process is dead-lettered); on a
   * queue without one, such a task comes back forever. @defaultValue false
   */
  rejectOnWorkerLost?: boolean;
  /** Publish a STARTED state when the task begins. @defaultValue false */
  trackStarted?: boolean;
  /** Never publish a result for this task. @defaultValue false */
  ignoreResult?: boolean;
  /** When and how often to retry. @defaultValue `{ max: 3, delay: 180, backoff: 'fixed' }` when the task retries */
  retry?: RetryPolicy;
  /**
   * Errors that retry the task instead of failing it: classes (matched with `instanceof`) or
   * names (matched against the error's `name` and the names of its classes).
   */
  autoretryFor?: ReadonlyArray<string | ErrorClass>;
  /**
   * Seconds after which the worker stops waiting for the task: FAILURE with
   * `TimeLimitExceededError`, the message acked, the slot freed. A message's own limit (sent
   * with `timeLimit`, or Celery's `time_limit`) wins. @defaultValue the worker's `timeLimit`
   */
  timeLimit?: number;
  /**
   * Seconds after which the task's `signal` is aborted with `SoftTimeLimitExceededError`, so it
   * can wind up. A message's own limit wins. @defaultValue the worker's `softTimeLimit`
   */
  softTimeLimit?: number;
  /**
   * At most this many starts of the task per second, minute or hour in each worker, as Celery's
   * `rate_limit`: `'10/s'`, `'100/m'`, `'1000/h'`, or a number (per second). A delivery that comes
   * sooner waits in the worker for its turn (unacknowledged, outside the worker's slots: other
   * tasks run meanwhile). The remote control `rate_limit` changes it on running workers.
   * @defaultValue no limit
   */
  rateLimit?: string | number;
}

export interface RegisteredTask {
  name: string;
  handler: TaskHandler;
  options: Readonly<TaskOptions>;
}

/** Looks tasks up by name; the app's registry implements it. */
export interface TaskLookup {
  get(name: string): RegisteredTask | undefined;
}
