import { types } from 'node:util';

/**
 * How a value reads in an error message, after "found": `string "abc"`, `number 1.5`,
 * `array of 2 elements`, `object`, `null`. Long strings are cut to keep log lines short.
 */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return `array of ${value.length} element${value.length === 1 ? '' : 's'}`;
  if (Buffer.isBuffer(value)) return `bytes (${value.length})`;
  if (types.isDate(value)) return 'Date';
  switch (typeof value) {
    case 'string':
      return `string ${JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value)}`;
    case 'number':
    case 'boolean':
    case 'bigint':
      return `${typeof value} ${String(value)}`;
    case 'object': {
      const name: unknown = (value as { constructor?: { name?: unknown } }).constructor?.name;
      return typeof name === 'string' && name !== '' && name !== 'Object' ? name : 'object';
    }
    default:
      return typeof value;
  }
}

/** A text cut to at most `max` characters (ending in `...` when cut), for ids and names from untrusted messages. */
export function clip(text: string, max = 100): string {
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}

/**
 * True for `{}` literals and `Object.create(null)`: what JSON objects and Python dicts become.
 * An object from another realm (vm, Jest's sandbox, structuredClone) counts too.
 */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === null || (Object.getPrototypeOf(proto) === null && Object.prototype.toString.call(value) === '[object Object]');
}

/** The text of a thrown non-Error: strings as they are, plain objects as JSON, the rest via String(). */
export function stringForm(value: unknown): string {
  if (typeof value === 'string') return value;
  if (isPlainObject(value) || Array.isArray(value)) {
    try {
      return JSON.stringify(value) ?? String(value);
    } catch {
      return String(value);
    }
  }
  return String(value);
}
