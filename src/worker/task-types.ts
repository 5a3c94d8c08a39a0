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
  /** Aborted when the worker must stop the task (shutdown, time limit). */
  signal: AbortSignal;
  /** The worker's node name, e.g. `warren@host`. */
  hostname: string;
  /** The queue the message came from. */
  queue: string;
  logger: Logger;
}

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
