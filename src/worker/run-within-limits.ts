import { SoftTimeLimitExceededError, TimeLimitExceededError } from '../errors';
import type { Logger } from '../logging/logger';
import { runAsTask, type RunEnd, type RunningTask } from './task-scope';

/** The limits of one run, in seconds; undefined means none. */
export interface TimeLimits {
  soft: number | undefined;
  hard: number | undefined;
}

/**
 * Runs the task body as `task` (its async context) under its limits, and resolves with how the
 * run ended. At the soft limit the task's signal is aborted with `SoftTimeLimitExceededError`,
 * and the task goes on until it settles. At the hard limit the worker stops waiting:
 * JavaScript cannot kill a function, so the body may go on running, but its outcome is
 * ignored, its signal is aborted, and its slot is given to the next task. The run also ends
 * when an error escapes it or the worker abandons it (`task.end()`).
 */
export function runWithinLimits(
  body: () => unknown,
  taskName: string,
  limits: TimeLimits,
  task: RunningTask,
  log: { readonly logger: Logger },
): Promise<RunEnd> {
  let soft: NodeJS.Timeout | undefined;
  let hard: NodeJS.Timeout | undefined;
  if (limits.soft !== undefined) {
    const seconds = limits.soft;
    soft = setTimeout(() => {
      if (!task.running) return;
      log.logger.warn({ softTimeLimit: seconds }, 'soft time limit exceeded: the task is asked to stop');
      task.abort(new SoftTimeLimitExceededError(taskName, seconds));
    }, seconds * 1000);
  }
  if (limits.hard !== undefined) {
    const seconds = limits.hard;
    hard = setTimeout(() => {
      if (task.end({ kind: 'timed-out', error: new TimeLimitExceededError(taskName, seconds) })) {
        log.logger.error({ timeLimit: seconds }, 'time limit exceeded: the worker stopped waiting for the task, which is recorded as failed');
      }
    }, seconds * 1000);
  }
  runAsTask(task, () => {
    // The body starts in this turn; a promise it returns ends the run as it settles (one promise
    // more, not three: each is seen by the promise hooks of the async context).
    let returned: unknown;
    try {
      returned = body();
    } catch (error) {
      task.end({ kind: 'threw', error });
      return;
    }
    if (isThenable(returned)) {
      Promise.resolve(returned).then(
        (value) => task.end({ kind: 'returned', value }),
        (error: unknown) => task.end({ kind: 'threw', error }),
      );
    } else {
      task.end({ kind: 'returned', value: returned });
    }
  });
  const ended = task.whenEnded();
  if (soft === undefined && hard === undefined) return ended;
  return ended.then((end) => {
    clearTimeout(soft);
    clearTimeout(hard);
    return end;
  });
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function';
}
