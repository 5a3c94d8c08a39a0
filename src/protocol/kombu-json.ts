import { isUtf8 } from 'node:buffer';
import { InvalidMessageError } from '../errors';
import { describeValue, isPlainObject } from './describe-value';
import { formatIsoDatetime, parseIsoDatetime } from './iso-datetime';
import { type JsonTree, toJsonTree } from './json-tree';

const KOMBU_TYPES = ['datetime', 'date', 'time', 'decimal', 'uuid', 'bytes', 'base64'] as const;

/**
 * Serializes a value to kombu JSON. Dates become `datetime` tags, byte arrays `bytes` or
 * `base64` tags (as kombu picks: `bytes` when the bytes are valid UTF-8); everything else
 * follows `JSON.stringify`.
 *
 * @throws InvalidMessageError for what JSON cannot carry (bigint, function, Map, cycles…).
 */
export function dumps(value: unknown): string {
  return stringifyJsonTree(toJsonTree(value, 'value'));
}

/** {@link dumps} for a value already passed through `toJsonTree`. */
export function stringifyJsonTree(tree: JsonTree): string {
  // The replacer reads `this[key]`: by the time it runs, Date and Buffer have been through toJSON.
  return JSON.stringify(tree, function (this: Record<string, unknown>, key: string, value: unknown) {
    const original = this[key];
    if (original instanceof Date) return tag('datetime', formatIsoDatetime(original));
    if (Buffer.isBuffer(original)) {
      return isUtf8(original) ? tag('bytes', original.toString('utf8')) : tag('base64', original.toString('base64'));
    }
    return value;
  });
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
  return JSON.parse(text, (_key, value: unknown) => (isTag(value) ? untag(value.__type__, value.__value__) : value));
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
