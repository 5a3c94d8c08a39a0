import { ClosedError, ResultForgottenError, ResultTimeoutError, UsageError } from '../../../src/errors';
import { AsyncResult, RpcResultBackend } from '../../../src/result';
import { MAX_TIMED_OUT_RESULTS, type RpcResultBackendOptions } from '../../../src/result/rpc-result-backend';
import { captureLogger } from '../../support/capture-logger';
import { ReplyTransport } from './reply-transport';

const tick = () => new Promise((resolve) => setImmediate(resolve));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function backend(options: RpcResultBackendOptions = {}) {
  const transport = new ReplyTransport();
  const logs = captureLogger('debug');
  const results = new RpcResultBackend(transport, logs.logger, 'reply-test', options);
  await results.start();
  return { transport, results, lines: logs.lines };
}

function succeed(transport: ReplyTransport, taskId: string, value: unknown): boolean {
  return transport.deliver({ taskId, status: 'SUCCESS', result: value });
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  const outcome = await promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (!('error' in outcome)) throw new Error(`expected a rejection, got ${JSON.stringify(outcome.value)}`);
  return outcome.error as Error;
}

describe('AsyncResult.get timeouts', () => {
  test('get() without a timeout waits the backend default (resultTimeoutMs) and says so', async () => {
    const { results } = await backend({ resultTimeoutMs: 30 });
    const result = results.track('t-default');
    const error = await rejection(result.get());
    expect(error).toBeInstanceOf(ResultTimeoutError);
    expect(error.message).toBe(
      'no result for task t-default within 30 ms (the default resultTimeoutMs; pass get({ timeout }) to wait longer, Infinity for no limit)',
    );
    expect((error as ResultTimeoutError).timeoutMs).toBe(30);
  });

  test('the default is 60 s', async () => {
    const { results } = await backend();
    expect(results.defaultTimeoutMs).toBe(60_000);
  });

  test('a timeout given to get() wins over the default, and its message has no note', async () => {
    const { results } = await backend({ resultTimeoutMs: 10_000 });
    const result = results.track('t-given');
    const error = await rejection(result.get({ timeout: 20 }));
    expect(error.message).toBe('no result for task t-given within 20 ms');
  });

  test('timeout: Infinity waits for a result however late', async () => {
    const { transport, results } = await backend({ resultTimeoutMs: 10 });
    const result = results.track<number>('t-forever');
    const got = result.get({ timeout: Infinity });
    await sleep(50);
    expect(succeed(transport, 't-forever', 42)).toBe(true);
    await expect(got).resolves.toBe(42);
  });

  test.each([[-1], [Number.NaN], ['10' as unknown as number]])('a timeout of %p is refused with what was expected', async (timeout) => {
    const { results } = await backend();
    const error = await rejection(results.track('t-bad').get({ timeout }));
    expect(error).toBeInstanceOf(UsageError);
    expect(error.message).toBe(`get() timeout must be a number of milliseconds, 0 or more, or Infinity for no limit (got ${String(timeout)})`);
    expect(results.tracked).toEqual({ followed: 1, timedOut: 0 });
  });

  test('a result sent with ignoreResult refuses get()', async () => {
    const error = await rejection(AsyncResult.ignored('t-ignored').get());
    expect(error.message).toBe('task t-ignored was sent with ignoreResult: no result will come back');
  });
});

