import { createApp, createLogger, type App } from '../../src';
import { BrokerProbe, exampleTopology, randomPrefix, waitFor, writeDefinitionsFile } from '../support/broker';
import { captureLogger } from '../support/capture-logger';

describe('messages that are not valid tasks', () => {
  const prefix = randomPrefix('invalid');
  const topology = exampleTopology(prefix);
  const defs = writeDefinitionsFile(topology.definitions);
  const logs = captureLogger('info');
  let probe: BrokerProbe;
  let client: App;
  let workerApp: App;

  beforeAll(async () => {
    probe = await BrokerProbe.open();
    client = createApp({ definitions: defs.file, logger: createLogger({ level: 'silent' }) });
    workerApp = createApp({ definitions: defs.file, logger: logs.logger });
    workerApp.task(topology.tasks.deal1, async (text: string) => `${text}=======`);
    await workerApp.startWorker({ queues: [topology.queues.task1], concurrency: 1 });
  });

  afterAll(async () => {
    await workerApp.close();
    await client.close();
    await probe.cleanUp(Object.values(topology.queues), topology.exchanges);
    await probe.close();
    defs.remove();
  });

  const rejections = (): Array<Record<string, unknown>> => logs.lines().filter((l) => l.msg === 'message rejected: not a valid task');

  test('each is rejected without requeue and logged with its reason, and the next valid task still runs', async () => {
    const queue = topology.queues.task1;
    const v2 = (task: string) => ({ contentType: 'application/json', contentEncoding: 'utf-8', headers: { task, id: `${prefix}-id` } });
    await probe.sendRaw(queue, Buffer.from('this is not json'), v2(topology.tasks.deal1));
    await probe.sendRaw(queue, Buffer.from('[[1], {}, {}]'), { contentType: 'application/x-python-serialize', headers: { task: topology.tasks.deal1, id: 'p' } });
    await probe.sendRaw(queue, Buffer.from('[1, 2]'), v2(topology.tasks.deal1));
    await probe.sendRaw(queue, Buffer.from('[[], {}, {}]'), v2(`${prefix}.no.such.task`));

    await waitFor('four rejections', () => rejections().length === 4).catch((err) => {
      throw new Error(`${(err as Error).message}; logged: ${JSON.stringify(logs.lines())}`);
    });
    const reasons = rejections().map((l) => String(l.reason));
    expect(reasons[0]).toMatch(/not valid JSON/);
    expect(reasons[1]).toMatch(/application\/x-python-serialize/);
    expect(reasons[2]).toMatch(/\[args, kwargs, embed\]/);
    expect(reasons[3]).toBe(`task "${prefix}.no.such.task" is not registered on this worker`);

    const result = await client.sendTask<string>(topology.tasks.deal1, ['still-alive']);
    await expect(result.get({ timeout: 5000 })).resolves.toBe('still-alive=======');
    // Rejected without requeue: nothing came back to the queue.
    expect(await probe.messageCount(queue)).toBe(0);
  });
});
