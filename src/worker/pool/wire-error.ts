import { Retry } from '../../errors';
import { dumps, loads } from '../../protocol';

/**
 * What a task threw in a pool process, as it crosses to the worker: an error's name, message,
 * stack, `code`, class names and `cause`, so the result's `exc_type`, `exc_message` and
 * traceback read as they would in the async pool; a `Retry` with its options, so the worker
 * retries as it would have; anything else thrown as kombu JSON (or its text).
 */
export interface WireError {
  kind: 'error' | 'value';
  name?: string;
  message?: string;
  stack?: string;
  code?: string;
  /** The error's classes, most derived first, for `autoretryFor` classes matched by name. */
  classNames?: string[];
  /** Set for a `Retry` signal. */
  retry?: { countdown?: number; eta?: string; max?: number };
  cause?: WireError;
  /** For a thrown non-Error: kombu JSON of it. */
  json?: string;
  /** For a thrown non-Error that JSON cannot carry: its text. */
  text?: string;
}

/** Where a rebuilt error keeps the names of the classes it had in the pool process. */
const REMOTE_CLASSES = Symbol('warren.remoteClasses');

/** Causes followed at most this deep: a cycle or a very long chain must not blow up a message. */
const MAX_DEPTH = 8;

/** An error (or anything thrown) as it crosses from a pool process to the worker. */
export function toWireError(thrown: unknown, depth = 0): WireError {
  if (!(thrown instanceof Error)) {
    try {
      return { kind: 'value', json: dumps(thrown) };
    } catch {
      return { kind: 'value', text: String(thrown) };
    }
  }
  const classNames: string[] = [];
  for (let proto: unknown = Object.getPrototypeOf(thrown); proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    const name = (proto as { constructor?: { name?: unknown } }).constructor?.name;
    if (typeof name === 'string' && name !== '') classNames.push(name);
  }
  const code: unknown = (thrown as { code?: unknown }).code;
  const wire: WireError = { kind: 'error', name: thrown.name, message: thrown.message, stack: thrown.stack, classNames };
  if (typeof code === 'string') wire.code = code;
  if (thrown instanceof Retry) {
    wire.retry = { countdown: thrown.countdown, eta: thrown.eta?.toISOString(), max: thrown.max };
  }
  if (thrown.cause !== undefined && depth < MAX_DEPTH) wire.cause = toWireError(thrown.cause, depth + 1);
  return wire;
}

/**
 * The thrown value again, in the worker: a `Retry` as a `Retry` (with its options and cause); an
 * error as an `Error` with the same name, message, stack, code and cause (its classes by name,
 * see {@link remoteClassNames}); anything else as the value JSON gave back.
 */
export function fromWireError(wire: WireError): unknown {
  if (wire.kind === 'value') return wire.json !== undefined ? loads(wire.json) : wire.text;
  const cause = wire.cause === undefined ? undefined : fromWireError(wire.cause);
  if (wire.retry) {
    const { countdown, eta, max } = wire.retry;
    const retry = new Retry({ countdown, eta: eta === undefined ? undefined : new Date(eta), max, error: cause });
    if (wire.stack !== undefined) retry.stack = wire.stack;
    return retry;
  }
  const error = new Error(wire.message ?? '', cause === undefined ? undefined : { cause });
  Object.defineProperty(error, 'name', { value: wire.name ?? 'Error', writable: true, configurable: true });
  if (wire.stack !== undefined) error.stack = wire.stack;
  if (wire.code !== undefined) Object.defineProperty(error, 'code', { value: wire.code, writable: true, enumerable: true, configurable: true });
  Object.defineProperty(error, REMOTE_CLASSES, { value: Object.freeze([...(wire.classNames ?? [])]) });
  return error;
}

/** The class names an error rebuilt by {@link fromWireError} had in its pool process; empty for any other value. */
export function remoteClassNames(error: unknown): readonly string[] {
  if (typeof error !== 'object' || error === null) return [];
  return (error as { [REMOTE_CLASSES]?: readonly string[] })[REMOTE_CLASSES] ?? [];
}
