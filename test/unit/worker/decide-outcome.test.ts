import {
  EncodeError,
  MaxRetriesExceededError,
  MessageTooLargeError,
  Retry,
  TaskNotRegisteredError,
  TimeLimitExceededError,
  UsageError,
  WorkerLostError,
} from '../../../src/errors';
import { decideOutcome, type Decision, type Outcome, type OutcomeFacts } from '../../../src/worker';

class PaymentDeclined extends Error {
  override name = 'PaymentDeclined';
}

const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);
const facts = (more: Partial<OutcomeFacts> = {}): OutcomeFacts => ({
  taskName: 'shop.charge',
  taskId: 'id-1',
  retries: 0,
  options: { autoretryFor: [PaymentDeclined], retry: { max: 2, delay: 5 } },
  now: NOW,
  random: () => 0.5,
  ...more,
});

const declined = new PaymentDeclined('declined');
const bug = new TypeError('a bug');
const timedOut = new TimeLimitExceededError('shop.charge', 5);
const lost = new WorkerLostError('shop.charge', 4242, 3, null);
const encode = new EncodeError('the result of task shop.charge[id-1] cannot be sent as JSON: result (found bigint 1)');
const tooLarge = new MessageTooLargeError('the SUCCESS result of task shop.charge[id-1]', 2_000_000, 1_048_576);

