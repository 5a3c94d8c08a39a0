import { UsageError } from '../../../src/errors';
import { checkTaskOptions, matchesAutoretry, maxRetries, retryDelayMs } from '../../../src/worker';

class PaymentDeclined extends Error {
  override name = 'PaymentDeclined';
}
class CardExpired extends PaymentDeclined {
  override name = 'CardExpired';
}

describe('retryDelayMs', () => {
  test('fixed backoff waits `delay` every time; Celery\'s 180 s without one', () => {
    expect([0, 1, 5].map((retries) => retryDelayMs({ delay: 10 }, retries))).toEqual([10_000, 10_000, 10_000]);
    expect(retryDelayMs(undefined, 0)).toBe(180_000);
    expect(retryDelayMs({}, 2)).toBe(180_000);
  });

  test('exponential backoff doubles from `delay` (1 s by default) up to maxDelay (600 s by default)', () => {
    expect([0, 1, 2, 3].map((retries) => retryDelayMs({ backoff: 'exponential', delay: 2 }, retries))).toEqual([2000, 4000, 8000, 16_000]);
    expect([0, 1, 2].map((retries) => retryDelayMs({ backoff: 'exponential' }, retries))).toEqual([1000, 2000, 4000]);
    expect(retryDelayMs({ backoff: 'exponential', delay: 1, maxDelay: 5 }, 10)).toBe(5000);
    expect(retryDelayMs({ backoff: 'exponential' }, 20)).toBe(600_000);
  });

  test('jitter spreads the delay over [half, all] of it', () => {
    const policy = { delay: 10, jitter: true };
    expect(retryDelayMs(policy, 0, () => 0)).toBe(5000);
    expect(retryDelayMs(policy, 0, () => 0.5)).toBe(7500);
    expect(retryDelayMs(policy, 0, () => 0.999999)).toBe(10_000);
  });
});

describe('maxRetries', () => {
  test('the call\'s max, else the policy\'s, else Celery\'s 3', () => {
    expect(maxRetries({ max: 5 }, 1)).toBe(1);
    expect(maxRetries({ max: 5 })).toBe(5);
    expect(maxRetries(undefined)).toBe(3);
    expect(maxRetries({ max: Infinity })).toBe(Infinity);
  });
});

describe('matchesAutoretry', () => {
  test('matches classes with instanceof, subclasses included', () => {
    expect(matchesAutoretry(new CardExpired('x'), [PaymentDeclined])).toBe(true);
    expect(matchesAutoretry(new TypeError('x'), [PaymentDeclined])).toBe(false);
  });

  test('matches names against the error\'s name and the names of its classes', () => {
    expect(matchesAutoretry(new CardExpired('x'), ['PaymentDeclined'])).toBe(true);
    expect(matchesAutoretry(new CardExpired('x'), ['CardExpired'])).toBe(true);
    expect(matchesAutoretry(Object.assign(new Error('x'), { name: 'ECONNRESET' }), ['ECONNRESET'])).toBe(true);
    expect(matchesAutoretry(new Error('x'), ['TypeError'])).toBe(false);
  });

  test('matches nothing without a list, and no thrown non-object', () => {
    expect(matchesAutoretry(new Error('x'), undefined)).toBe(false);
    expect(matchesAutoretry(new Error('x'), [])).toBe(false);
    expect(matchesAutoretry('Error', ['Error'])).toBe(false);
  });
});

describe('checkTaskOptions', () => {
  test('accepts sound retry options', () => {
    expect(() => checkTaskOptions('t', { retry: { max: 2, delay: 0, backoff: 'exponential', maxDelay: 60, jitter: true }, autoretryFor: [Error, 'X'] })).not.toThrow();
    expect(() => checkTaskOptions('t', { retry: { max: Infinity } })).not.toThrow();
  });

  test('names the task and every bad option', () => {
    const attempt = () =>
      checkTaskOptions('app.pay', {
        retry: { max: -1, delay: -2, backoff: 'linear' as 'fixed' },
        autoretryFor: [42 as unknown as string],
      });
    expect(attempt).toThrow(UsageError);
    expect(attempt).toThrow(
      "task \"app.pay\": retry.max must be a whole number >= 0 or Infinity (got -1); retry.delay must be a number of seconds >= 0 (got -2); retry.backoff must be 'fixed' or 'exponential' (got linear); autoretryFor must be a list of error classes or error names",
    );
  });

  test('time limits must be seconds above 0', () => {
    expect(() => checkTaskOptions('t', { timeLimit: 0.5, softTimeLimit: 0.25 })).not.toThrow();
    expect(() => checkTaskOptions('t', { timeLimit: 0, softTimeLimit: -1 })).toThrow(
      'task "t": timeLimit must be a number of seconds above 0 (got 0); softTimeLimit must be a number of seconds above 0 (got -1)',
    );
  });
});
