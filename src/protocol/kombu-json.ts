import { isUtf8 } from 'node:buffer';
import { InvalidMessageError } from '../errors';
import { describeValue, isPlainObject } from './describe-value';
import { formatIsoDatetime, parseIsoDatetime } from './iso-datetime';
import { type JsonTree, toJsonTree } from './json-tree';

const KOMBU_TYPES = ['datetime', 'date', 'time', 'decimal', 'uuid', 'bytes', 'base64'] as const;

/**
 * How `Date` and `Buffer` values are written (reading accepts both):
 * - `tagged`: kombu ≥ 5.3's `{"__type__": "datetime", "__value__": "…"}` tags, which such a peer
 *   decodes back to a datetime or bytes (Celery 5.3 and later);
 * - `plain`: what kombu 5.2 writes for a datetime, an ISO string ending in `Z`
 *   (`2026-11-23T12:52:21.358000Z`), and bytes as a base64 string (kombu 5.2's JSON has no
 *   bytes at all), so that a Celery 5.2 peer gets strings, not two-key dicts.
 */
export type JsonDates = 'tagged' | 'plain';

/** The values {@link JsonDates} takes. */
export const JSON_DATES: readonly JsonDates[] = ['tagged', 'plain'];

/**
 * Serializes a value to kombu JSON. With `tagged` dates (the default) Dates become `datetime`
 * tags and byte arrays `bytes` or `base64` tags (as kombu picks: `bytes` when the bytes are
 * valid UTF-8); with `plain` dates they become ISO strings and base64 strings. Everything else
 * follows `JSON.stringify`.
 *
 * @throws InvalidMessageError for what JSON cannot carry (bigint, function, Map, cycles…).
 */
export function dumps(value: unknown, dates: JsonDates = 'tagged'): string {
  return stringifyJsonTree(toJsonTree(value, 'value'), dates);
}

/** {@link dumps} for a value already passed through `toJsonTree`. */
export function stringifyJsonTree(tree: JsonTree, dates: JsonDates = 'tagged'): string {
  // Most messages hold no Date and no Buffer: JSON.stringify without a replacer writes the same
  // text several times faster (a replacer is a call per value).
  if (!hasTaggedLeaf(tree)) return JSON.stringify(tree);
  // The replacer reads `this[key]`: by the time it runs, Date and Buffer have been through toJSON.
  return JSON.stringify(tree, function (this: Record<string, unknown>, key: string, value: unknown) {
    const original = this[key];
    return original instanceof Date || Buffer.isBuffer(original) ? leaf(original, dates) : value;
  });
}

/** Whether the tree holds a Date or a Buffer anywhere: a value kombu JSON writes as a tag. */
function hasTaggedLeaf(tree: JsonTree): boolean {
  if (tree === null || typeof tree !== 'object') return false;
  if (tree instanceof Date || Buffer.isBuffer(tree)) return true;
  if (Array.isArray(tree)) {
    for (const item of tree) if (hasTaggedLeaf(item)) return true;
    return false;
  }
  for (const key in tree) if (Object.hasOwn(tree, key) && hasTaggedLeaf(tree[key])) return true;
  return false;
}

/**
 * {@link stringifyJsonTree} as Python's `json.dumps` writes it (kombu's `dumps` with its
 * defaults): `", "` and `": "` as separators and every character outside ASCII escaped as
 * `\uXXXX`, so that what warren stores reads byte for byte as what a Python worker stores.
 */
export function stringifyPythonStyle(tree: JsonTree, dates: JsonDates = 'tagged'): string {
  const write = (node: JsonTree): string => {
    if (node === null) return 'null';
    if (node instanceof Date || Buffer.isBuffer(node)) return write(leaf(node, dates));
    if (typeof node === 'string') return asciiJsonString(node);
    if (typeof node !== 'object') return JSON.stringify(node);
    if (Array.isArray(node)) return `[${node.map(write).join(', ')}]`;
    return `{${Object.entries(node)
      .map(([key, item]) => `${asciiJsonString(key)}: ${write(item)}`)
      .join(', ')}}`;
  };
  return write(tree);
}

/** The tree with its Dates and Buffers as `plain` writes them: strings. */
export function plainJsonTree(tree: JsonTree): JsonTree {
  if (tree instanceof Date || Buffer.isBuffer(tree)) return leaf(tree, 'plain');
  if (Array.isArray(tree)) return tree.map(plainJsonTree);
  if (tree !== null && typeof tree === 'object') return Object.fromEntries(Object.entries(tree).map(([key, item]) => [key, plainJsonTree(item)]));
  return tree;
}

/** A Date or Buffer as `dates` says to write it. */
function leaf(value: Date | Buffer, dates: JsonDates): JsonTree {
  if (value instanceof Date) {
    const iso = formatIsoDatetime(value);
    return dates === 'tagged' ? tag('datetime', iso) : iso.replace(/\+00:00$/, 'Z');
  }
  if (dates === 'plain') return value.toString('base64');
  return isUtf8(value) ? tag('bytes', value.toString('utf8')) : tag('base64', value.toString('base64'));
}

