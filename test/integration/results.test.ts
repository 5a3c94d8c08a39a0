import { ResultTimeoutError, TaskFailedError, UnroutableError } from '../../src';
import { waitFor } from '../support/broker';
import { exampleSuite } from '../support/example-suite';

class PaymentDeclined extends Error {
  override name = 'PaymentDeclined';
}

describe('results through the rpc backend', () => {
  const suite = exampleSuite('results');
  const { prefix, topology } = suite;
  let release: () => void = () => undefined;

  beforeAll(async () => {
    const workerApp = suite.app();
    workerApp.task(topology.tasks.deal1, async (text: string) => `${text}=======`);
    workerApp.task(`${prefix}.add`, async (a: number, b: number, kwargs: { times: number }) => (a + b) * kwargs.times);
    workerApp.task(`${prefix}.charge`, async (amount: number) => {
      throw new PaymentDeclined(`card declined for ${amount}`);
    });
    workerApp.task(
      `${prefix}.gated`,
      () => new Promise<string>((resolve) => (release = () => resolve('released'))),
      { trackStarted: true },
    );
    await workerApp.startWorker({ queues: [topology.queues.default, topology.queues.task1], concurrency: 4 });
  });

  test('a successful task resolves to its return value', async () => {
    const result = await suite.client.sendTask<string>(topology.tasks.deal1, ['text0']);
    await expect(result.get({ timeout: 5000 })).resolves.toBe('text0=======');
    expect(result.state).toBe('SUCCESS');
  });

  test('args and kwargs reach the handler', async () => {
    const result = await suite.client.sendTask<number>(`${prefix}.add`, [2, 3], { times: 10 });
    await expect(result.get({ timeout: 5000 })).resolves.toBe(50);
  });

  test('a failing task rejects with the remote type, message and traceback', async () => {
    const result = await suite.client.sendTask(`${prefix}.charge`, [42]);
    const error = await result.get({ timeout: 5000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TaskFailedError);
    const failed = error as TaskFailedError;
    expect(failed.code).toBe('WARREN_TASK_FAILED');
    expect(failed.taskId).toBe(result.id);
    expect(failed.remoteType).toBe('PaymentDeclined');
    expect(failed.remoteMessage).toBe('card declined for 42');
    expect(failed.traceback).toContain('card declined for 42');
    expect(result.state).toBe('FAILURE');
  });

  test('get rejects with a timeout error when no result comes in time', async () => {
    const result = await suite.client.sendTask(`${prefix}.gated`);
    await waitFor('STARTED state', () => result.state === 'STARTED', 5000);
    const error = await result.get({ timeout: 300 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ResultTimeoutError);
    expect((error as ResultTimeoutError).message).toBe(`no result for task ${result.id} within 300 ms`);
    release();
    await expect(result.get({ timeout: 5000 })).resolves.toBe('released');
  });

  test('an unroutable task rejects with the exchange and routing key, and nothing is queued', async () => {
    const error = await suite.client
      .sendTask(topology.tasks.deal1, ['lost'], {}, { exchange: topology.queues.task1, routingKey: 'no-such-key' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnroutableError);
    expect((error as UnroutableError).message).toBe(
      `message to exchange "${topology.queues.task1}" with routing key "no-such-key" was returned unroutable by the broker (312 NO_ROUTE)`,
    );
    expect(await suite.probe.messageCount(topology.queues.task1)).toBe(0);
  });

  test('tasks carry reply_to naming a reply queue declared exactly as Celery 5.2 declares it', async () => {
    const result = await suite.client.sendTask(topology.tasks.deal2, ['nobody consumes this queue']);
    const message = await suite.probe.get(topology.queues.task2);
    expect(message).not.toBe(false);
    if (message === false) return;
    expect(message.properties.correlationId).toBe(result.id);
    const replyTo = message.properties.replyTo as string;
    expect(replyTo).toMatch(/^[0-9a-f-]{36}$/);
    // Redeclaring with Celery's settings succeeds only if durable, auto-delete and x-expires all match.
    await expect(
      suite.probe.declareQueue(replyTo, { durable: false, autoDelete: true, arguments: { 'x-expires': 86_400_000 } }),
    ).resolves.toBeUndefined();
  });
});
