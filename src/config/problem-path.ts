/**
 * Paths that locate a value inside a definitions file, in JS-ish notation:
 * `queues[2].type`, `schedule.deal-every-30-seconds.every`, `routes["app1.tasks2.*"].queue`.
 *
 * The rule: a mapping key made only of letters, digits, `_` and `-`, starting with a letter
 * or `_`, is written `.key`; any other key is written `["key"]`, quoted as a JSON string.
 * A list index is written `[n]`. The top level has the empty path.
 */

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** The path of `key` inside the mapping at `parent`. */
export function childPath(parent: string, key: string): string {
  if (!PLAIN_KEY.test(key)) return `${parent}[${JSON.stringify(key)}]`;
  return parent === '' ? key : `${parent}.${key}`;
}

/** The path of item `index` inside the list at `parent`. */
export function itemPath(parent: string, index: number): string {
  return `${parent}[${index}]`;
}
