import type { RouteKind } from './types';

/**
 * How a routes key matches task names: `/.../` is a regular expression, a key with `*`, `?`
 * or `[` is a glob, anything else is an exact name.
 */
export function routeKind(pattern: string): RouteKind {
  if (pattern.length >= 2 && pattern.startsWith('/') && pattern.endsWith('/')) return 'regex';
  if (/[*?[]/.test(pattern)) return 'glob';
  return 'exact';
}

/** The body of a `/.../` key, ready for `new RegExp`. */
export function regexBody(pattern: string): string {
  return pattern.slice(1, -1);
}

const REGEX_EXPECTED = '(expected a JavaScript regular expression between slashes, without flags)';

/** Why a routes key cannot be used, or undefined when it can. */
export function routePatternProblem(pattern: string): string | undefined {
  if (pattern === '') return `"" is empty (expected a task name, a glob or a /regex/)`;
  if (pattern.startsWith('/') && routeKind(pattern) !== 'regex') return `${JSON.stringify(pattern)} is not a /regex/ ${REGEX_EXPECTED}`;
  if (routeKind(pattern) !== 'regex') return undefined;
  try {
    new RegExp(regexBody(pattern));
    return undefined;
  } catch (error) {
    const reason = error instanceof Error ? error.message.replace(/^Invalid regular expression: \/.*\/\w*: /s, '') : String(error);
    return `${JSON.stringify(pattern)} is not a valid regular expression: ${reason} ${REGEX_EXPECTED}`;
  }
}
