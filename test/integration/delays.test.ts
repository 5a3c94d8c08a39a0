import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TaskContext } from '../../src';
import { waitFor } from '../support/broker';
import { testBrokerUrl } from '../support/broker-url';
import { captureLogger } from '../support/capture-logger';
import { exampleSuite } from '../support/example-suite';
import { CELERY_FIXTURES, PYTHON, requirePythonCelery } from '../support/python-celery';

const run = promisify(execFile);

/** When each task ran, against when it was due. */
interface Ran {
  label: string;
  ranAt: number;
  eta: Date | null;
}

/** Prints and returns how late each task ran after its due time, in ms. */
function lateness(what: string, due: number, ran: Ran): number {
  const late = ran.ranAt - due;
  process.stdout.write(`${what}: ran ${late} ms after its due time\n`);
  return late;
}

describe('delays kept by the broker: countdown and eta', () => {
  const suite = exampleSuite('delays');
  const { prefix, topology } = suite;
  const logs = captureLogger('debug');
  const ran: Ran[] = [];
  const ranFor = (label: string): Ran | undefined => ran.find((r) => r.label === label);

  beforeAll(async () => {
    const workerApp = suite.app(logs.logger);
    workerApp.task(`${prefix}.stamp`, (ctx: TaskContext, label: string) => {
      ran.push({ label, ranAt: Date.now(), eta: ctx.eta });
      return label;
    }, { bind: true });
    await workerApp.startWorker({ queues: [topology.queues.default], concurrency: 4 });
  });

  const movedByWorker = (): Array<Record<string, unknown>> => logs.lines().filter((l) => l.msg === 'task not due yet: moved into the delay levels');

  test('countdowns of 1, 2 and 3 s and an eta 2.5 s ahead run no earlier than due, and less than a second late', async () => {
    const sentAt = Date.now();
    const cases = [
      { label: 'countdown-1', options: { countdown: 1 }, due: sentAt + 1000 },
      { label: 'countdown-2', options: { countdown: 2 }, due: sentAt + 2000 },
      { label: 'countdown-3', options: { countdown: 3 }, due: sentAt + 3000 },
      { label: 'eta-2.5', options: { eta: new Date(sentAt + 2500) }, due: sentAt + 2500 },
    ];
    const results = await Promise.all(cases.map((c) => suite.client.sendTask(`${prefix}.stamp`, [c.label], {}, c.options)));
    // Held by the broker, not by the worker: nothing is in the queue, nothing ran.
    expect(await suite.probe.messageCount(topology.queues.default)).toBe(0);
    expect(ran).toEqual([]);

    await Promise.all(results.map((r) => r.get({ timeout: 10_000 })));
    for (const c of cases) {
      const record = ranFor(c.label)!;
      // The eta the task saw is the one the client computed (countdown added to its send time).
      expect(record.eta!.getTime()).toBeGreaterThanOrEqual(c.due);
      const late = lateness(c.label, record.eta!.getTime(), record);
      expect(late).toBeGreaterThanOrEqual(0);
      expect(late).toBeLessThan(1000);
    }
    // Every one arrived on time, so none had to be sent round again.
    expect(movedByWorker()).toEqual([]);
  });

  test('an eta in the past runs at once', async () => {
    const result = await suite.client.sendTask(`${prefix}.stamp`, ['past'], {}, { eta: new Date(Date.now() - 60_000) });
    const sentAt = Date.now();
    await expect(result.get({ timeout: 5000 })).resolves.toBe('past');
    expect(ranFor('past')!.ranAt - sentAt).toBeLessThan(1000);
  });

  test('while it waits, a delayed task is in the broker\'s delay levels, not in its queue or the worker', async () => {
    const result = await suite.client.sendTask(`${prefix}.stamp`, ['five'], {}, { countdown: 5 });
    // 5 s = 4 s + 1 s: the message waits in the 4 s level first.
    await waitFor('the message in the 4 s level', async () => (await suite.probe.messageCount('warren.delay.4s')) > 0);
    expect(await suite.probe.messageCount(topology.queues.default)).toBe(0);
    expect(result.state).toBe('PENDING');
    expect(ranFor('five')).toBeUndefined();
    await expect(result.get({ timeout: 10_000 })).resolves.toBe('five');
    expect(lateness('countdown-5', ranFor('five')!.eta!.getTime(), ranFor('five')!)).toBeLessThan(1000);
  });

  test('a Python Celery client\'s countdown task, arriving early, is moved into the delay levels and runs at its eta', async () => {
    requirePythonCelery();
    const queue = topology.queues.default;
    const script = [
      'import json, sys',
      'from interop_config import make_app',
      "app = make_app('warren_delay_client')",
      'r = app.send_task(sys.argv[1], [sys.argv[2]], countdown=float(sys.argv[3]), ignore_result=True)',
      "print(json.dumps({'id': r.id}))",
    ].join('\n');
    const env = {
      ...process.env,
      PYTHONPATH: CELERY_FIXTURES,
      PYTHONDONTWRITEBYTECODE: '1',
      CELERY_INTEROP_BROKER_URL: testBrokerUrl(),
      CELERY_INTEROP_PREFIX: prefix,
      CELERY_INTEROP_QUEUE: queue,
    };
    const before = movedByWorker().length;
    const { stdout } = await run(PYTHON, ['-c', script, `${prefix}.stamp`, 'from-python', '3'], { env, cwd: join(CELERY_FIXTURES), timeout: 20_000 });
    const { id } = JSON.parse(stdout.trim().split('\n').pop()!) as { id: string };

    // The worker got it at once (Celery sends it straight to the queue) and moved it, without running it.
    await waitFor('the worker to move the early task', () => movedByWorker().length > before);
    expect(movedByWorker().at(-1)).toMatchObject({ taskId: id, queue });
    expect(ranFor('from-python')).toBeUndefined();

    await waitFor('the Python task to run', () => ranFor('from-python') !== undefined, 10_000);
    const record = ranFor('from-python')!;
    const late = lateness('python countdown 3', record.eta!.getTime(), record);
    expect(late).toBeGreaterThanOrEqual(0);
    expect(late).toBeLessThan(1500);
    // The worker moved it once; it came back due and ran.
    expect(movedByWorker().filter((l) => l.taskId === id)).toHaveLength(1);
  });
});
