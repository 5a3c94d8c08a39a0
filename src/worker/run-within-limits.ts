import { SoftTimeLimitExceededError, TimeLimitExceededError } from '../errors';
import type { Logger } from '../logging/logger';

/** The limits of one run, in seconds; undefined means none. */
export interface TimeLimits {
  soft: number | undefined;
  hard: number | undefined;
}

/** How a run under limits ended. */
export type LimitedOutcome =
  | { kind: 'returned'; value: unknown }
  | { kind: 'threw'; error: unknown }
  | { kind: 'timed-out'; error: TimeLimitExceededError };

/**
 * Runs the task body under its limits. At the soft limit its signal is aborted with
 * `SoftTimeLimitExceededError`, and the task goes on until it settles. At the hard limit the
 * worker stops waiting: JavaScript cannot kill a function, so the body may go on running,
 * but its outcome is ignored, its signal is aborted, and its slot is given to the next task.
 */
export async function runWithinLimits(
  body: () => unknown,
  taskName: string,
  limits: TimeLimits,
  abort: AbortController,
  log: Logger,
): Promise<LimitedOutcome> {
  const timers: NodeJS.Timeout[] = [];
  if (limits.soft !== undefined) {
    const soft = limits.soft;
    timers.push(
      setTimeout(() => {
        log.warn({ softTimeLimit: soft }, 'soft time limit exceeded: the task is asked to stop');
        abort.abort(new SoftTimeLimitExceededError(taskName, soft));
      }, soft * 1000),
    );
  }
  try {
    return await new Promise((resolve) => {
      Promise.resolve()
        .then(body)
        .then(
          (value) => resolve({ kind: 'returned', value }),
          (error: unknown) => resolve({ kind: 'threw', error }),
        );
      if (limits.hard !== undefined) {
        const hard = limits.hard;
        timers.push(
          setTimeout(() => {
            const error = new TimeLimitExceededError(taskName, hard);
            log.error({ timeLimit: hard }, 'time limit exceeded: the worker stopped waiting for the task, which is recorded as failed');
            if (!abort.signal.aborted) abort.abort(error);
            resolve({ kind: 'timed-out', error });
          }, hard * 1000),
        );
      }
    });
  } finally {
    for (const timer of timers) clearTimeout(timer);
  }
}
