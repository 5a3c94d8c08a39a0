import { types } from 'node:util';
import { InvalidMessageError } from '../errors';
import { describeValue } from './describe-value';
import { formatIsoDatetime } from './iso-datetime';

/** A JSON value, plus the two leaves kombu JSON tags: Date and Buffer. */
export type JsonTree = null | boolean | number | string | Date | Buffer | JsonTree[] | { [key: string]: JsonTree };

/**
 * The value as JSON will carry it, following `JSON.stringify`'s rules (toJSON is called,
 * `undefined` is dropped from objects and becomes null in arrays, NaN and ±Infinity become
 * null) except that Dates and byte arrays stay as they are, for kombu's type tags. The
 * python repr of task arguments is computed from this same tree, so it shows what a Python
 * peer will decode.
 *
 * @param path - where the value sits (`args`, `kwargs`), for error messages.
 * @throws InvalidMessageError for what JSON cannot carry: bigint, function, symbol, Map, Set,
 * a circular structure, an invalid Date or one outside Python's years.
 */
export function toJsonTree(value: unknown, path: string): JsonTree {
  // Most task arguments are JSON already: then the value is its own tree, and checking that
  // allocates nothing, where the walk below copies every array and object (and builds a path
  // string for each item) on every sendTask. The tree is only read, never kept or changed.
  if (isJsonAlready(value, 0)) return value;
  return walk(value, path, new Set()) ?? null;
}

/** How deep `isJsonAlready` looks before it leaves the value to the walk (which finds cycles). */
const MAX_PLAIN_DEPTH = 64;

/**
 * Whether the walk would give back an equal value: strings, booleans, null, finite numbers other
 * than -0, and arrays (plain ones, without holes) and plain objects (without `toJSON`) of these.
 * Dates and byte arrays are left to the walk, which copies and checks them.
 */
function isJsonAlready(value: unknown, depth: number): value is JsonTree {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0);
    case 'object':
      break;
    default:
      return false;
  }
  if (value === null) return true;
  if (depth >= MAX_PLAIN_DEPTH) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === Array.prototype) {
    const array = value as unknown[];
    for (let i = 0; i < array.length; i += 1) {
      if (!(i in array) || !isJsonAlready(array[i], depth + 1)) return false;
    }
    return true;
  }
  if (proto !== Object.prototype && proto !== null) return false;
  const object = value as Record<string, unknown>;
  if (typeof object.toJSON === 'function') return false;
  for (const key in object) {
    if (!isJsonAlready(object[key], depth + 1)) return false;
  }
  return true;
}

function walk(value: unknown, path: string, ancestors: Set<object>): JsonTree | undefined {
  switch (typeof value) {
    case 'undefined':
      return undefined;
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) ? value + 0 : null; // + 0 turns -0 into 0
    case 'bigint':
    case 'function':
    case 'symbol':
      throw cannotCarry(path, describeValue(value));
  }
  if (value === null) return null;
  // util.types, not instanceof: a Date or byte array from another realm (vm, a test sandbox)
  // is one too. Both are rebuilt here so that later steps can use instanceof.
  if (types.isDate(value)) {
    const date = new Date(value.getTime());
    formatIsoDatetime(date, path);
    return date;
  }
  if (types.isUint8Array(value)) {
    return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  }
  if (types.isMap(value) || types.isSet(value)) throw cannotCarry(path, describeValue(value));

  const object = value as object;
  if (ancestors.has(object)) throw cannotCarry(path, 'a reference to an enclosing value (circular structure)');
  ancestors.add(object);
  try {
    if (Array.isArray(object)) {
      // Not map(), which skips holes: JSON carries a hole as null.
      const items: JsonTree[] = [];
      for (let index = 0; index < object.length; index += 1) items.push(walk(object[index], `${path}[${index}]`, ancestors) ?? null);
      return items;
    }
    const toJSON: unknown = (object as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') return walk(toJSON.call(object, ''), path, ancestors);
    const entries: [string, JsonTree][] = [];
    for (const [key, item] of Object.entries(object)) {
      const tree = walk(item, childPath(path, key), ancestors);
      if (tree !== undefined) entries.push([key, tree]);
    }
    // fromEntries defines own properties, so a "__proto__" key stays data.
    return Object.fromEntries(entries);
  } finally {
    ancestors.delete(object);
  }
}

function childPath(path: string, key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

function cannotCarry(path: string, found: string): InvalidMessageError {
  return new InvalidMessageError(`${path} cannot be sent as JSON (found ${found})`);
}