/** JSON.stringify of a string with every non-ASCII code unit escaped, as Python's `ensure_ascii`. */
function asciiJsonString(text: string): string {
  return JSON.stringify(text).replace(/[\u0080-\uffff]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * Parses kombu JSON (kombu ≥ 5.3, `kombu/utils/json.py`): JSON in which an object of exactly
 * the two keys `__type__` and `__value__` stands for a Python value.
 *
 * | `__type__` | `__value__` written by Python      | `loads` gives             | `dumps` writes it for        |
 * |------------|------------------------------------|---------------------------|------------------------------|
 * | datetime   | `isoformat()`                      | Date (no offset = UTC)    | Date                         |
 * | date       | `2026-11-23`                       | Date, midnight UTC        | –                            |
 * | time       | `12:30:00.500000`                  | string, as sent           | –                            |
 * | decimal    | `str(d)`, e.g. `"1.10"`            | string (a float would lose digits) | –                   |
 * | uuid       | `{"hex": "…32 hex…", "version": 4}` | string `xxxxxxxx-xxxx-…`  | –                            |
 * | bytes      | the bytes as UTF-8 text            | Buffer                    | Buffer that is valid UTF-8   |
 * | base64     | base64 of the bytes                | Buffer                    | any other Buffer/Uint8Array  |
 *
 * kombu before 5.3 (Debian's 5.2.4) neither writes nor reads these tags: it writes datetimes
 * as plain ISO strings, and a tagged value reaches its tasks as a two-key dict.
 *
 * Numbers are JS numbers: integers beyond 2^53 lose precision, and Python's `NaN`/`Infinity`
 * extensions are not JSON, so text containing them fails to parse.
 *
 * @throws SyntaxError for text that is not JSON.
 * @throws InvalidMessageError for a tag of an unknown type or with a malformed value.
 */
export function loads(text: string): unknown {
  // No tag can be in a text without "__type__" spelled out (or written with a \u escape): then
  // JSON.parse needs no reviver, which is a call per value. Not for deep nesting, which the
  // reviver refuses (a RangeError: what reads the value next would recurse as deep).
  if (!text.includes('__type__') && !text.includes('\\u') && nestingAtMost(text, SHALLOW)) return JSON.parse(text);
  return JSON.parse(text, (_key, value: unknown) => (isTag(value) ? untag(value.__type__, value.__value__) : value));
}

/** Nesting that the reviver (and every reader after it) walks without nearing the stack's end. */
const SHALLOW = 500;

/** Whether brackets and braces nest at most `limit` deep (those inside strings count too: it errs on the deep side). */
function nestingAtMost(text: string, limit: number): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    if (code === 0x5b || code === 0x7b) {
      depth += 1;
      if (depth > limit) return false;
    } else if (code === 0x5d || code === 0x7d) {
      depth -= 1;
    }
  }
  return true;
}

function tag(type: (typeof KOMBU_TYPES)[number], value: string): { __type__: string; __value__: string } {
  return { __type__: type, __value__: value };
}

function isTag(value: unknown): value is { __type__: unknown; __value__: unknown } {
  if (!isPlainObject(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 2 && '__type__' in value && '__value__' in value;
}

function untag(type: unknown, value: unknown): unknown {
  const bad = (expected: string): InvalidMessageError =>
    new InvalidMessageError(`kombu JSON ${String(type)} value must be ${expected} (found ${describeValue(value)})`);

  switch (type) {
    case 'datetime':
    case 'date': {
      const date = typeof value === 'string' ? parseIsoDatetime(value) : null;
      if (!date) throw bad('an ISO 8601 date');
      return date;
    }
    case 'time':
    case 'decimal':
      if (typeof value !== 'string') throw bad('a string');
      return value;
    case 'uuid': {
      const hex = isPlainObject(value) ? value.hex : value;
      const digits = typeof hex === 'string' ? hex.replace(/[-{}]/g, '').toLowerCase() : '';
      if (!/^[0-9a-f]{32}$/.test(digits)) throw bad('{"hex": <32 hex digits>, "version": n}');
      return `${digits.slice(0, 8)}-${digits.slice(8, 12)}-${digits.slice(12, 16)}-${digits.slice(16, 20)}-${digits.slice(20)}`;
    }
    case 'bytes':
      if (typeof value !== 'string') throw bad('a string');
      return Buffer.from(value, 'utf8');
    case 'base64':
      if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) throw bad('a base64 string');
      return Buffer.from(value, 'base64');
    default:
      throw new InvalidMessageError(
        `kombu JSON type ${JSON.stringify(type)} is not supported (known types: ${KOMBU_TYPES.join(', ')})`,
      );
  }
}
