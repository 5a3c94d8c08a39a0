import type { Logger } from '../logging/logger';

/** What a running task knows about its own delivery. */
export interface TaskContext {
  taskId: string;
  taskName: string;
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
   * allowed retries the task fails with `MaxRetriesExceededError` instead.
   */
  retry(options?: RetryOptions): never;
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
 * A task body. It receives the message's args, then its kwargs when the message has any,
 * then the context: `(text, ctx)` for `sendTask('t', ['x'])`, `(text, kwargs, ctx)` with kwargs.
 */
// The handler's own parameter types are the user's; warren only spreads JSON values into them.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type TaskHandler = (...params: any[]) => unknown;

export interface TaskOptions {
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
