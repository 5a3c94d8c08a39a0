import { MaxRetriesExceededError, Retry, TaskNotRegisteredError, UsageError, type TimeLimitExceededError, type WorkerLostError } from '../errors';
import { matchesAutoretry, maxRetries, retryDelayMs, retryOptionProblems } from './retry-policy';
import type { TaskOptions } from './task-types';

/**
 * How handling one task message came out, as far as its fate is concerned: why it could not
 * run, or how its run ended. (A message that is no task at all, undecodable or too large, has
 * no fate to decide: it is dead-lettered with its reason before any of this.)
 */
export type Outcome =
  /** A task this worker has no handler for. */
  | { kind: 'not-registered'; taskName: string }
  /** Past its `expires` before it ran. */
  | { kind: 'expired' }
  /** Its id was revoked (remote control `revoke`) before it ran. */
  | { kind: 'revoked' }
  /** A `revoke` with `terminate` ended its run: the run's outcome is ignored. */
  | { kind: 'terminated'; signal: string }
  /** The task returned a value that can be its result. */
  | { kind: 'returned'; value: unknown }
  /** The task returned a value that cannot be a result: `EncodeError`, or `MessageTooLargeError`. */
  | { kind: 'result-rejected'; error: Error }
  /** The task threw (or its promise rejected). */
  | { kind: 'threw'; error: unknown }
  /** An error escaped the task's own promise: a throw in a timer, an unhandled rejection, `process.exit()`. */
  | { kind: 'escaped'; error: unknown }
  /** It ran past its hard time limit. */
  | { kind: 'timed-out'; error: TimeLimitExceededError }
  /** The worker let it go (shutdown timeout): its delivery goes back, whatever it does later is ignored. */
  | { kind: 'abandoned' }
  /** The pool process running it died before it ended (`--pool process`). */
  | { kind: 'lost'; error: WorkerLostError };

/**
 * What happens to the message, decided by {@link decideOutcome}:
 * - `succeed`: SUCCESS with `value` to the caller, then ack;
 * - `revoke`: REVOKED to the caller (`TaskRevokedError(reason)`, as Celery's), then ack;
 * - `retry`: publish the next attempt (`retries`, due after `delayMs`), RETRY with `reported`, then ack;
 * - `fail`: FAILURE with `error` to the caller, then ack;
 * - `dead-letter`: out of the queue for good with `reason` (and `error` to the caller, when set);
 * - `requeue`: back to the broker (nack with requeue), nothing published: the broker delivers it
 *   again, flagged redelivered, and the queue's `deliveryLimit` bounds how often;
 * - `hand-back`: back to the broker unsettled by this worker, nothing published.
 */
export type Decision =
  | { action: 'succeed'; value: unknown }
  | { action: 'revoke'; reason: RevokeReason; signal?: string }
  | { action: 'retry'; delayMs: number; retries: number; reported: unknown }
  | { action: 'fail'; error: unknown }
  | { action: 'dead-letter'; reason: string; error?: unknown }
  | { action: 'requeue'; reason: string }
  | { action: 'hand-back' };

/** Why a task is REVOKED: Celery's reasons, the text of its `TaskRevokedError`. */
export type RevokeReason = 'expired' | 'revoked' | 'terminated';

/** What the decision depends on besides the outcome. */
export interface OutcomeFacts {
  taskName: string;
  taskId: string;
  /** Retries before this run (the message's `retries`). */
  retries: number;
  /** The task's options (`retry`, `autoretryFor`); absent for a task that is not registered. */
  options?: Pick<TaskOptions, 'retry' | 'autoretryFor' | 'rejectOnWorkerLost'>;
  /** Milliseconds since the epoch, for `eta`. */
  now: number;
  /** [0, 1), for jitter. @defaultValue Math.random */
  random?: () => number;
}

/**
 * The fate of a message, from how handling it came out: a pure function, so the whole table
 * (Celery's `Request.on_success` / `on_retry` / `on_failure` / `reject`) is testable without a
 * broker. The worker carries it out: it publishes what the decision says, then settles.
 *
 * A `Retry` signal (or an error `autoretryFor` lists) retries while the task has retries left,
 * then fails with `MaxRetriesExceededError`; a `Retry` with options that are not valid (a NaN
 * countdown, an invalid Date) fails with `UsageError` instead of publishing anything. An error
 * that escaped the task, or a result that cannot be sent, fails it without retrying: those are
 * not errors the task chose to throw. A task whose pool process died fails with
 * `WorkerLostError`, or goes back to the broker when it sets `rejectOnWorkerLost`.
 */
export function decideOutcome(outcome: Outcome, facts: OutcomeFacts): Decision {
  switch (outcome.kind) {
    case 'not-registered':
      return {
        action: 'dead-letter',
        reason: `task "${outcome.taskName}" is not registered on this worker`,
        error: new TaskNotRegisteredError(outcome.taskName),
      };
    case 'expired':
      return { action: 'revoke', reason: 'expired' };
    case 'revoked':
      return { action: 'revoke', reason: 'revoked' };
    case 'terminated':
      return { action: 'revoke', reason: 'terminated', signal: outcome.signal };
    case 'returned':
      return { action: 'succeed', value: outcome.value };
    case 'result-rejected':
    case 'escaped':
    case 'timed-out':
      return { action: 'fail', error: outcome.error };
    case 'abandoned':
      return { action: 'hand-back' };
    case 'lost':
      // Celery's reject_on_worker_lost: the message goes back; else the loss is the task's failure.
      return facts.options?.rejectOnWorkerLost ? { action: 'requeue', reason: outcome.error.message } : { action: 'fail', error: outcome.error };
    case 'threw':
      return decideThrown(outcome.error, facts);
  }
}

function decideThrown(error: unknown, facts: OutcomeFacts): Decision {
  const { retry, autoretryFor } = facts.options ?? {};
  const asked = error instanceof Retry ? error : undefined;
  if (!asked && !matchesAutoretry(error, autoretryFor)) return { action: 'fail', error };
  if (asked) {
    const problems = retryOptionProblems(asked, facts.now);
    if (problems.length > 0) {
      return { action: 'fail', error: new UsageError(`task ${facts.taskName}[${facts.taskId}]: ctx.retry(): ${problems.join('; ')}`) };
    }
  }
  const cause = asked ? asked.cause : error;
  if (facts.retries >= maxRetries(retry, asked?.max)) {
    return { action: 'fail', error: new MaxRetriesExceededError(facts.taskName, facts.taskId, facts.retries, cause) };
  }
  const delayMs = asked?.eta
    ? asked.eta.getTime() - facts.now
    : asked?.countdown !== undefined
      ? asked.countdown * 1000
      : retryDelayMs(retry, facts.retries, facts.random);
  const due = Math.max(0, delayMs);
  return { action: 'retry', delayMs: due, retries: facts.retries + 1, reported: cause ?? asked ?? new Retry({ countdown: due / 1000 }) };
}