/** Each row: the outcome, the facts that differ, and the decision. */
const table: Array<[string, Outcome, Partial<OutcomeFacts>, Decision | ((d: Decision) => void)]> = [
  [
    'unknown task: dead-letter, NotRegistered to the caller',
    { kind: 'not-registered', taskName: 'no.such' },
    { options: undefined },
    (d) => {
      expect(d).toMatchObject({ action: 'dead-letter', reason: 'task "no.such" is not registered on this worker' });
      expect((d as { error: unknown }).error).toBeInstanceOf(TaskNotRegisteredError);
    },
  ],
  ['expired: revoke', { kind: 'expired' }, {}, { action: 'revoke', reason: 'expired' }],
  ['revoked: revoke', { kind: 'revoked' }, {}, { action: 'revoke', reason: 'revoked' }],
  ['terminated by a revoke: revoke', { kind: 'terminated', signal: 'SIGTERM' }, {}, { action: 'revoke', reason: 'terminated', signal: 'SIGTERM' }],
  ['returned: succeed with the value', { kind: 'returned', value: 5 }, {}, { action: 'succeed', value: 5 }],
  ['returned undefined: succeed', { kind: 'returned', value: undefined }, {}, { action: 'succeed', value: undefined }],
  ['a result JSON cannot carry: fail with EncodeError, never retried', { kind: 'result-rejected', error: encode }, {}, { action: 'fail', error: encode }],
  ['a result over the size limit: fail, never retried', { kind: 'result-rejected', error: tooLarge }, {}, { action: 'fail', error: tooLarge }],
  ['threw an error autoretryFor does not list: fail', { kind: 'threw', error: bug }, {}, { action: 'fail', error: bug }],
  ['threw an error autoretryFor lists: retry after the policy delay', { kind: 'threw', error: declined }, {}, { action: 'retry', delayMs: 5000, retries: 1, reported: declined }],
  [
    'threw a listed error after the last retry: fail with MaxRetriesExceededError',
    { kind: 'threw', error: declined },
    { retries: 2 },
    (d) => {
      expect(d.action).toBe('fail');
      const error = (d as { error: unknown }).error as MaxRetriesExceededError;
      expect(error).toBeInstanceOf(MaxRetriesExceededError);
      expect(error.cause).toBe(declined);
      expect(error.message).toBe('task shop.charge[id-1] gave up after 2 retries: PaymentDeclined: declined');
    },
  ],
  ['escaped error (timer, unhandled rejection): fail, never retried', { kind: 'escaped', error: declined }, {}, { action: 'fail', error: declined }],
  ['hard time limit: fail', { kind: 'timed-out', error: timedOut }, {}, { action: 'fail', error: timedOut }],
  ['abandoned at the shutdown timeout: hand back, nothing published', { kind: 'abandoned' }, {}, { action: 'hand-back' }],
  ['its pool process died: fail with WorkerLostError', { kind: 'lost', error: lost }, {}, { action: 'fail', error: lost }],
  [
    'its pool process died, rejectOnWorkerLost: back to the broker, nothing published',
    { kind: 'lost', error: lost },
    { options: { rejectOnWorkerLost: true } },
    { action: 'requeue', reason: 'task shop.charge lost its pool process (pid 4242), which exited with code 3 before the task finished' },
  ],
  [
    'ctx.retry({ countdown }): retry after it, reporting the Retry',
    { kind: 'threw', error: new Retry({ countdown: 3 }) },
    {},
    (d) => expect(d).toMatchObject({ action: 'retry', delayMs: 3000, retries: 1, reported: expect.any(Retry) }),
  ],
  [
    'ctx.retry({ eta }): retry at that time',
    { kind: 'threw', error: new Retry({ eta: new Date(NOW + 90_000) }) },
    {},
    (d) => expect(d).toMatchObject({ action: 'retry', delayMs: 90_000 }),
  ],
  [
    'ctx.retry({ eta }) in the past: retry now',
    { kind: 'threw', error: new Retry({ eta: new Date(NOW - 90_000) }) },
    {},
    (d) => expect(d).toMatchObject({ action: 'retry', delayMs: 0 }),
  ],
  [
    'ctx.retry({ error }): the error is reported with RETRY',
    { kind: 'threw', error: new Retry({ countdown: 1, error: declined }) },
    {},
    (d) => expect(d).toMatchObject({ action: 'retry', reported: declined }),
  ],
  [
    'ctx.retry({ max: 0 }): fail with MaxRetriesExceededError at once',
    { kind: 'threw', error: new Retry({ countdown: 1, max: 0 }) },
    {},
    (d) => expect((d as { error: unknown }).error).toBeInstanceOf(MaxRetriesExceededError),
  ],
  ...(
    [
      [{ countdown: NaN }, 'countdown must be a number of seconds >= 0 (got NaN)'],
      [{ countdown: -1 }, 'countdown must be a number of seconds >= 0 (got -1)'],
      [{ countdown: Infinity }, 'countdown must be a number of seconds >= 0 (got Infinity)'],
      [{ countdown: 1e15 }, 'countdown 1000000000000000 puts the next attempt after the year 9999'],
      [{ eta: new Date('not a date') }, 'eta must be a valid Date (got Invalid Date)'],
      [{ countdown: 1, eta: new Date(NOW) }, 'give countdown or eta, not both'],
      [{ countdown: 1, max: 1.5 }, 'max must be a whole number >= 0 or Infinity (got 1.5)'],
    ] as const
  ).map(([options, problem]): [string, Outcome, Partial<OutcomeFacts>, (d: Decision) => void] => [
    `a Retry with ${JSON.stringify(options)}: fail with UsageError, nothing republished`,
    { kind: 'threw', error: retryWith(options) },
    {},
    (d) => {
      expect(d.action).toBe('fail');
      const error = (d as { error: unknown }).error;
      expect(error).toBeInstanceOf(UsageError);
      expect((error as Error).message).toBe(`task shop.charge[id-1]: ctx.retry(): ${problem}`);
    },
  ]),
];

/** A Retry built without its constructor's formatting (which cannot print an invalid Date). */
function retryWith(options: { countdown?: number; eta?: Date; max?: number }): Retry {
  return Object.assign(Object.create(Retry.prototype) as Retry, { countdown: undefined, eta: undefined, max: undefined, ...options });
}

describe('decideOutcome', () => {
  test.each(table)('%s', (_label, outcome, more, expected) => {
    const decision = decideOutcome(outcome, facts(more));
    if (typeof expected === 'function') expected(decision);
    else expect(decision).toEqual(expected);
  });

  test('exponential backoff with jitter uses the injected random number', () => {
    const decision = decideOutcome({ kind: 'threw', error: declined }, facts({ retries: 1, options: { autoretryFor: ['PaymentDeclined'], retry: { max: 5, backoff: 'exponential', delay: 2, jitter: true } }, random: () => 0 }));
    expect(decision).toMatchObject({ action: 'retry', delayMs: 2000, retries: 2 }); // 2 * 2^1 = 4 s, jittered to half
  });
});
