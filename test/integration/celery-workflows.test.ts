import { randomUUID } from 'node:crypto';
import { createApp, createLogger, TaskFailedError, type App, type TaskContext } from '../../src';
import { BrokerProbe, randomPrefix, writeDefinitionsFile } from '../support/broker';
import { testBrokerUrl } from '../support/broker-url';
import { PythonCeleryWorker, requirePythonCelery, runPythonClientJson, type PythonCeleryConfig } from '../support/python-celery';
import { deleteResultsOf, RedisProbe, testRedisUrl } from '../support/redis';

/**
 * Workflows shared by Python Celery 5.2 and warren with the Redis result backend, each side
 * building them and each side's tasks in every position: chains, callbacks, errbacks, groups and
 * chords, the result read by either side.
 */

/** What workflow_client.py prints for one outcome. */
interface Outcome {
  id: string;
  status: string | null;
  result?: unknown;
  exc_type?: string;
  exc_module?: string;
  exc_str?: string;
  outcomes?: Record<string, Outcome>;
}

/** A workflow for workflow_client.py: a signature, a chain, a group or a chord. */
type Workflow =
  | { sig: string; args?: unknown[]; immutable?: boolean; task_id?: string; link?: Workflow[]; link_error?: Workflow[] }
  | { chain: Workflow[] }
  | { group: Workflow[] }
  | { chord: Workflow[]; body: Workflow };

const sig = (name: string, ...args: unknown[]): Workflow => ({ sig: name, args });

