import { waitFor } from '../support/broker';
import { captureLogger } from '../support/capture-logger';
import { exampleSuite } from '../support/example-suite';

describe('messages that are not valid tasks', () => {
  const suite = exampleSuite('invalid');
  const { prefix, topology } = suite;
  const logs = captureLogger('info');

  beforeAll(async () => {
    const workerApp = suite.app(logs.logger);
    workerApp.task(topology.tasks.deal1, async (text: string) => `${text}=======`);
    await workerApp.startWorker({ queues: [topology.queues.task1], concurrency: 1 });
  });

  const rejections = (): Array<Record<string, unknown>> => logs.lines().filter((l) => l.msg === 'message rejected: not a valid task');

  test('each is rejected without requeue and logged with its reason, and the next valid task still runs', async () => {
    const queue = topology.queues.task1;
    const v2 = (task: string) => ({ contentType: 'application/json', contentEncoding: 'utf-8', headers: { task, id: `${prefix}-id` } });
    await suite.probe.sendRaw(queue, Buffer.from('this is not json'), v2(topology.tasks.deal1));
    await suite.probe.sendRaw(queue, Buffer.from('[[1], {}, {}]'), { contentType: 'application/x-python-serialize', headers: { task: topology.tasks.deal1, id: 'p' } });
    await suite.probe.sendRaw(queue, Buffer.from('[1, 2]'), v2(topology.tasks.deal1));
    await suite.probe.sendRaw(queue, Buffer.from('[[], {}, {}]'), v2(`${prefix}.no.such.task`));

    await waitFor('four rejections', () => rejections().length === 4).catch((err) => {
      throw new Error(`${(err as Error).message}; logged: ${JSON.stringify(logs.lines())}`);
    });
    const reasons = rejections().map((l) => String(l.reason));
    expect(reasons[0]).toMatch(/not valid JSON/);
    expect(reasons[1]).toMatch(/application\/x-python-serialize/);
    expect(reasons[2]).toMatch(/\[args, kwargs, embed\]/);
    expect(reasons[3]).toBe(`task "${prefix}.no.such.task" is not registered on this worker`);

    const result = await suite.client.sendTask<string>(topology.tasks.deal1, ['still-alive']);
    await expect(result.get({ timeout: 5000 })).resolves.toBe('still-alive=======');
    // Rejected without requeue: nothing came back to the queue.
    expect(await suite.probe.messageCount(queue)).toBe(0);
  });

  test('a message over the maximum size is rejected unparsed, with the sizes in its reason', async () => {
    const queue = topology.queues.task1;
    const oversized = Buffer.alloc(1024 * 1024 + 1, '{');
    await suite.probe.sendRaw(queue, oversized, { contentType: 'application/json', contentEncoding: 'utf-8', headers: { task: topology.tasks.deal1, id: `${prefix}-big` } });

    await waitFor('the rejection', () => logs.lines().some((l) => l.msg === 'message rejected: too large'));
    const [line] = logs.lines().filter((l) => l.msg === 'message rejected: too large');
    expect(line.reason).toBe(
      `task ${topology.tasks.deal1}[${prefix}-big]: the message body is 1 MiB (1048577 bytes), over the maximum message size of 1 MiB (1048576 bytes); ` +
        'pass large data by reference, or raise maxMessageBytes (--max-message-size)',
    );
    // Never parsed: no JSON error was logged for it.
    expect(rejections().filter((l) => l.taskId === `${prefix}-big`)).toEqual([]);
    expect(await suite.probe.messageCount(queue)).toBe(0);
    const result = await suite.client.sendTask<string>(topology.tasks.deal1, ['after-big']);
    await expect(result.get({ timeout: 5000 })).resolves.toBe('after-big=======');
  });

  test('sendTask refuses a task over the maximum size before anything reaches the queue', async () => {
    const queue = topology.queues.task2;
    const before = await suite.probe.messageCount(queue);
    await expect(suite.client.sendTask(topology.tasks.deal2, ['x'.repeat(1024 * 1024)])).rejects.toMatchObject({
      code: 'WARREN_MESSAGE_TOO_LARGE',
      limitBytes: 1024 * 1024,
    });
    expect(await suite.probe.messageCount(queue)).toBe(before);
  });
});
