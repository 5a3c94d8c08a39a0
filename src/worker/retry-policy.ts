import { UsageError } from '../errors';
import { remoteClassNames } from './pool/wire-error';
import { parseRateLimit } from './rate-limits';
import type { ErrorClass, RetryOptions, RetryPolicy, TaskOptions } from './task-types';

/** Celery's `max_retries`. */
export const DEFAULT_MAX_RETRIES = 3;
/** Celery's `default_retry_delay`, for fixed backoff. */
const DEFAULT_FIXED_DELAY_S = 180;
/** Celery's factor for `retry_backoff=True`. */
const DEFAULT_EXPONENTIAL_DELAY_S = 1;
/** Celery's `retry_backoff_max`. */
const DEFAULT_MAX_DELAY_S = 600;

/** The retries a task may make: the call's `max`, else the policy's, else 3. */
export function maxRetries(policy: RetryPolicy | undefined, override?: number): number {
  return override ?? policy?.max ?? DEFAULT_MAX_RETRIES;
}

/**
 * Milliseconds before retry number `retries + 1` (a task that ran `retries` times before):
 * `delay` with fixed backoff; `delay * 2^retries`, at most `maxDelay`, with exponential backoff.
 * Jitter spreads it over [half, all] of that. `random` returns [0, 1), as Math.random does.
 */
export function retryDelayMs(policy: RetryPolicy | undefined, retries: number, random: () => number = Math.random): number {
  const exponential = policy?.backoff === 'exponential';
  const base = policy?.delay ?? (exponential ? DEFAULT_EXPONENTIAL_DELAY_S : DEFAULT_FIXED_DELAY_S);
  const seconds = exponential ? Math.min(policy?.maxDelay ?? DEFAULT_MAX_DELAY_S, base * 2 ** retries) : base;
  const spread = policy?.jitter ? 0.5 + random() / 2 : 1;
  return Math.round(seconds * spread * 1000);
}

/** Whether `error` is one `autoretryFor` lists, by class (`instanceof`) or by name (its own or a class's). */
export function matchesAutoretry(error: unknown, autoretryFor: ReadonlyArray<string | ErrorClass> | undefined): boolean {
  if (!autoretryFor || autoretryFor.length === 0 || typeof error !== 'object' || error === null) return false;
  const names = new Set<string>(remoteClassNames(error));
  if (error instanceof Error) names.add(error.name);
  for (let proto: unknown = Object.getPrototypeOf(error); proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    const ctor = (proto as { constructor?: { name?: unknown } }).constructor;
    if (typeof ctor?.name === 'string') names.add(ctor.name);
  }
  // An error thrown in a pool process arrives rebuilt: its classes are known by name only.
  const remote = remoteClassNames(error);
  return autoretryFor.some((entry) => (typeof entry === 'string' ? names.has(entry) : error instanceof entry || (remote.length > 0 && remote.includes(entry.name))));
}

/**
 * Checks a task's retry and time-limit options when it is registered, so a mistake shows at
 * start-up rather than at the first failure.
 * @throws UsageError naming the task and the option.
 */
export function checkTaskOptions(name: string, options: TaskOptions): void {
  const problems: string[] = [];
  const seconds = (label: string, value: unknown, allowZero: boolean): void => {
    if (value === undefined) return;
    if (typeof value !== 'number' || Number.isNaN(value) || value < 0 || (!allowZero && value === 0) || !Number.isFinite(value)) {
      problems.push(`${label} must be a number of seconds ${allowZero ? '>= 0' : 'above 0'} (got ${String(value)})`);
    }
  };
  const { retry } = options;
  if (retry !== undefined) {
    if (retry.max !== undefined && !(retry.max === Infinity || (Number.isInteger(retry.max) && retry.max >= 0))) {
      problems.push(`retry.max must be a whole number >= 0 or Infinity (got ${String(retry.max)})`);
    }
    seconds('retry.delay', retry.delay, true);
    seconds('retry.maxDelay', retry.maxDelay, true);
    if (retry.backoff !== undefined && retry.backoff !== 'fixed' && retry.backoff !== 'exponential') {
      problems.push(`retry.backoff must be 'fixed' or 'exponential' (got ${String(retry.backoff)})`);
    }
  }
  if (options.bind !== undefined && typeof options.bind !== 'boolean') problems.push(`bind must be true or false (got ${String(options.bind)})`);
  if (options.rejectOnWorkerLost !== undefined && typeof options.rejectOnWorkerLost !== 'boolean') {
    problems.push(`rejectOnWorkerLost must be true or false (got ${String(options.rejectOnWorkerLost)})`);
  }
  if (options.params !== undefined) {
    const params: unknown = options.params;
    if (!Array.isArray(params) || params.some((p) => typeof p !== 'string' || p === '')) {
      problems.push('params must be a list of parameter names');
    } else {
      const seen = new Set<string>();
      for (const p of params as string[]) {
        if (seen.has(p)) problems.push(`params names "${p}" twice`);
        seen.add(p);
      }
    }
  }
  seconds('timeLimit', options.timeLimit, false);
  seconds('softTimeLimit', options.softTimeLimit, false);
  if (options.rateLimit !== undefined) {
    try {
      parseRateLimit(options.rateLimit);
    } catch (err) {
      problems.push(`rateLimit: ${(err as Error).message}`);
    }
  }
  if (options.autoretryFor !== undefined) {
    const list: unknown = options.autoretryFor;
    if (!Array.isArray(list) || list.some((entry) => typeof entry !== 'string' && typeof entry !== 'function')) {
      problems.push('autoretryFor must be a list of error classes or error names');
    }
  }
  if (problems.length > 0) throw new UsageError(`task "${name}": ${problems.join('; ')}`);
}

/** The latest time a retry may be due: what Python's datetime (and the eta header) can carry. */
const LATEST_ETA_MS = Date.UTC(9999, 11, 31, 23, 59, 59);

/**
 * What is wrong with the options of `ctx.retry()` (or a `Retry` thrown by hand), as `sendTask`
 * checks its own: `countdown` a finite number of seconds >= 0, `eta` a valid Date, not both,
 * `max` a whole number >= 0 or Infinity, and the next attempt due before the year 10000.
 * Empty when they are fine.
 */
export function retryOptionProblems(options: Pick<RetryOptions, 'countdown' | 'eta' | 'max'>, now: number = Date.now()): string[] {
  const problems: string[] = [];
  const { countdown, eta, max } = options;
  if (countdown !== undefined && eta !== undefined) problems.push('give countdown or eta, not both');
  if (countdown !== undefined) {
    if (typeof countdown !== 'number' || !Number.isFinite(countdown) || countdown < 0) {
      problems.push(`countdown must be a number of seconds >= 0 (got ${String(countdown)})`);
    } else if (now + countdown * 1000 > LATEST_ETA_MS) {
      problems.push(`countdown ${countdown} puts the next attempt after the year 9999`);
    }
  }
  if (eta !== undefined) {
    if (!(eta instanceof Date) || Number.isNaN(eta.getTime())) {
      problems.push(`eta must be a valid Date (got ${String(eta)})`);
    } else if (eta.getTime() > LATEST_ETA_MS) {
      problems.push(`eta must be before the year 10000 (got ${eta.toISOString()})`);
    }
  }
  if (max !== undefined && !(max === Infinity || (typeof max === 'number' && Number.isInteger(max) && max >= 0))) {
    problems.push(`max must be a whole number >= 0 or Infinity (got ${String(max)})`);
  }
  return problems;
}
