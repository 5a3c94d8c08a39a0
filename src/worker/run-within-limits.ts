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
export async function runWithinLimits(
  body: () => unknown,
  taskName: string,
  limits: TimeLimits,
  task: RunningTask,
  log: { readonly logger: Logger },
): Promise<RunEnd> {
  const timers: NodeJS.Timeout[] = [];
  if (limits.soft !== undefined) {
    const soft = limits.soft;
    timers.push(
      setTimeout(() => {
        if (!task.running) return;
        log.logger.warn({ softTimeLimit: soft }, 'soft time limit exceeded: the task is asked to stop');
        task.abort(new SoftTimeLimitExceededError(taskName, soft));
      }, soft * 1000),
    );
  }
  if (limits.hard !== undefined) {
    const hard = limits.hard;
    timers.push(
      setTimeout(() => {
        if (task.end({ kind: 'timed-out', error: new TimeLimitExceededError(taskName, hard) })) {
          log.logger.error({ timeLimit: hard }, 'time limit exceeded: the worker stopped waiting for the task, which is recorded as failed');
        }
      }, hard * 1000),
    );
  }
  try {
    runAsTask(task, () => {
      Promise.resolve()
        .then(body)
        .then(
          (value) => task.end({ kind: 'returned', value }),
          (error: unknown) => task.end({ kind: 'threw', error }),
        );
    });
    return await task.whenEnded();
  } finally {
    for (const timer of timers) clearTimeout(timer);
  }
}
