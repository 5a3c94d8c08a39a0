import { types } from 'node:util';
import { clip, describeValue, isPlainObject } from './describe-value';
import { parseIsoDatetime } from './iso-datetime';
import type { SignatureDict, TaskEmbed, TimeLimit } from './task-message';

// Readers shared by the encoders and decoders. Each checks one field, appends a problem
// ("retries must be …, found …") instead of throwing so that a message reports every bad field
// at once, and returns a placeholder when the value is bad; callers throw if any problem was
// recorded, so placeholders never escape.

function problem(problems: string[], name: string, expected: string, value: unknown): void {
  problems.push(`${name} must be ${expected} (found ${describeValue(value)})`);
}

/** A string that must be there and not be empty. */
export function requiredString(problems: string[], name: string, value: unknown): string {
  if (typeof value === 'string' && value !== '') return value;
  problem(problems, name, 'a non-empty string', value);
  return '';
}

/** A string, or null when null/absent. */
export function optionalString(problems: string[], name: string, value: unknown): string | null {
  if (value === undefined || value === null || typeof value === 'string') return value ?? null;
  problem(problems, name, 'a string or null', value);
  return null;
}

/** An integer ≥ 0, or `fallback` when null/absent (null fallback = optional). */
export function nonNegativeInteger<F extends number | null>(
  problems: string[],
  name: string,
  value: unknown,
  fallback: F,
): number | F {
  if (value === undefined || value === null) return fallback;
  if (Number.isSafeInteger(value) && (value as number) >= 0) return value as number;
  problem(problems, name, fallback === null ? 'a non-negative integer or null' : 'a non-negative integer', value);
  return fallback;
}

/** A boolean, false when null/absent. */
export function optionalBoolean(problems: string[], name: string, value: unknown): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value === 'boolean') return value;
  problem(problems, name, 'a boolean', value);
  return false;
}

/** An ISO 8601 date string (or a Date, as kombu tags decode), null when null/absent. */
export function isoDate(problems: string[], name: string, value: unknown): Date | null {
  if (value === undefined || value === null) return null;
  const date = typeof value === 'string' ? parseIsoDatetime(value) : types.isDate(value) ? value : null;
  if (date && !Number.isNaN(date.getTime())) return date;
  problem(problems, name, 'an ISO 8601 date or null', value);
  return null;
}

/** `[hard, soft]` seconds, each a number ≥ 0 or null; `[null, null]` when null/absent. */
export function timeLimit(problems: string[], name: string, value: unknown): TimeLimit {
  if (value === undefined || value === null) return [null, null];
  const isLimit = (v: unknown): v is number | null => v === null || (typeof v === 'number' && Number.isFinite(v) && v >= 0);
  if (Array.isArray(value) && value.length === 2) {
    const [hard, soft]: unknown[] = value;
    if (isLimit(hard) && isLimit(soft)) return [hard, soft];
  }
  problem(problems, name, '[hard, soft] with each a number of seconds or null', value);
  return [null, null];
}

/**
 * The `{callbacks, errbacks, chain, chord}` embed; null/absent (and absent fields) read as
 * null. Each signature must be an object with a string `task`.
 *
 * @param path - prefix for problem names: `embed.` for a v2 body, empty for a v1 body dict.
 */
export function taskEmbed(problems: string[], path: string, value: unknown): TaskEmbed {
  const embed: TaskEmbed = { callbacks: null, errbacks: null, chain: null, chord: null };
  if (value === undefined || value === null) return embed;
  if (!isPlainObject(value)) {
    problem(problems, path.replace(/\.$/, '') || 'embed', 'an object {callbacks, errbacks, chain, chord} or null', value);
    return embed;
  }
  for (const key of ['callbacks', 'errbacks', 'chain'] as const) {
    const list = value[key];
    if (list === undefined || list === null) continue;
    if (!Array.isArray(list)) {
      problem(problems, `${path}${key}`, 'a list of signatures or null', list);
      continue;
    }
    embed[key] = list.map((item: unknown, index) => signature(problems, `${path}${key}[${index}]`, item));
  }
  if (value.chord !== undefined && value.chord !== null) embed.chord = signature(problems, `${path}chord`, value.chord);
  return embed;
}

function signature(problems: string[], name: string, value: unknown): SignatureDict {
  if (isPlainObject(value) && typeof value.task === 'string') return value as SignatureDict;
  problem(problems, name, 'a signature (an object with a string "task")', value);
  return { task: '' };
}

/** `x.add[<id>]` as Celery logs a task, or less when those are unknown; for error prefixes. */
export function taskLabel(task: unknown, id: unknown): string {
  const name = typeof task === 'string' && task !== '' ? clip(task) : '';
  const ident = typeof id === 'string' && id !== '' ? `[${clip(id)}]` : '';
  return `${name}${ident}`;
}
