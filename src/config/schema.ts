/**
 * A small schema toolkit for the definitions files: each schema checks one value, converts
 * it (durations to milliseconds, dates to `Date`) and reports every problem it finds instead
 * of stopping at the first. Messages follow one pattern: what was found, what is wrong,
 * then `(expected ...)`.
 */
import type { DefinitionProblem } from '../errors';
import { childPath, itemPath } from './problem-path';

/** The file being checked and the list its problems go to. */
export interface CheckContext {
  readonly file: string;
  readonly problems: DefinitionProblem[];
}

export interface Schema<T> {
  /** What a valid value looks like: the `(expected ...)` part of a message. */
  readonly expected: string;
  /**
   * The value, converted; or undefined after reporting the problems found at or below `path`.
   * Only called for values that are present.
   */
  check(value: unknown, path: string, context: CheckContext): T | undefined;
}

/** A value together with the file and path it came from, so later checks can point at it. */
export interface Located<T> {
  readonly value: T;
  readonly file: string;
  readonly path: string;
}

/** An entry of a mapping whose keys are names (routes, schedule), in file order. */
export interface Keyed<T> extends Located<T> {
  readonly key: string;
}

/** Records a problem and returns undefined, so a failing check can `return report(...)`. */
export function report(context: CheckContext, path: string, message: string): undefined {
  context.problems.push({ file: context.file, path, message });
  return undefined;
}

/** How a found value is shown in a message: strings quoted, collections by kind. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return 'a list';
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'an invalid date' : value.toISOString();
  if (typeof value === 'object' && value !== null) return 'a mapping';
  return String(value);
}

export function isMapping(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/** Counts the problems a piece of checking adds, to tell whether a value came through whole. */
export function problemMark(context: CheckContext): () => boolean {
  const before = context.problems.length;
  return () => context.problems.length === before;
}

/** A string; empty only if `allowEmpty`. */
export function text(expected: string, options: { allowEmpty?: boolean } = {}): Schema<string> {
  return {
    expected,
    check(value, path, context) {
      if (typeof value !== 'string') return report(context, path, `${describeValue(value)} is not a string (expected ${expected})`);
      if (value === '' && !options.allowEmpty) return report(context, path, `"" is empty (expected ${expected})`);
      return value;
    },
  };
}

export const boolean: Schema<boolean> = {
  expected: 'true or false',
  check(value, path, context) {
    if (typeof value === 'boolean') return value;
    return report(context, path, `${describeValue(value)} is not a boolean (expected true or false)`);
  },
};

/** An integer from `min` to `max` (inclusive); no upper bound when `max` is omitted. */
export function integer(min: number, max?: number): Schema<number> {
  const expected = max === undefined ? `an integer >= ${min}` : `an integer from ${min} to ${max}`;
  return {
    expected,
    check(value, path, context) {
      if (typeof value !== 'number' || !Number.isInteger(value)) {
        return report(context, path, `${describeValue(value)} is not an integer (expected ${expected})`);
      }
      if (value < min || (max !== undefined && value > max)) {
        return report(context, path, `${value} is out of range (expected ${expected})`);
      }
      return value;
    },
  };
}

/** One of a few words: `"quorom" is not a queue type (expected one of classic, quorum)`. */
export function oneOf<T extends string>(noun: string, values: readonly T[]): Schema<T> {
  const expected = `one of ${values.join(', ')}`;
  return {
    expected,
    check(value, path, context) {
      if ((values as readonly unknown[]).includes(value)) return value as T;
      return report(context, path, `${describeValue(value)} is not ${noun} (expected ${expected})`);
    },
  };
}

/** A list of anything (task arguments), copied so the result never shares the caller's objects. */
export function anyList(expected: string): Schema<unknown[]> {
  return {
    expected,
    check(value, path, context) {
      if (!Array.isArray(value)) return report(context, path, `${describeValue(value)} is not a list (expected ${expected})`);
      return structuredClone(value);
    },
  };
}

/** A mapping of anything (keyword arguments, raw `x-` arguments), copied. */
export function anyMapping(expected: string): Schema<Record<string, unknown>> {
  return {
    expected,
    check(value, path, context) {
      if (!isMapping(value)) return report(context, path, `${describeValue(value)} is not a mapping (expected ${expected})`);
      return structuredClone(value);
    },
  };
}

