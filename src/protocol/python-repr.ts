import { type JsonTree, toJsonTree } from './json-tree';

/**
 * Python's `repr()` of a value as a Python peer will see it after decoding warren's JSON:
 * `[2, 3]`, `{'k': 1}`, `'text'`, `"it's"`, `True`, `None`, `1.5`, `1e-05`,
 * `datetime.datetime(2026, 11, 23, 12, 52, 21, 358000, tzinfo=datetime.timezone.utc)`, `b'\x00'`.
 *
 * JSON has one number type, so a Python peer decodes a number written without a fraction or
 * exponent as an `int`: JS `1` and `1.0` both show as `1`, `0.5` as `0.5`, `1e21` as
 * `1e+21`. NaN and ±Infinity show as `None`, as JSON carries them.
 *
 * Celery itself fills `argsrepr` with `saferepr`, which differs in corners this does not
 * copy: it always single-quotes strings and escapes nothing but `'`, and it shows containers
 * nested more than 3 deep as `[...]`.
 *
 * @param maxLength - longer results are cut to this many characters, ending in `...`.
 * @throws InvalidMessageError for what JSON cannot carry (see `toJsonTree`).
 */
export function pythonRepr(value: unknown, maxLength = Infinity): string {
  return truncateRepr(reprJsonTree(toJsonTree(value, 'value')), maxLength);
}

/** {@link pythonRepr} of a tree from `toJsonTree`, uncut. */
export function reprJsonTree(tree: JsonTree): string {
  if (tree === null) return 'None';
  if (tree === true) return 'True';
  if (tree === false) return 'False';
  if (typeof tree === 'number') return reprNumber(tree);
  if (typeof tree === 'string') return reprString(tree);
  if (tree instanceof Date) return reprDatetime(tree);
  if (Buffer.isBuffer(tree)) return reprBytes(tree);
  if (Array.isArray(tree)) return `[${tree.map(reprJsonTree).join(', ')}]`;
  return `{${Object.entries(tree)
    .map(([key, item]) => `${reprString(key)}: ${reprJsonTree(item)}`)
    .join(', ')}}`;
}

/** Cuts `text` to at most `maxLength` characters, the last three being `...`. */
export function truncateRepr(text: string, maxLength: number): string {
  if (text.length <= maxLength) return text;
  let end = Math.max(0, maxLength - 3);
  // Do not leave half of a surrogate pair before the ellipsis.
  if (end > 0 && /[\ud800-\udbff]/.test(text.charAt(end - 1))) end -= 1;
  return `${text.slice(0, end)}...`;
}

function reprNumber(n: number): string {
  const json = String(n);
  if (/^-?\d+$/.test(json)) return json; // a Python int
  // Python's float repr: the same shortest digits as JS, in fixed notation for exponents
  // -5 < e < 16, else d.ddde±XX.
  const [mantissa = '', exponentText = '0'] = n.toExponential().split('e');
  const exponent = Number(exponentText);
  const sign = n < 0 ? '-' : '';
  const digits = mantissa.replace('-', '').replace('.', '');
  if (exponent > -5 && exponent < 16) {
    if (exponent < 0) return `${sign}0.${'0'.repeat(-exponent - 1)}${digits}`;
    const whole = digits.slice(0, exponent + 1).padEnd(exponent + 1, '0');
    return `${sign}${whole}.${digits.slice(exponent + 1) || '0'}`;
  }
  const fraction = digits.length > 1 ? `.${digits.slice(1)}` : '';
  return `${sign}${digits.charAt(0)}${fraction}e${exponent < 0 ? '-' : '+'}${String(Math.abs(exponent)).padStart(2, '0')}`;
}

// str.isprintable() is false for these categories, except for the space itself.
const NON_PRINTABLE = /^[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]$/u;
const ESCAPES: Readonly<Record<string, string>> = { '\t': '\\t', '\n': '\\n', '\r': '\\r', '\\': '\\\\' };

function hexEscape(codePoint: number): string {
  if (codePoint <= 0xff) return `\\x${codePoint.toString(16).padStart(2, '0')}`;
  if (codePoint <= 0xffff) return `\\u${codePoint.toString(16).padStart(4, '0')}`;
  return `\\U${codePoint.toString(16).padStart(8, '0')}`;
}

/** Python prefers single quotes, and takes double quotes when only `'` occurs in the text. */
function pickQuote(hasSingle: boolean, hasDouble: boolean): string {
  return hasSingle && !hasDouble ? '"' : "'";
}

/** Printable ASCII but `'` and `\\`: between single quotes as it is, which is what most arguments are. */
const PLAIN_ASCII = /^[\x20-\x26\x28-\x5b\x5d-\x7e]*$/;

function reprString(text: string): string {
  // The loop below adds a string per character: several kilobytes of garbage for an argument
  // of a few hundred characters, on every sendTask.
  if (PLAIN_ASCII.test(text)) return `'${text}'`;
  const quote = pickQuote(text.includes("'"), text.includes('"'));
  let out = quote;
  for (const char of text) {
    const codePoint = char.codePointAt(0) ?? 0;
    const escape = ESCAPES[char];
    if (escape !== undefined) out += escape;
    else if (char === quote) out += `\\${char}`;
    else if (codePoint < 0x20 || codePoint === 0x7f) out += hexEscape(codePoint);
    else if (codePoint < 0x7f || char === ' ' || !NON_PRINTABLE.test(char)) out += char;
    else out += hexEscape(codePoint);
  }
  return out + quote;
}

function reprBytes(bytes: Buffer): string {
  const quote = pickQuote(bytes.includes(0x27), bytes.includes(0x22));
  let out = `b${quote}`;
  for (const byte of bytes) {
    const char = String.fromCharCode(byte);
    const escape = ESCAPES[char];
    if (escape !== undefined) out += escape;
    else if (char === quote) out += `\\${char}`;
    else if (byte < 0x20 || byte >= 0x7f) out += hexEscape(byte);
    else out += char;
  }
  return out + quote;
}

function reprDatetime(date: Date): string {
  const fields = [
    date.getUTCFullYear(),
    date.getUTCMonth() + 1,
    date.getUTCDate(),
    date.getUTCHours(),
    date.getUTCMinutes(),
    date.getUTCSeconds(),
    date.getUTCMilliseconds() * 1000,
  ];
  // Like datetime.__repr__: drop microseconds when 0, then seconds when also 0.
  if (fields[6] === 0) {
    fields.pop();
    if (fields[5] === 0) fields.pop();
  }
  return `datetime.datetime(${fields.join(', ')}, tzinfo=datetime.timezone.utc)`;
}
