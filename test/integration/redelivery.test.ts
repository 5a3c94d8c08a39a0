import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createApp, createLogger, type App } from '../../src';
import { BrokerProbe, exampleTopology, randomPrefix, waitFor, writeDefinitionsFile } from '../support/broker';
import { startTestWorker, type WorkerProcess } from '../support/worker-process';

describe('redelivery when a worker dies mid-task', () => {
  const prefix = randomPrefix('redelivery');
  const topology = exampleTopology(prefix);
  const defs = writeDefinitionsFile(topology.definitions);
  const marks = join(defs.dir, 'marks.txt');
  let probe: BrokerProbe;
  let app: App;
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    probe = await BrokerProbe.open();
    app = createApp({ definitions: defs.file, logger: createLogger({ level: 'silent' }) });
  });

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop('SIGKILL')));
    await app.close();
    await probe.cleanUp(Object.values(topology.queues), topology.exchanges);
    await probe.close();
    defs.remove();
  });

  const readMarks = (): string[] => (existsSync(marks) ? readFileSync(marks, 'utf8').trim().split('\n') : []);

  test('a task whose worker is SIGKILLed completes on a second worker and the caller gets its result', async () => {
    const first = startTestWorker({ prefix, definitions: defs.file, queues: [topology.queues.default], name: 'doomed@test', concurrency: 1, env: { WARREN_TEST_MARKS: marks } });
    workers.push(first);
    await first.ready;

    const result = await app.sendTask<{ label: string; worker: string }>(`${prefix}.slow`, ['job-1', 1500]);
    await waitFor('the first worker to start the task', () => readMarks().length === 1);
    expect(readMarks()).toEqual(['job-1 doomed@test false']);
    await first.stop('SIGKILL');

    // Nothing was acked early: the broker holds the task again.
    await waitFor('the task to return to the queue', async () => (await probe.messageCount(topology.queues.default)) === 1);
    expect(result.state).toBe('PENDING');

    const second = startTestWorker({ prefix, definitions: defs.file, queues: [topology.queues.default], name: 'survivor@test', concurrency: 1, env: { WARREN_TEST_MARKS: marks } });
    workers.push(second);
    await second.ready;

    await expect(result.get({ timeout: 10_000 })).resolves.toEqual({ label: 'job-1', worker: 'survivor@test' });
    expect(result.worker).toBe('survivor@test');
    expect(readMarks()).toEqual(['job-1 doomed@test false', 'job-1 survivor@test true']);
    expect(await probe.messageCount(topology.queues.default)).toBe(0);
  });
});
