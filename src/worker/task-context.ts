import { Retry, UsageError } from '../errors';
import type { Logger } from '../logging/logger';
import type { TaskMessage } from '../protocol';
import { retryOptionProblems } from './retry-policy';
import type { TaskContext } from './task-types';

/** What a task's context holds beyond its message: where it runs, and where its states go. */
export interface TaskContextParts {
  redelivered: boolean;
  hostname: string;
  queue: string;
  /** The task's logger, read when the task reads `ctx.logger` (it may be made then). */
  logger: () => Logger;
  /** Stores a custom state the context has checked (`ctx.updateState`). */
  storeState: (state: string, meta: unknown) => Promise<void>;
  progress: TaskContext['progress'];
}

/**
 * The context a task run gets as `ctx`, the same in the async pool and in a pool process:
 * the message's fields, the run's abort signal (read when the task reads it), and `retry` and
 * `updateState`, which check what the task passes before anything is sent.
 */
export function taskContext(task: TaskMessage, signal: () => AbortSignal, parts: TaskContextParts): TaskContext {
  return {
    taskId: task.id,
    taskName: task.task,
    args: task.args,
    kwargs: task.kwargs,
    retries: task.retries,
    redelivered: parts.redelivered,
    eta: task.eta,
    get signal() {
      return signal();
    },
    hostname: parts.hostname,
    queue: parts.queue,
    get logger() {
      return parts.logger();
    },
    retry: (options = {}) => {
      const problems = retryOptionProblems(options);
      if (problems.length > 0) throw new UsageError(`task ${task.task}[${task.id}]: ctx.retry(): ${problems.join('; ')}`);
      throw new Retry(options);
    },
    updateState: async (state, meta = null) => {
      if (typeof state !== 'string' || state === '') throw new UsageError(`task ${task.task}[${task.id}]: ctx.updateState(): the state must be a non-empty string (got ${String(state)})`);
      return parts.storeState(state, meta);
    },
    progress: parts.progress,
  };
}