describe('result tracking is bounded', () => {
  test('a timed-out result is no longer followed, yet a late result still reaches it and a later get()', async () => {
    const { transport, results } = await backend();
    const result = results.track<string>('t-late');
    await rejection(result.get({ timeout: 10 }));
    expect(results.tracked).toEqual({ followed: 0, timedOut: 1 });

    succeed(transport, 't-late', 'finally');
    expect(result.state).toBe('SUCCESS');
    expect(results.tracked).toEqual({ followed: 0, timedOut: 0 });
    await expect(result.get({ timeout: 0 })).resolves.toBe('finally');
  });

  test('a get() after a timeout follows the result again', async () => {
    const { transport, results } = await backend();
    const result = results.track<string>('t-again');
    await rejection(result.get({ timeout: 10 }));
    const again = result.get({ timeout: 5000 });
    expect(results.tracked).toEqual({ followed: 1, timedOut: 0 });
    succeed(transport, 't-again', 'second wait');
    await expect(again).resolves.toBe('second wait');
  });

  test('one get() timing out does not stop following while another still waits', async () => {
    const { transport, results } = await backend();
    const result = results.track<string>('t-two');
    const long = result.get({ timeout: 5000 });
    await rejection(result.get({ timeout: 10 }));
    expect(results.tracked).toEqual({ followed: 1, timedOut: 0 });
    succeed(transport, 't-two', 'for the long wait');
    await expect(long).resolves.toBe('for the long wait');
  });

  test(`only the last ${MAX_TIMED_OUT_RESULTS} timed-out results are kept; an older one says why when waited on`, async () => {
    const { results } = await backend();
    const all = Array.from({ length: MAX_TIMED_OUT_RESULTS + 1 }, (_, i) => results.track(`t-${i}`));
    await Promise.all(all.map((result) => rejection(result.get({ timeout: 0 }))));
    expect(results.tracked).toEqual({ followed: 0, timedOut: MAX_TIMED_OUT_RESULTS });
    const error = await rejection(all[0].get({ timeout: 1000 }));
    expect(error).toBeInstanceOf(ResultForgottenError);
    expect(error.message).toBe(`the result of task t-0 is no longer followed: its get() timed out, and ${MAX_TIMED_OUT_RESULTS} results have timed out since`);
  });

  test('forget() stops following: a pending get() rejects, a later result is dropped', async () => {
    const { transport, results } = await backend();
    const result = results.track('t-forget');
    const pending = result.get({ timeout: 5000 });
    result.forget();
    const error = await rejection(pending);
    expect(error).toBeInstanceOf(ResultForgottenError);
    expect((error as ResultForgottenError).code).toBe('WARREN_RESULT_FORGOTTEN');
    expect(error.message).toBe('the result of task t-forget is no longer followed: forget() was called');
    expect(results.tracked).toEqual({ followed: 0, timedOut: 0 });
    succeed(transport, 't-forget', 'too late');
    expect(result.state).toBe('PENDING');
    expect((await rejection(result.get())).message).toBe(error.message);
  });

  test('past maxTrackedResults the oldest is dropped with one warning, and its get() says so at once', async () => {
    const { transport, results, lines } = await backend({ maxTrackedResults: 3 });
    const sent = ['a', 'b', 'c', 'd', 'e'].map((id) => results.track<string>(id));
    expect(results.tracked).toEqual({ followed: 3, timedOut: 0 });

    const error = await rejection(sent[0].get({ timeout: 60_000 }));
    expect(error).toBeInstanceOf(ResultForgottenError);
    expect(error.message).toBe(
      'the result of task a is no longer followed: more than 3 results were followed at once (maxTrackedResults), and it was the oldest',
    );
    const warnings = lines().filter((line) => line.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ taskId: 'a', dropped: 1, maxTrackedResults: 3 });

    succeed(transport, 'e', 'newest');
    await expect(sent[4].get({ timeout: 1000 })).resolves.toBe('newest');
    expect(sent[1].state).toBe('PENDING');
  });

  test('10,000 results that never come, each waited on with a short timeout, leave at most the timed-out list behind', async () => {
    const { results } = await backend();
    for (let round = 0; round < 10; round += 1) {
      const batch = Array.from({ length: 1000 }, (_, i) => results.track(`lost-${round}-${i}`));
      await Promise.all(batch.map((result) => rejection(result.get({ timeout: 0 }))));
    }
    expect(results.tracked).toEqual({ followed: 0, timedOut: MAX_TIMED_OUT_RESULTS });
  });
});

describe('closing and a lost reply queue', () => {
  test('close() rejects every pending get() with ClosedError, and later ones too', async () => {
    const { results } = await backend();
    const result = results.track('t-close');
    const pending = result.get({ timeout: Infinity });
    await results.close();
    const error = await rejection(pending);
    expect(error).toBeInstanceOf(ClosedError);
    expect(error.message).toBe('the app was closed while the result of task t-close was pending; it will not come');
    expect((await rejection(result.get())).message).toBe(error.message);
    expect(() => results.track('t-after')).toThrow(ClosedError);
    expect(results.tracked).toEqual({ followed: 0, timedOut: 0 });
  });

  test('a reconnect that lost the reply queue logs the pending tasks, and their timeout says the queue was lost', async () => {
    const { transport, results, lines } = await backend();
    const pending = results.track<string>('t-pending');
    const running = results.track<string>('t-running');
    const waited = pending.get({ timeout: 300 });

    transport.drop();
    await tick();
    transport.reconnect();
    for (let i = 0; i < 50 && !transport.consuming; i += 1) await tick();
    expect(transport.consuming).toBe(true);

    const warning = lines().find((line) => String(line.msg).startsWith('reply queue declared again'));
    expect(warning).toMatchObject({ waiting: 2, taskIds: ['t-pending', 't-running'] });

    // A task still running when the queue came back delivers its result as usual.
    succeed(transport, 't-running', 'after the reconnect');
    await expect(running.get({ timeout: 1000 })).resolves.toBe('after the reconnect');

    const error = await rejection(waited);
    expect(error).toBeInstanceOf(ResultTimeoutError);
    expect(error.message).toMatch(
      /^no result for task t-pending within 300 ms \(the reply queue was lost while it was pending and declared again at \d{4}-\d\d-\d\dT[\d:.]+Z: a result published meanwhile was dropped by the broker\)$/,
    );
  });
});
