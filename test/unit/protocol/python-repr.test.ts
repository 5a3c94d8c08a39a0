import { pythonRepr } from '../../../src/protocol';

// Each expected string is what CPython 3.11's repr() printed for the same value.
describe('pythonRepr', () => {
  it.each<[string, unknown, string]>([
    ['a list of ints', [2, 3], '[2, 3]'],
    ['a dict', { k: 1 }, "{'k': 1}"],
    ['a plain string', 'text', "'text'"],
    ['a string with double quotes only, as it is', 'say "hi" ~ {ok}', `'say "hi" ~ {ok}'`],
    ['a string with a single quote, in double quotes', "it's", `"it's"`],
    ['a string with both quotes, escaping the single one', `both ' and "`, `'both \\' and "'`],
    ['control characters and backslashes', 'tab\there\nnew\\', "'tab\\there\\nnew\\\\'"],
    ['printable unicode kept, the rest escaped', 'é日本\u00a0\u200b\u0378\u{1F600}\x7f\x01', "'é日本\\xa0\\u200b\\u0378😀\\x7f\\x01'"],
    ['True, False and None', [true, false, null], '[True, False, None]'],
    ['nested containers', { nested: [1, { a: [true, null] }], "key's": 'v' }, `{'nested': [1, {'a': [True, None]}], "key's": 'v'}`],
    ['bytes', Buffer.from("a'b\x00\xff", 'latin1'), `b"a'b\\x00\\xff"`],
    ['a datetime', new Date('2026-11-23T12:52:21.358Z'), 'datetime.datetime(2026, 11, 23, 12, 52, 21, 358000, tzinfo=datetime.timezone.utc)'],
    ['a datetime at midnight', new Date('2026-01-01T00:00:00Z'), 'datetime.datetime(2026, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)'],
  ])('matches Python for %s', (_what, value, expected) => {
    expect(pythonRepr(value)).toBe(expected);
  });

  it.each<[number, string]>([
    [0.5, '0.5'],
    [-2.5, '-2.5'],
    [0.1 + 0.2, '0.30000000000000004'],
    [0.0001, '0.0001'],
    [0.00001, '1e-05'],
    [5e-7, '5e-07'],
    [1.2345678901234567e15, '1234567890123456.8'],
    [1e21, '1e+21'],
    [1.7976931348623157e308, '1.7976931348623157e+308'],
  ])('writes the float %p as Python does: %s', (value, expected) => {
    expect(pythonRepr(value)).toBe(expected);
  });

  it('writes numbers without a fraction as Python ints, since JSON carries 1.0 as 1', () => {
    expect(pythonRepr([1.0, 1e20, -0])).toBe('[1, 100000000000000000000, 0]');
  });

  it('writes what JSON turns into null as None', () => {
    expect(pythonRepr([Number.NaN, Number.POSITIVE_INFINITY, undefined])).toBe('[None, None, None]');
  });

  it('cuts to maxLength with an ellipsis', () => {
    expect(pythonRepr(['abcdef'], 8)).toBe("['abc...");
  });
});
