import { createApp, createLogger, TaskFailedError, type App, type TaskContext } from '../../src';
import { BrokerProbe, randomPrefix, writeDefinitionsFile } from '../support/broker';
import { testBrokerUrl } from '../support/broker-url';
import {
  PythonCeleryWorker,
  requirePythonCelery,
  runPythonClientJson,
  type PythonCeleryConfig,
} from '../support/python-celery';

/**
 * Python Celery 5.2 (Debian's python3-celery) and warren on one broker, with `rpc://` results
 * both ways: a Python client calls a warren worker, a warren client calls a Python worker.
 */

class PaymentDeclined extends Error {
  override name = 'PaymentDeclined';
}

/** What client.py prints for one `call`. */
interface PythonCall {
  id: string;
  status: string;
  result?: unknown;
  exc_type?: string;
  exc_module?: string;
  exc_str?: string;
  traceback?: string | null;
  date_done?: string | null;
}

describe('Celery interop: Python Celery 5.2 and warren on the same broker', () => {
  const prefix = randomPrefix('celery');
  /** Consumed by the warren worker; the Python client sends to it. */
  const warrenQueue = `${prefix}.q`;
  /** Consumed by the Python worker; the warren client sends to it. */
  const pythonQueue = `${prefix}.pyq`;
  const brokerUrl = testBrokerUrl();
  // Each queue as Celery declares a queue it creates for a route: durable, no arguments, bound
  // to a durable direct exchange of the same name with the queue name as routing key.
  const document = {
    broker: { url: brokerUrl },
    exchanges: [
      { name: warrenQueue, type: 'direct', durable: true, autoDelete: false },
      { name: pythonQueue, type: 'direct', durable: true, autoDelete: false },
    ],
    queues: [
      { name: warrenQueue, exchange: warrenQueue, routingKey: warrenQueue, durable: true, autoDelete: false },
      { name: pythonQueue, exchange: pythonQueue, routingKey: pythonQueue, durable: true, autoDelete: false },
    ],
    defaultQueue: warrenQueue,
    routes: { [`${prefix}.*`]: { queue: pythonQueue } },
  };
  const defs = writeDefinitionsFile(document);
  const pythonClientConfig: PythonCeleryConfig = { brokerUrl, prefix, queue: warrenQueue };
  const pythonWorkerConfig: PythonCeleryConfig = { brokerUrl, prefix, queue: pythonQueue };
  const logger = createLogger({ level: 'silent' });
  /** Set once Python Celery answered; nested hooks start nothing without it. */
  let pythonCelery: string | undefined;

  beforeAll(() => {
    // Fails (never skips) every test of the file when the real peer is missing.
    pythonCelery = requirePythonCelery();
    expect(pythonCelery).toMatch(/^5\.\d+\.\d+/);
  });

  afterAll(async () => {
    const probe = await BrokerProbe.open();
    await probe.cleanUp([warrenQueue, pythonQueue], [warrenQueue, pythonQueue]);
    await probe.close();
    defs.remove();
  });

  describe('Python client → warren worker', () => {
    let workerApp: App | undefined;
    const received: Array<{ args: unknown[]; context: TaskContext }> = [];

    beforeAll(async () => {
      if (!pythonCelery) return;
      workerApp = createApp({ definitions: defs.file, logger });
      workerApp.task(`${prefix}.add`, async (context: TaskContext, a: number, b: number, kwargs: { k: number }) => {
        received.push({ args: [a, b, kwargs], context });
        return { sum: a + b, kwargs, taskId: context.taskId, queue: context.queue };
      }, { bind: true });
      workerApp.task(`${prefix}.charge`, async (amount: number) => {
        throw new PaymentDeclined(`card declined for ${amount}`);
      });
      workerApp.task(`${prefix}.typed`, async () => {
        throw new TypeError('expected a number');
      });
      workerApp.task(`${prefix}.unsendable`, async () => 10n);
      // Python-style kwargs by name, and the context first whatever the message carries.
      workerApp.task(`${prefix}.scale`, async (ctx: TaskContext, value: number, factor: number, offset: number = 0) => ({ scaled: value * factor + offset, taskId: ctx.taskId }), {
        bind: true,
        params: ['value', 'factor', 'offset'],
      });
      workerApp.task(`${prefix}.plus`, async (a: number, b: number) => a + b);
      workerApp.task(`${prefix}.times`, async (a: number, b: number) => a * b);
      await workerApp.startWorker({ queues: [warrenQueue], concurrency: 2 });
    });

    afterAll(async () => {
      await workerApp?.close();
    });

    test('send_task with args and kwargs: .get() returns what the warren task returned', async () => {
      const sentAt = Date.now();
      const out = await runPythonClientJson<PythonCall>(pythonClientConfig, ['call', `${prefix}.add`, '[2, 3]', '{"k": 1}', '10']);
      expect(out).toEqual({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        status: 'SUCCESS',
        result: { sum: 5, kwargs: { k: 1 }, taskId: out.id, queue: warrenQueue },
        date_done: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00$/), // isoformat omits a zero fraction
      });
      // Celery parsed warren's date_done into an aware datetime of this run.
      const done = Date.parse(out.date_done as string);
      expect(done).toBeGreaterThanOrEqual(sentAt - 1000);
      expect(done).toBeLessThanOrEqual(Date.now() + 1000);
      // The warren handler got the Python client's args, kwargs, task id and retries (0).
      const call = received.find((r) => r.context.taskId === out.id);
      expect(call?.args).toEqual([2, 3, { k: 1 }]);
      expect(call?.context.retries).toBe(0);
      expect(call?.context.taskName).toBe(`${prefix}.add`);
    });

    test('a warren task that throws: Python raises an exception with the same type name and message, and the JS stack as traceback', async () => {
      const out = await runPythonClientJson<PythonCall>(pythonClientConfig, ['call', `${prefix}.charge`, '[42]', '{}', '10']);
      expect(out.status).toBe('FAILURE');
      expect(out.exc_type).toBe('PaymentDeclined');
      expect(out.exc_str).toBe('card declined for 42');
      // No Python module holds a JS error class: Celery makes one in celery.exceptions.
      expect(out.exc_module).toBe('celery.exceptions');
      expect(out.traceback).toContain('PaymentDeclined: card declined for 42');
      expect(out.traceback).toContain('celery-interop.test.ts');
    });

    test('kwargs from Python are placed by name (params), the bound context stays first', async () => {
      const out = await runPythonClientJson<PythonCall>(pythonClientConfig, ['call', `${prefix}.scale`, '[2]', '{"offset": 1, "factor": 5}', '10']);
      expect(out).toMatchObject({ status: 'SUCCESS', result: { scaled: 11, taskId: out.id } });
      const byName = await runPythonClientJson<PythonCall>(pythonClientConfig, ['call', `${prefix}.scale`, '[]', '{"value": 3, "factor": 4}', '10']);
      expect(byName).toMatchObject({ status: 'SUCCESS', result: { scaled: 12, taskId: byName.id } });
    });

    test('a kwarg the task does not name: Python gets the TypeError it would get from a Python task', async () => {
      const out = await runPythonClientJson<PythonCall>(pythonClientConfig, ['call', `${prefix}.scale`, '[2, 5]', '{"factr": 5}', '10']);
      expect(out).toMatchObject({ status: 'FAILURE', exc_type: 'TypeError', exc_module: 'builtins', exc_str: `${prefix}.scale() got an unexpected keyword argument 'factr'` });
    });

    test("a result JSON cannot carry: Python raises kombu's EncodeError, as for a Python task", async () => {
      const out = await runPythonClientJson<PythonCall>(pythonClientConfig, ['call', `${prefix}.unsendable`, '[]', '{}', '10']);
      expect(out).toMatchObject({
        status: 'FAILURE',
        exc_type: 'EncodeError',
        exc_module: 'kombu.exceptions',
        exc_str: `the SUCCESS result of task ${prefix}.unsendable[${out.id}] cannot be sent as JSON: found bigint 10 at result`,
      });
    });

    test('a chain of warren tasks built by Python with rpc://: the warren worker sends the next step, Python gets the last result', async () => {
      const out = await runPythonClientJson<PythonCall & { parent_id?: string }>(pythonClientConfig, [
        'chain',
        JSON.stringify([[`${prefix}.plus`, [2, 3]], [`${prefix}.times`, [10]], [`${prefix}.plus`, [1]]]),
        '10',
      ]);
      expect(out).toMatchObject({ status: 'SUCCESS', result: 51, parent_id: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    });

    test('a JS TypeError reaches Python as the builtin TypeError', async () => {
      const out = await runPythonClientJson<PythonCall>(pythonClientConfig, ['call', `${prefix}.typed`, '[]', '{}', '10']);
      expect(out).toMatchObject({ status: 'FAILURE', exc_type: 'TypeError', exc_module: 'builtins', exc_str: 'expected a number' });
    });
  });

  describe('warren client → Python worker', () => {
    let client!: App;
    let pythonWorker: PythonCeleryWorker | undefined;
    let pythonWorkerReady = false;

    beforeAll(async () => {
      if (!pythonCelery) return;
      client = createApp({ definitions: defs.file, logger });
      pythonWorker = new PythonCeleryWorker(pythonWorkerConfig);
      await pythonWorker.ready;
      pythonWorkerReady = true;
    });

    afterAll(async () => {
      await client?.close();
      const exit = await pythonWorker?.stop();
      // Celery's warm shutdown on SIGTERM exits 0: the SIGKILL fallback was not needed.
      if (pythonWorkerReady) expect(exit).toEqual({ code: 0, signal: null });
    });

    test('jsonDates: Celery 5.2 reads tagged Dates and Buffers as two-key dicts, and plain ones as the strings it writes itself', async () => {
      const at = new Date('2026-11-23T12:52:21.358Z');
      const tagged = await client.sendTask<Array<[string, unknown]>>(`${prefix}.types`, [at, Buffer.from('hi')]);
      const seenTagged = await tagged.get({ timeout: 10_000 });
      expect(seenTagged.map(([type]) => type)).toEqual(['dict', 'dict']);
      // The dicts come back to warren as the tags they are, so warren reads a Date and a Buffer again.
      expect(seenTagged.map(([, value]) => value)).toEqual([at, Buffer.from('hi')]);

      const plainDefs = writeDefinitionsFile({ ...document, jsonDates: 'plain' });
      const plainClient = createApp({ definitions: plainDefs.file, logger });
      try {
        const plain = await plainClient.sendTask<Array<[string, unknown]>>(`${prefix}.types`, [at, Buffer.from('hi')]);
        await expect(plain.get({ timeout: 10_000 })).resolves.toEqual([
          ['str', '2026-11-23T12:52:21.358000Z'],
          ['str', 'aGk='],
        ]);
      } finally {
        await plainClient.close();
        plainDefs.remove();
      }
    });

    test('sendTask to a Python task: get() resolves to its return value', async () => {
      const result = await client.sendTask<number>(`${prefix}.mul`, [6, 7]);
      await expect(result.get({ timeout: 10_000 })).resolves.toBe(42);
      expect(result.state).toBe('SUCCESS');
    });

    test('the Python worker reads the id, args, kwargs, reply_to and the rest of warren\'s headers', async () => {
      const result = await client.sendTask<Record<string, unknown>>(`${prefix}.echo`, [1, 'two', [3]], { k: 'v', n: null });
      const seen = await result.get({ timeout: 10_000 });
      expect(seen).toEqual({
        args: [1, 'two', [3]],
        kwargs: { k: 'v', n: null },
        id: result.id,
        root_id: result.id,
        parent_id: null,
        retries: 0,
        eta: null,
        expires: null,
        reply_to: expect.stringMatching(/^[0-9a-f-]{36}$/),
        correlation_id: result.id,
        routing_key: pythonQueue,
        origin: expect.stringMatching(/^gen\d+@/),
        lang: 'js',
        argsrepr: "[1, 'two', [3]]",
        kwargsrepr: "{'k': 'v', 'n': None}",
      });
    });

    test('a Python task raising ValueError(\'bad\') rejects with TaskFailedError carrying ValueError, bad and the Python traceback', async () => {
      const result = await client.sendTask(`${prefix}.boom`);
      const error = await result.get({ timeout: 10_000 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TaskFailedError);
      const failed = error as TaskFailedError;
      expect(failed.taskId).toBe(result.id);
      expect(failed.remoteType).toBe('ValueError');
      expect(failed.remoteModule).toBe('builtins');
      expect(failed.remoteMessage).toBe('bad');
      expect(failed.message).toBe(`task ${result.id} failed: ValueError: bad`);
      expect(failed.traceback).toMatch(/^Traceback \(most recent call last\):\n/);
      expect(failed.traceback).toContain('worker_app.py');
      expect(failed.traceback).toMatch(/ValueError: bad\n?$/);
      expect(result.state).toBe('FAILURE');
    });
  });

  test('each side accepts the other\'s declaration of both queues (no 406 either way)', async () => {
    // Celery declares both queues with its own Queue objects, as it does before publishing...
    const python = await runPythonClientJson<{ declared: Array<{ queue: string; message_count: number }> }>(
      pythonClientConfig,
      ['declare', warrenQueue, pythonQueue],
    );
    expect(python.declared).toEqual([
      { queue: warrenQueue, message_count: 0, consumer_count: 0 },
      { queue: pythonQueue, message_count: 0, consumer_count: 0 },
    ]);
    // ...and warren redeclares its whole topology over them.
    const app = createApp({ definitions: defs.file, logger });
    try {
      const report = await app.declareTopology();
      expect(report.queues.map((q) => [q.name, q.messageCount])).toEqual([
        [warrenQueue, 0],
        [pythonQueue, 0],
      ]);
      expect(report.bindings.map((b) => [b.exchange, b.queue, b.routingKey])).toEqual([
        [warrenQueue, warrenQueue, warrenQueue],
        [pythonQueue, pythonQueue, pythonQueue],
      ]);
    } finally {
      await app.close();
    }
  });
});
