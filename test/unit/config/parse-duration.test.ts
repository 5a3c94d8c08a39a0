import { parseDuration } from '../../../src/config';

describe('parseDuration', () => {
  test.each([
    ['250ms', 250],
    ['10s', 10_000],
    ['1.5m', 90_000],
    ['2h', 7_200_000],
    ['1d', 86_400_000],
    ['1.1s', 1100],
    [' 30 s ', 30_000],
    ['45', 45_000],
    [30, 30_000],
    [0.25, 250],
    [0, 0],
  ] as Array<[string | number, number]>)('reads %p as %p ms', (input, ms) => {
    expect(parseDuration(input)).toBe(ms);
  });

  test.each([
    ['10 parsecs', '"10 parsecs" is not a duration (expected a number of seconds or a string like 250ms, 10s, 1.5m, 2h)'],
    ['', '"" is not a duration (expected a number of seconds or a string like 250ms, 10s, 1.5m, 2h)'],
    ['-5s', '"-5s" is not a duration (expected a number of seconds or a string like 250ms, 10s, 1.5m, 2h)'],
    ['1h30m', '"1h30m" is not a duration (expected a number of seconds or a string like 250ms, 10s, 1.5m, 2h)'],
    [-1, '-1 is not a duration (expected a number of seconds or a string like 250ms, 10s, 1.5m, 2h)'],
    [Number.NaN, 'NaN is not a duration (expected a number of seconds or a string like 250ms, 10s, 1.5m, 2h)'],
    [Number.POSITIVE_INFINITY, 'Infinity is not a duration (expected a number of seconds or a string like 250ms, 10s, 1.5m, 2h)'],
  ] as Array<[string | number, string]>)('refuses %p with a message saying what it expected', (input, message) => {
    expect(() => parseDuration(input)).toThrow(new Error(message));
  });
});
