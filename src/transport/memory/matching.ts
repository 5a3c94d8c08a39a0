/*
 * How RabbitMQ's exchange types match a binding, for the memory broker.
 */

/** Words of a topic routing key or pattern; RabbitMQ reads `""` as no words at all. */
function words(key: string): string[] {
  return key === '' ? [] : key.split('.');
}

/** A topic binding pattern against a routing key: `*` is exactly one word, `#` zero or more. */
export function topicMatches(pattern: string, routingKey: string): boolean {
  const p = words(pattern);
  const k = words(routingKey);
  // known[i][j]: pattern from word i matched against key from word j, once computed.
  const known = new Map<number, boolean>();
  const match = (i: number, j: number): boolean => {
    const id = i * (k.length + 1) + j;
    const cached = known.get(id);
    if (cached !== undefined) return cached;
    let result: boolean;
    if (i === p.length) result = j === k.length;
    else if (p[i] === '#') result = match(i + 1, j) || (j < k.length && match(i, j + 1));
    else result = j < k.length && (p[i] === '*' || p[i] === k[j]) && match(i + 1, j + 1);
    known.set(id, result);
    return result;
  };
  return match(0, 0);
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return a.equals(b);
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null) return JSON.stringify(a) === JSON.stringify(b);
  return false;
}

/**
 * A headers-exchange binding against a message's headers. `x-match` is `all` (the default:
 * every binding argument must match), `any` (one is enough), or RabbitMQ 3.10's `all-with-x` /
 * `any-with-x`, which also compare arguments starting with `x-` (the others skip them). A
 * binding argument whose value is void (null) matches any value of a header that is present.
 */
export function headersMatch(bindingArguments: Readonly<Record<string, unknown>>, headers: Readonly<Record<string, unknown>>): boolean {
  const mode = typeof bindingArguments['x-match'] === 'string' ? bindingArguments['x-match'] : 'all';
  const withX = mode.endsWith('-with-x');
  const keys = Object.keys(bindingArguments).filter((key) => key !== 'x-match' && (withX || !key.startsWith('x-')));
  const matches = (key: string): boolean =>
    Object.hasOwn(headers, key) && (bindingArguments[key] === null || sameValue(bindingArguments[key], headers[key]));
  return mode.startsWith('any') ? keys.some(matches) : keys.every(matches);
}