/** A list whose items must all pass; one broken item breaks the list. */
export function listOf<T>(item: Schema<T>, expected: string): Schema<T[]> {
  return {
    expected,
    check(value, path, context) {
      if (!Array.isArray(value)) return report(context, path, `${describeValue(value)} is not a list (expected ${expected})`);
      const whole = problemMark(context);
      const items = value.map((element, index) => item.check(element, itemPath(path, index), context));
      return whole() ? (items as T[]) : undefined;
    },
  };
}

/** A list of declarations: the items that pass are kept, each with where it came from. */
export function locatedList<T>(item: Schema<T>, expected: string): Schema<Array<Located<T>>> {
  return {
    expected,
    check(value, path, context) {
      if (!Array.isArray(value)) return report(context, path, `${describeValue(value)} is not a list (expected ${expected})`);
      const kept: Array<Located<T>> = [];
      value.forEach((element, index) => {
        const at = itemPath(path, index);
        const checked = item.check(element, at, context);
        if (checked !== undefined) kept.push({ value: checked, file: context.file, path: at });
      });
      return kept;
    },
  };
}

/**
 * A mapping from names to entries, in file order: the entries that pass are kept.
 * `keyProblem` may refuse a key (it returns the message).
 */
export function keyedMap<T>(
  entry: Schema<T>,
  expected: string,
  keyProblem: (key: string) => string | undefined = () => undefined,
): Schema<Array<Keyed<T>>> {
  return {
    expected,
    check(value, path, context) {
      if (!isMapping(value)) return report(context, path, `${describeValue(value)} is not a mapping (expected ${expected})`);
      const kept: Array<Keyed<T>> = [];
      for (const [key, element] of Object.entries(value)) {
        const at = childPath(path, key);
        const refused = keyProblem(key);
        if (refused !== undefined) report(context, at, refused);
        const checked = element === undefined ? undefined : entry.check(element, at, context);
        if (refused === undefined && checked !== undefined) kept.push({ key, value: checked, file: context.file, path: at });
      }
      return kept;
    },
  };
}

/** One key of an object schema. */
export interface Field<T> {
  readonly schema: Schema<T>;
  readonly required: boolean;
}

export function required<T>(schema: Schema<T>): Field<T> {
  return { schema, required: true };
}

export function optional<T>(schema: Schema<T>): Field<T> {
  return { schema, required: false };
}

/** The table of an object schema: one field per key of `T`. */
export type Fields<T> = { readonly [K in keyof T]-?: Field<Exclude<T[K], undefined>> };

export interface ObjectOptions<T> {
  /** Checks between keys (one of two, one needs another), run once every key passed. */
  readonly refine?: (value: T, path: string, context: CheckContext) => void;
  /**
   * Keep the keys that passed even when others did not. For the document itself, whose
   * sections are independent; an item with a broken key is dropped instead, so that
   * nothing refers from it.
   */
  readonly partial?: boolean;
}

/**
 * A mapping with known keys. Unknown keys are problems; so are missing required keys.
 * A key whose value is `null` (YAML's empty value) counts as absent unless it is required.
 */
export function object<T extends object>(expected: string, fields: Fields<T>, options: ObjectOptions<T> = {}): Schema<T> {
  const table = fields as unknown as Readonly<Record<string, Field<unknown>>>;
  const known = Object.keys(table);
  return {
    expected,
    check(value, path, context) {
      if (!isMapping(value)) return report(context, path, `${describeValue(value)} is not a mapping (expected ${expected})`);
      const whole = problemMark(context);
      const result: Record<string, unknown> = {};
      for (const [key, element] of Object.entries(value)) {
        const at = childPath(path, key);
        const field = Object.hasOwn(table, key) ? table[key] : undefined;
        if (field === undefined) report(context, at, `unknown key (expected one of ${known.join(', ')})`);
        else if (element === undefined || (element === null && !field.required)) continue;
        else result[key] = field.schema.check(element, at, context);
      }
      for (const key of known) {
        if (table[key].required && value[key] === undefined) {
          report(context, childPath(path, key), `required key is missing (expected ${table[key].schema.expected})`);
        }
      }
      for (const key of Object.keys(result)) if (result[key] === undefined) delete result[key];
      if (whole()) options.refine?.(result as T, path, context);
      return whole() || options.partial ? (result as T) : undefined;
    },
  };
}
