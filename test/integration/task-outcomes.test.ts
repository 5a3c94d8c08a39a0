import { availableParallelism } from 'node:os';
import { ListenerError, Retry, TaskFailedError, UsageError, currentTask, type AsyncResult, type TaskContext, type Worker, type WorkerSummary } from '../../src';
import { waitFor } from '../support/broker';
import { testBrokerUrl } from '../support/broker-url';
import { captureLogger } from '../support/capture-logger';
import { brokerSuite } from '../support/example-suite';

/** The error `get()` rejected with, which must be a TaskFailedError. */
async function failureOf(result: AsyncResult<unknown>): Promise<TaskFailedError> {
  const error = await result.get({ timeout: 10_000 }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(TaskFailedError);
  return error as TaskFailedError;
}

describe('what happens to a task and its message, whatever the task returns, throws or asks', () => {
  const names = (prefix: string) => ({
    exchange: `${prefix}.x`,
    queues: { work: `${prefix}.work`, small: `${prefix}.small`, slow: `${prefix}.slow`, summary: `${prefix}.summary` },
  });
  const suite = brokerSuite('outcomes', (prefix) => {
    const { exchange, queues } = names(prefix);
    const all = Object.values(queues);
    return {
      definitions: {
        broker: { url: testBrokerUrl() },
        exchanges: [{ name: exchange, type: 'direct' }],
        queues: all.map((name) => ({ name, exchange, routingKey: name, deadLetterQueue: true })),
        defaultQueue: queues.work,
      },
      queues: [...all, ...all.map((q) => `${q}.dlq`)],
      exchanges: [exchange, ...all.map((q) => `${q}.dlq`)],
    };
  });
  const { prefix } = suite;
  const { queues } = names(prefix);
  const logs = captureLogger('info');
  const runs = new Map<string, number>();
  const listenerErrors: Error[] = [];
  let worker!: Worker;

  const ran = (name: string): void => {
    runs.set(name, (runs.get(name) ?? 0) + 1);
  };
  /** Task ids whose task event came: emitted once the message is settled. */
  const settled = new Set<string>();
  /** The message was settled as the task's outcome (acked: a rejection emits message-rejected instead), and nothing is left. */
  const acked = async (result: AsyncResult<unknown>, queue: string): Promise<void> => {
    await waitFor(`task ${result.id} to be settled`, () => settled.has(result.id));
    expect(await suite.probe.messageCount(queue)).toBe(0);
    expect(await suite.probe.messageCount(`${queue}.dlq`)).toBe(0);
  };

  beforeAll(async () => {
    const app = suite.app(logs.logger);
    const circular: Record<string, unknown> = { name: 'loop' };
    circular.self = circular;
    const unsendable: Record<string, () => unknown> = {
      bigint: () => 10n,
      function: () => () => 1,
      map: () => new Map([[1, 2]]),
      set: () => new Set([1]),
      circular: () => circular,
      nested: () => ({ rows: [{ id: 1n }] }),
    };
    for (const [kind, value] of Object.entries(unsendable)) {
      app.task(`${prefix}.returns.${kind}`, () => {
        ran(`returns.${kind}`);
        return value();
      });
    }
    app.task(`${prefix}.ok`, (label: string) => label);
    app.task(`${prefix}.retryWith`, (ctx: TaskContext, options: Record<string, unknown>) => {
      ran(`retryWith ${JSON.stringify(options)}`);
      // JSON carries neither NaN nor Infinity nor Dates: the test sends them as strings.
      const given = Object.fromEntries(
        Object.entries(options).map(([k, v]) => [k, v === 'NaN' ? NaN : v === 'Infinity' ? Infinity : k === 'eta' ? new Date(v as string) : v]),
      );
      ctx.retry(given);
    }, { bind: true, retry: { max: 3 } });
    app.task(`${prefix}.throwsRetry`, () => {
      ran('throwsRetry');
      throw new Retry({ countdown: NaN });
    });
    app.task(`${prefix}.where`, () => {
      const ctx = currentTask();
      return { taskId: ctx?.taskId, queue: ctx?.queue };
    });
    worker = await app.startWorker({ queues: [queues.work], concurrency: 4 });
    worker.on('error', (error) => listenerErrors.push(error));
    worker.on('task-succeeded', (event) => settled.add(event.taskId)).on('task-failed', (event) => settled.add(event.taskId));
  });

  describe('a result JSON cannot carry is an EncodeError FAILURE that reaches the caller; the message is acked', () => {
    test.each([
      ['bigint', 'found bigint 10 at result'],
      ['function', 'found function at result'],
      ['map', 'found Map at result'],
      ['set', 'found Set at result'],
      ['circular', 'found a reference to an enclosing value (circular structure) at result.self'],
      ['nested', 'found bigint 1 at result.rows[0].id'],
    ])('%s', async (kind, found) => {
      const result = await suite.client.sendTask(`${prefix}.returns.${kind}`);
      const failed = await failureOf(result);
      expect(failed.remoteType).toBe('EncodeError');
      expect(failed.remoteModule).toBe('kombu.exceptions');
      expect(failed.remoteMessage).toBe(`the SUCCESS result of task ${prefix}.returns.${kind}[${result.id}] cannot be sent as JSON: ${found}`);
      expect(result.state).toBe('FAILURE');
      await acked(result, queues.work);
      expect(runs.get(`returns.${kind}`)).toBe(1);
    });
  });

  describe('ctx.retry() with options sendTask would refuse fails the task with a clear error, never a republish loop', () => {
    test.each([
      [{ countdown: 'NaN' }, 'countdown must be a number of seconds >= 0 (got NaN)'],
      [{ countdown: -5 }, 'countdown must be a number of seconds >= 0 (got -5)'],
      [{ countdown: 'Infinity' }, 'countdown must be a number of seconds >= 0 (got Infinity)'],
      [{ eta: 'not a date' }, 'eta must be a valid Date (got Invalid Date)'],
      [{ countdown: 1, eta: '2030-01-01T00:00:00Z' }, 'give countdown or eta, not both'],
    ])('%j', async (sent, problem) => {
      const label = `retryWith ${JSON.stringify(sent)}`;
      const result = await suite.client.sendTask(`${prefix}.retryWith`, [sent]);
      const failed = await failureOf(result);
      expect(failed.remoteType).toBe('UsageError');
      expect(failed.remoteMessage).toBe(`task ${prefix}.retryWith[${result.id}]: ctx.retry(): ${problem}`);
      await acked(result, queues.work);
      expect(result.history).toEqual(['PENDING', 'FAILURE']);
      expect(runs.get(label)).toBe(1);
    });

    test('a Retry thrown by hand with a NaN countdown: the same', async () => {
      const result = await suite.client.sendTask(`${prefix}.throwsRetry`);
      const failed = await failureOf(result);
      expect(failed.remoteMessage).toBe(`task ${prefix}.throwsRetry[${result.id}]: ctx.retry(): countdown must be a number of seconds >= 0 (got NaN)`);
      await acked(result, queues.work);
      expect(runs.get('throwsRetry')).toBe(1);
    });
  });

  test('a task-succeeded listener that throws changes nothing: SUCCESS, the message acked; its error is emitted as error', async () => {
    const bug = new Error('a bug in a listener');
    worker.on('task-succeeded', () => {
      throw bug;
    });
    const result = await suite.client.sendTask(`${prefix}.ok`, ['listened']);
    await expect(result.get({ timeout: 5000 })).resolves.toBe('listened');
    await acked(result, queues.work);
    await waitFor('the listener error', () => listenerErrors.length > 0);
    expect(listenerErrors[0]).toBeInstanceOf(ListenerError);
    expect(listenerErrors[0]).toMatchObject({ event: 'task-succeeded', cause: bug });
  });

  test('currentTask() gives an unbound handler its context', async () => {
    const result = await suite.client.sendTask(`${prefix}.where`);
    await expect(result.get({ timeout: 5000 })).resolves.toEqual({ taskId: result.id, queue: queues.work });
  });

  test('at info, one line per task: name, id, state, runtime', async () => {
    const result = await suite.client.sendTask(`${prefix}.ok`, ['logged']);
    await result.get({ timeout: 5000 });
    // Logged once the message is acked, which may come after the caller has the result.
    const lineOf = () => logs.lines().find((l) => l.msg === 'task succeeded' && l.taskId === result.id);
    await waitFor('the task succeeded line', () => lineOf() !== undefined);
    const line = lineOf();
    expect(line).toMatchObject({ level: 30, task: `${prefix}.ok`, taskId: result.id, state: 'SUCCESS', queue: queues.work });
    expect(typeof line?.runtimeMs).toBe('number');
    const failedLine = logs.lines().find((l) => l.msg === 'task failed' && l.task === `${prefix}.throwsRetry`);
    expect(failedLine).toMatchObject({ level: 40, state: 'FAILURE' });
  });

  test('a result over maxMessageBytes is a FAILURE naming the size and the limit, run once', async () => {
    const app = suite.app();
    let bigRuns = 0;
    app.task(`${prefix}.big`, () => {
      bigRuns += 1;
      return 'x'.repeat(4096);
    });
    const own = await app.startWorker({ queues: [queues.small], concurrency: 1, maxMessageBytes: 2048 });
    own.on('task-failed', (event) => settled.add(event.taskId));
    const result = await suite.client.sendTask(`${prefix}.big`, [], {}, { queue: queues.small });
    const failed = await failureOf(result);
    expect(failed.remoteType).toBe('MessageTooLargeError');
    expect(failed.remoteMessage).toMatch(
      new RegExp(`^the SUCCESS result of task ${prefix.replace(/\./g, '\\.')}\\.big\\[${result.id}\\]: the message body is 4\\.\\d KiB \\(\\d+ bytes\\), over the maximum message size of 2 KiB \\(2048 bytes\\)`),
    );
    await acked(result, queues.small);
    expect(bigRuns).toBe(1);
  });

  test('app.startWorker resolves its options as warren worker does: the CPU count by default, a bad value refused before anything starts', async () => {
    const app = suite.app();
    await expect(app.startWorker({ queues: [queues.summary], concurrency: 2.5 })).rejects.toThrow(
      new UsageError('concurrency must be a whole number of at least 1 (got 2.5)'),
    );
    const own = await app.startWorker({ queues: [queues.summary] });
    expect(own.options).toMatchObject({ concurrency: availableParallelism(), prefetchMultiplier: 1, shutdownTimeoutMs: 30_000, queues: [queues.summary] });
    await own.stop();
  });

  test('ready and closed events; the stop summary counts what the worker did', async () => {
    const app = suite.app(logs.logger);
    app.task(`${prefix}.fine`, () => 'fine');
    app.task(`${prefix}.bad`, () => {
      throw new Error('bad');
    });
    const ready: unknown[] = [];
    const closed: WorkerSummary[] = [];
    const own = await app.startWorker({ queues: [queues.summary], concurrency: 2, hostname: 'summary@test' });
    own.on('ready', (event) => ready.push(event)).on('closed', (summary) => closed.push(summary));
    await waitFor('ready', () => ready.length === 1);
    expect(ready[0]).toEqual({ hostname: 'summary@test', queues: [queues.summary], concurrency: 2, prefetch: 2 });
    const results = await Promise.all([
      suite.client.sendTask(`${prefix}.fine`, [], {}, { queue: queues.summary }),
      suite.client.sendTask(`${prefix}.fine`, [], {}, { queue: queues.summary }),
      suite.client.sendTask(`${prefix}.bad`, [], {}, { queue: queues.summary }),
    ]);
    await Promise.all(results.map((r) => r.get({ timeout: 5000 }).catch(() => undefined)));
    await own.stop();
    expect(closed).toEqual([{ processed: 3, succeeded: 2, failed: 1, retried: 0, revoked: 0, rejected: 0, handedBack: 0 }]);
    const stopped = logs.lines().find((l) => l.msg === 'worker stopped' && l.hostname === 'summary@test');
    expect(stopped).toMatchObject({ level: 30, processed: 3, succeeded: 2, failed: 1, retried: 0 });
  });

  test('past the shutdown timeout the running task is handed back, and what it does later is ignored: no result, no second settle', async () => {
    const app = suite.app();
    let finished = false;
    app.task(`${prefix}.long`, async () => {
      await new Promise((resolve) => setTimeout(resolve, 1500));
      finished = true;
      return 'late';
    });
    const own = await app.startWorker({ queues: [queues.slow], concurrency: 1, shutdownTimeoutMs: 200 });
    const result = await suite.client.sendTask(`${prefix}.long`, [], {}, { queue: queues.slow });
    await waitFor('the task to start', () => own.active === 1);
    await own.stop();
    expect(finished).toBe(false); // stop() did not wait for it
    await waitFor('the delivery back in the queue', async () => (await suite.probe.messageCount(queues.slow)) === 1);
    await waitFor('the task to finish in the background', () => finished);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(result.history).toEqual(['PENDING']); // no result published by the abandoned run
    expect(await suite.probe.messageCount(queues.slow)).toBe(1);
    expect(own.stats).toMatchObject({ handedBack: 1, processed: 0 });
  });
});
