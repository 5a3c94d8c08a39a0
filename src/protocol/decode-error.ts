import { isPlainObject } from './describe-value';
import { pythonRepr } from './python-repr';

/** An exception read from a result: enough to rebuild or show it. */
export interface DecodedError {
  /** `exc_type`: `ValueError`, `NotRegistered`, a JS error name. */
  type: string;
  /** `exc_module`, or undefined when the producer sent none (as `TaskFailedError.remoteModule`). */
  module: string | undefined;
  /** The message as Python's `str(exc)` shows it. */
  message: string;
}

/**
 * Reads an encoded exception from a FAILURE/RETRY/REVOKED result. `exc_message` may be a list
 * (`exc.args`, Celery ≥ 4) or a string (older producers). One argument reads as Python's
 * `str(exc)` would (`'bad'` → `bad`, `5` → `5`), several as the tuple repr `('a', 1)`.
 * A result that is not an encoded exception (celery.node sends FAILURE with `null`) reads as
 * type `Exception` with its text, or an empty message for null.
 */
export function decodeError(result: unknown): DecodedError {
  if (isPlainObject(result) && typeof result.exc_type === 'string') {
    return {
      type: result.exc_type,
      module: typeof result.exc_module === 'string' ? result.exc_module : undefined,
      message: messageOf(result.exc_message),
    };
  }
  return { type: 'Exception', module: undefined, message: messageOf(result) };
}

function messageOf(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (!Array.isArray(value)) return strOf(value);
  if (value.length === 0) return '';
  if (value.length === 1) return strOf(value[0]);
  return `(${value.map((item: unknown) => pythonRepr(item)).join(', ')})`;
}

/** Python's `str()` of one decoded JSON value: strings bare, the rest as repr. */
function strOf(value: unknown): string {
  return typeof value === 'string' ? value : pythonRepr(value);
}
