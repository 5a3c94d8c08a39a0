import { TaskNotRegisteredError } from '../errors';
import { stringForm } from './describe-value';

/** An exception as Celery's JSON result backend carries it in a result's `result` field. */
export interface EncodedError {
  /** Class name; Python looks it up in `exc_module`. */
  exc_type: string;
  /** The exception's `args`; warren sends `[message]`. */
  exc_message: unknown[];
  /** Module holding the class: `builtins`, `celery.exceptions`, or {@link JS_ERROR_MODULE}. */
  exc_module: string;
}

/**
 * `exc_module` for JS errors that have no Python counterpart. A Celery client looks the
 * module up in `sys.modules` only (it never imports), and a name with a hyphen is one that
 * no Python import can have put there; the lookup fails and Celery makes a class named
 * `exc_type` in `celery.exceptions`, so `ValidationError('bad input')` is raised as such.
 * A plain name like `warren` could one day collide with a real Python package.
 */
export const JS_ERROR_MODULE = 'warren-js';

/** Error names that have a Python class of the same meaning, and that class. */
const PYTHON_CLASSES: ReadonlyMap<string, { exc_type: string; exc_module: string }> = new Map([
  ['Error', { exc_type: 'Exception', exc_module: 'builtins' }],
  ['TypeError', { exc_type: 'TypeError', exc_module: 'builtins' }],
  ['RangeError', { exc_type: 'ValueError', exc_module: 'builtins' }],
  // warren's TaskRevokedError, reported for revoked and expired tasks as a Python worker does.
  ['TaskRevokedError', { exc_type: 'TaskRevokedError', exc_module: 'celery.exceptions' }],
  // warren's retry signal and its give-up error: Celery's Retry and MaxRetriesExceededError.
  ['Retry', { exc_type: 'Retry', exc_module: 'celery.exceptions' }],
  ['MaxRetriesExceededError', { exc_type: 'MaxRetriesExceededError', exc_module: 'celery.exceptions' }],
  // warren's time limits: Celery's (billiard's, re-exported by celery.exceptions).
  ['TimeLimitExceededError', { exc_type: 'TimeLimitExceeded', exc_module: 'celery.exceptions' }],
  ['SoftTimeLimitExceededError', { exc_type: 'SoftTimeLimitExceeded', exc_module: 'celery.exceptions' }],
  // A pool process that died mid-task: Celery's (billiard's, re-exported by celery.exceptions).
  ['WorkerLostError', { exc_type: 'WorkerLostError', exc_module: 'celery.exceptions' }],
  // A result JSON cannot carry: kombu's, as a Python worker reports it.
  ['EncodeError', { exc_type: 'EncodeError', exc_module: 'kombu.exceptions' }],
]);

/**
 * Encodes what a task threw so a Python client rebuilds a sensible exception:
 * `Error` → `builtins.Exception`, `TypeError` → `builtins.TypeError`, `RangeError` →
 * `builtins.ValueError`; warren's `TaskNotRegisteredError`, `TaskRevokedError`, `Retry`,
 * `MaxRetriesExceededError`, `TimeLimitExceededError`, `SoftTimeLimitExceededError` and `WorkerLostError` →
 * `celery.exceptions.NotRegistered` / `.TaskRevokedError` / `.Retry` / `.MaxRetriesExceededError` /
 * `.TimeLimitExceeded` / `.SoftTimeLimitExceeded` / `.WorkerLostError` (what a Python worker reports); `EncodeError`
 * → `kombu.exceptions.EncodeError`;
 * any other error → its `name` in {@link JS_ERROR_MODULE}. A thrown non-Error (a string, an
 * object) becomes `builtins.Exception` with its text.
 */
export function encodeError(err: unknown): EncodedError {
  if (err instanceof TaskNotRegisteredError) {
    return { exc_type: 'NotRegistered', exc_message: [err.taskName], exc_module: 'celery.exceptions' };
  }
  if (!isErrorLike(err)) return { exc_type: 'Exception', exc_message: [stringForm(err)], exc_module: 'builtins' };
  const name = err.name === '' ? 'Error' : err.name;
  const python = PYTHON_CLASSES.get(name) ?? { exc_type: name, exc_module: JS_ERROR_MODULE };
  return { exc_type: python.exc_type, exc_message: [err.message], exc_module: python.exc_module };
}

/**
 * The JS stack of what a task threw, for a result's `traceback`; each `cause` follows after
 * a `Caused by:` line. A thrown non-Error has no stack, so its text stands alone.
 */
export function formatTraceback(err: unknown): string {
  const parts: string[] = [];
  const seen = new Set<unknown>();
  let current: unknown = err;
  while (current !== undefined && !seen.has(current)) {
    seen.add(current);
    if (!isErrorLike(current)) {
      parts.push(`non-error value thrown: ${stringForm(current)}`);
      break;
    }
    parts.push(current.stack || `${current.name}: ${current.message}`);
    current = current.cause;
  }
  return parts.join('\nCaused by: ');
}

interface ErrorLike {
  name: string;
  message: string;
  stack?: string;
  cause?: unknown;
}

/** An Error, or an error from another realm (vm, worker thread) that failed `instanceof`. */
function isErrorLike(value: unknown): value is ErrorLike {
  if (typeof value !== 'object' || value === null) return false;
  const { name, message, stack } = value as Partial<Record<'name' | 'message' | 'stack', unknown>>;
  return typeof name === 'string' && typeof message === 'string' && (stack === undefined || typeof stack === 'string');
}