describe('workflows across Python Celery 5.2 and warren (Redis result backend)', () => {
  const prefix = randomPrefix('wf');
  const jsQueue = `${prefix}.js`;
  const pyQueue = `${prefix}.py`;
  const brokerUrl = testBrokerUrl();
  const redisUrl = testRedisUrl();
  const defs = writeDefinitionsFile({
    broker: { url: brokerUrl },
    exchanges: [
      { name: jsQueue, type: 'direct' },
      { name: pyQueue, type: 'direct' },
    ],
    queues: [
      { name: jsQueue, exchange: jsQueue, routingKey: jsQueue },
      { name: pyQueue, exchange: pyQueue, routingKey: pyQueue },
    ],
    defaultQueue: jsQueue,
    routes: { [`${prefix}.py_*`]: { queue: pyQueue }, [`${prefix}.js_*`]: { queue: jsQueue } },
    resultBackend: redisUrl,
  });
  const python: PythonCeleryConfig = { brokerUrl, prefix, queue: pyQueue, jsQueue, backend: redisUrl };
  const logger = createLogger({ level: 'silent' });
  let workerApp: App;
  let client: App;
  let pythonWorker: PythonCeleryWorker | undefined;
  let redis: RedisProbe;

  const run = (workflow: Workflow, timeoutS = 20): Promise<Outcome> =>
    runPythonClientJson<Outcome>(python, ['run', JSON.stringify(workflow), String(timeoutS)], (timeoutS + 15) * 1000, 'workflow_client.py');

  beforeAll(async () => {
    requirePythonCelery();
    redis = await RedisProbe.open();
    workerApp = createApp({ definitions: defs.file, logger });
    workerApp.task(`${prefix}.js_add`, async (a: number, b: number) => a + b);
    workerApp.task(`${prefix}.js_mul`, async (a: number, b: number) => a * b);
    workerApp.task(`${prefix}.js_tsum`, async (values: number[]) => values.reduce((sum, v) => sum + v, 0));
    workerApp.task(`${prefix}.js_boom`, async () => {
      throw new RangeError('js boom');
    });
    workerApp.task(`${prefix}.js_noted`, async (taskId: string) => `js noted ${taskId}`);
    workerApp.task(
      `${prefix}.js_progress`,
      async (ctx: TaskContext) => {
        await ctx.updateState('PROGRESS', { done: 1, total: 2 });
        await new Promise((resolve) => setTimeout(resolve, 300));
        return 'js done';
      },
      { bind: true },
    );
    await workerApp.startWorker({ queues: [jsQueue], concurrency: 4 });
    client = createApp({ definitions: defs.file, logger });
    pythonWorker = new PythonCeleryWorker(python, { module: 'workflow_worker' });
    await pythonWorker.ready;
  }, 60_000);

  afterAll(async () => {
    await client?.close();
    await workerApp?.close();
    await pythonWorker?.stop();
    const deleted = await deleteResultsOf(prefix);
    console.log(`deleted ${deleted} result keys of ${prefix} from ${redisUrl}`);
    await redis?.close();
    const probe = await BrokerProbe.open();
    await probe.cleanUp([jsQueue, pyQueue], [jsQueue, pyQueue]);
    await probe.close();
    defs.remove();
  });

  describe('Python builds the workflow', () => {
    test.each<[string, Workflow, number]>([
      ['warren, warren', { chain: [sig('js_add', 2, 3), sig('js_mul', 10)] }, 50],
      ['Python, warren', { chain: [sig('py_add', 2, 3), sig('js_mul', 10)] }, 50],
      ['warren, Python', { chain: [sig('js_add', 2, 3), sig('py_mul', 10)] }, 50],
      ['warren, Python, warren', { chain: [sig('js_add', 2, 3), sig('py_mul', 10), sig('js_add', 1)] }, 51],
      ['Python, warren, Python', { chain: [sig('py_add', 2, 3), sig('js_mul', 10), sig('py_add', 1)] }, 51],
      ['warren, then an immutable warren step', { chain: [sig('js_add', 1, 1), { sig: 'js_add', args: [5, 5], immutable: true }] }, 10],
    ])('chain (%s)', async (_label, workflow, expected) => {
      await expect(run(workflow)).resolves.toMatchObject({ status: 'SUCCESS', result: expected });
    });

    test.each<[string, string, string]>([
      ['warren task, warren callback', 'js_add', 'js_mul'],
      ['warren task, Python callback', 'js_add', 'py_mul'],
      ['Python task, warren callback', 'py_add', 'js_mul'],
    ])('link (%s): the callback gets the result first', async (_label, task, callback) => {
      const callbackId = randomUUID();
      const out = await run({ sig: task, args: [2, 3], link: [{ sig: callback, args: [10], task_id: callbackId }] });
      expect(out).toMatchObject({ status: 'SUCCESS', result: 5 });
      expect(out.outcomes?.[callbackId]).toMatchObject({ status: 'SUCCESS', result: 50 });
    });

    test.each<[string, string, string, string, string]>([
      ['warren task, warren errback', 'js_boom', 'js_noted', 'js noted', 'ValueError'],
      ['warren task, Python errback', 'js_boom', 'py_noted', 'py noted', 'ValueError'],
      ['Python task, warren errback', 'py_boom', 'js_noted', 'js noted', 'ValueError'],
    ])('link_error (%s): the errback gets the failed task\'s id', async (_label, task, errback, said, excType) => {
      const errbackId = randomUUID();
      const out = await run({ sig: task, args: [], link_error: [{ sig: errback, task_id: errbackId }] });
      expect(out).toMatchObject({ status: 'FAILURE', exc_type: excType });
      expect(out.outcomes?.[errbackId]).toMatchObject({ status: 'SUCCESS', result: `${said} ${out.id}` });
    });

    test('group of warren and Python tasks: the results in order', async () => {
      const out = await run({ group: [sig('js_add', 1, 1), sig('py_add', 2, 2), sig('js_mul', 3, 3), sig('py_mul', 4, 4)] });
      expect(out.result).toEqual([2, 4, 9, 16]);
    });

    test.each<[string, Workflow, number]>([
      ['warren header, warren body', { chord: [sig('js_add', 1, 1), sig('js_add', 2, 2)], body: sig('js_tsum') }, 6],
      ['mixed header, Python body', { chord: [sig('js_add', 1, 1), sig('py_add', 2, 2), sig('js_mul', 3, 3)], body: sig('py_tsum') }, 15],
      ['Python header, warren body', { chord: [sig('py_add', 1, 1), sig('py_mul', 2, 3)], body: sig('js_tsum') }, 8],
      ['mixed header, warren body', { chord: [sig('py_add', 1, 1), sig('js_add', 2, 2), sig('py_mul', 3, 3)], body: sig('js_tsum') }, 15],
      ['in a chain: warren, group of warren and Python, warren', { chain: [sig('js_add', 1, 1), { group: [sig('js_add', 1), sig('py_add', 2)] }, sig('js_tsum')] }, 7],
      ['in a chain: Python, group of warren, Python', { chain: [sig('py_add', 1, 1), { group: [sig('js_add', 1), sig('js_add', 2)] }, sig('py_tsum')] }, 7],
    ])('chord (%s): the body gets the header\'s results in order', async (_label, workflow, expected) => {
      await expect(run(workflow)).resolves.toMatchObject({ status: 'SUCCESS', result: expected });
    });

    test.each<[string, string]>([
      ['warren', 'js_boom'],
      ['Python', 'py_boom'],
    ])('chord whose %s header task fails: the body fails with ChordError naming it', async (_label, failing) => {
      // Python's get() of the chord's result raises the failed header task's own error (it checks the parents first)...
      const out = await run({ chord: [sig('js_add', 1, 1), sig(failing)], body: sig('js_tsum') });
      expect(out).toMatchObject({ exc_type: 'ValueError' });
      // ...and the body's stored state, read alone, is Celery's ChordError.
      const body = await runPythonClientJson<Outcome>(python, ['get', out.id, '10'], 25_000, 'workflow_client.py');
      expect(body).toMatchObject({ status: 'FAILURE', exc_type: 'ChordError', exc_module: 'celery.exceptions' });
      expect(body.exc_str).toMatch(/^Dependency [0-9a-f-]{36} raised ValueError\('(js|py) boom'\)$/);
    });
  });

  describe('warren builds the workflow', () => {
    const s = (name: string, ...args: unknown[]) => client.signature<number>(`${prefix}.${name}`, args);

    test('chain of Python and warren tasks in every position', async () => {
      for (const [steps, expected] of [
        [[s('py_add', 2, 3), s('js_mul', 10), s('py_add', 1)], 51],
        [[s('js_add', 2, 3), s('py_mul', 10), s('js_add', 1)], 51],
        [[s('py_add', 2, 3), s('py_mul', 10)], 50],
      ] as const) {
        const result = await client.chain<number>(...steps).apply();
        await expect(result.get({ timeout: 20_000 })).resolves.toBe(expected);
      }
    });

    test('link and linkError with Python tasks', async () => {
      const callbackId = randomUUID();
      const ok = await s('js_add', 2, 3).link(s('py_mul', 10).set({ taskId: callbackId })).apply();
      await expect(ok.get({ timeout: 20_000 })).resolves.toBe(5);
      await expect((await client.asyncResult(callbackId)).get({ timeout: 20_000 })).resolves.toBe(50);

      const errbackId = randomUUID();
      const failed = await s('py_boom').linkError(s('js_noted').set({ taskId: errbackId })).apply();
      const error = (await failed.get({ timeout: 20_000 }).catch((e: unknown) => e)) as TaskFailedError;
      expect([error.remoteType, error.remoteMessage]).toEqual(['ValueError', 'py boom']);
      await expect((await client.asyncResult(errbackId)).get({ timeout: 20_000 })).resolves.toBe(`js noted ${failed.id}`);
    });

    test('group of Python and warren tasks: get() is the list in order', async () => {
      const group = await client.group<number[]>(s('py_add', 1, 1), s('js_add', 2, 2), s('py_mul', 3, 3)).apply();
      await expect(group.get({ timeout: 20_000 })).resolves.toEqual([2, 4, 9]);
    });

    test('chord: mixed header, Python body; warren header, Python body; Python header, warren body', async () => {
      for (const [header, body, expected] of [
        [[s('py_add', 1, 1), s('js_add', 2, 2), s('py_mul', 3, 3)], s('py_tsum'), 15],
        [[s('js_add', 1, 1), s('js_add', 2, 2)], s('py_tsum'), 6],
        [[s('py_add', 1, 1), s('py_add', 2, 2)], s('js_tsum'), 6],
      ] as const) {
        const result = await client.chord<number>([...header], body).apply();
        await expect(result.get({ timeout: 20_000 })).resolves.toBe(expected);
        expect(result.parent?.id).toBeDefined();
      }
    });

    test('a chord whose Python header task fails: get() rejects with ChordError naming it', async () => {
      const result = await client.chord<number>([s('js_add', 1, 1), s('py_boom')], s('js_tsum')).apply();
      const error = (await result.get({ timeout: 20_000 }).catch((e: unknown) => e)) as TaskFailedError;
      expect(error).toBeInstanceOf(TaskFailedError);
      expect(error.remoteType).toBe('ChordError');
      expect(error.remoteMessage).toMatch(/^Dependency [0-9a-f-]{36} raised ValueError\('py boom'\)$/);
    });
  });

  describe('a result read by id in another process', () => {
    test('Python sends, warren reads it by id', async () => {
      const { id } = await runPythonClientJson<{ id: string }>(python, ['send', `${prefix}.py_add`, '[20, 22]'], 15_000, 'workflow_client.py');
      const result = await client.asyncResult<number>(id);
      await expect(result.get({ timeout: 20_000 })).resolves.toBe(42);
      expect(result.state).toBe('SUCCESS');
      expect(result.worker).toMatch(/@/);
    });

    test('warren sends, Python reads it by id (a PROGRESS state first, then the value)', async () => {
      const sent = await client.sendTask<string>(`${prefix}.js_progress`);
      const out = await runPythonClientJson<Outcome>(python, ['get', sent.id, '20'], 35_000, 'workflow_client.py');
      expect(out).toEqual({ id: sent.id, status: 'SUCCESS', result: 'js done' });
      expect(sent.history).toEqual(['PENDING', 'PROGRESS', 'SUCCESS']);
    });

    test('warren reads a Python task\'s PROGRESS state and its meta', async () => {
      const sent = await client.sendTask(`${prefix}.py_progress`);
      await expect(sent.get({ timeout: 20_000 })).resolves.toBe('py done');
      expect(sent.history).toContain('PROGRESS');
    });
  });
});
