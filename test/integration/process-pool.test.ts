import { join } from 'node:path';
import type { GetMessage } from 'amqplib';
import { TaskFailedError, type AsyncResult } from '../../src';
import { waitFor } from '../support/broker';
import { testBrokerUrl } from '../support/broker-url';
import { brokerSuite } from '../support/example-suite';
import { markedPids, processAlive as alive } from '../support/processes';
import { POOL_TASKS, WorkerProcess } from '../support/worker-process';

async function failureOf(result: AsyncResult<unknown>, timeout = 15_000): Promise<TaskFailedError> {
  const error = await result.get({ timeout }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(TaskFailedError);
  return error as TaskFailedError;
}

/**
 * `warren worker --pool process`: real worker processes over a real broker, their children real
 * processes. Each worker is started for what it shows and stopped after it.
 */
describe('the process pool', () => {
  const names = (prefix: string) => ({
    exchange: `${prefix}.x`,
    queues: { work: `${prefix}.work`, timing: `${prefix}.timing`, limited: `${prefix}.limited` },
  });
  const suite = brokerSuite('pool', (prefix) => {
    const { exchange, queues } = names(prefix);
    return {
      definitions: {
        broker: { url: testBrokerUrl() },
        exchanges: [{ name: exchange, type: 'direct' }],
        queues: [
          { name: queues.work, exchange, routingKey: 'work' },
          { name: queues.timing, exchange, routingKey: 'timing' },
          { name: queues.limited, exchange, routingKey: 'limited', deliveryLimit: 2, deadLetterQueue: true },
        ],
        defaultQueue: queues.work,
      },
      queues: [...Object.values(queues), `${queues.limited}.dlq`],
      exchanges: [exchange, `${queues.limited}.dlq`],
    };
  });
  const { prefix } = suite;
  const { queues } = names(prefix);
  const marks = join(suite.defs.dir, 'marks.txt');
  /** The pids that started runs labelled `label`, in order. */
  const pidsOf = (label: string): number[] => markedPids(marks, label);
  const send = <T = unknown>(task: string, args: unknown[], queue = queues.work): Promise<AsyncResult<T>> => suite.client.sendTask<T>(`${prefix}.${task}`, args, {}, { queue });

  /** A worker over the pool tasks; `-c` is taken out of `args` (2 unless they say). */
  const startWorker = async (name: string, args: readonly string[], queue = queues.work): Promise<WorkerProcess> => {
    const at = args.indexOf('-c');
    const concurrency = at >= 0 ? Number(args[at + 1]) : 2;
    const extraArgs = at >= 0 ? [...args.slice(0, at), ...args.slice(at + 2)] : args;
    const worker = suite.workerProcess({ app: POOL_TASKS, queues: [queue], name, concurrency, extraArgs, env: { WARREN_TEST_MARKS: marks } });
    await worker.ready;
    return worker;
  };

  test('four 1.5 s CPU-bound tasks: on -c 2 processes in two child pids, neither the worker, in about half the time the async pool takes', async () => {
    const timed = async (label: string): Promise<{ ms: number; pids: number[] }> => {
      const started = performance.now();
      const results = await Promise.all([1, 2, 3, 4].map((i) => send<{ pid: number }>('cpu', [`${label}-${i}`, 1500], queues.timing)));
      const values = await Promise.all(results.map((result) => result.get({ timeout: 30_000 })));
      return { ms: performance.now() - started, pids: values.map((value) => value.pid) };
    };
    const processWorker = await startWorker('cpu-process@test', ['--pool', 'process', '-c', '2'], queues.timing);
    const pooled = await timed('process');
    await processWorker.stop();
    const asyncWorker = await startWorker('cpu-async@test', ['--pool', 'async', '-c', '2'], queues.timing);
    const serial = await timed('async');
    await asyncWorker.stop();

    process.stdout.write(`four 1.5 s CPU-bound tasks, -c 2: process pool ${Math.round(pooled.ms)} ms, async pool ${Math.round(serial.ms)} ms\n`);
    const children = new Set(pooled.pids);
    expect(children.size).toBe(2);
    expect(children.has(processWorker.child.pid!)).toBe(false);
    expect(new Set(serial.pids)).toEqual(new Set([asyncWorker.child.pid]));
    // One event loop runs them one after another: 6 s at the least. Two processes share them out.
    expect(serial.ms).toBeGreaterThanOrEqual(6000);
    expect(pooled.ms).toBeLessThan(serial.ms);
  }, 60_000);

  describe('one worker, --pool process -c 2', () => {
    let worker!: WorkerProcess;

    beforeAll(async () => {
      worker = await startWorker('pool@test', ['--pool', 'process', '-c', '2']);
    });

    afterAll(async () => {
      expect(await worker.stop('SIGTERM')).toBe(0);
    });

    test('an endless loop with timeLimit 2 is FAILURE TimeLimitExceeded; its child is killed; the next task runs', async () => {
      const started = Date.now();
      const failed = await failureOf(await send('spin', ['endless']));
      const tookMs = Date.now() - started;
      expect(failed.remoteType).toBe('TimeLimitExceeded');
      expect(failed.remoteMessage).toBe(`task ${prefix}.spin exceeded its time limit of 2 s`);
      expect(tookMs).toBeLessThan(8000);
      const [pid] = pidsOf('endless');
      await waitFor('the endless task\'s child to be gone', () => !alive(pid), 5000);
      const next = await send<number>('pid', ['after-endless']);
      await expect(next.get({ timeout: 10_000 })).resolves.toEqual(expect.any(Number));
      expect(await next.get()).not.toBe(pid);
    });

    test('process.exit(3) in a task: FAILURE WorkerLostError; the task on the other child is untouched', async () => {
      const beside = await send<number>('sleep', ['beside', 1500]);
      await waitFor('the task beside to start', () => pidsOf('beside').length === 1);
      const failed = await failureOf(await send('exit', ['exits', 3]));
      expect(failed.remoteType).toBe('WorkerLostError');
      const [lost] = pidsOf('exits');
      expect(failed.remoteMessage).toBe(`task ${prefix}.exit lost its pool process (pid ${lost}), which exited with code 3 before the task finished`);
      const [besidePid] = pidsOf('beside');
      await expect(beside.get({ timeout: 10_000 })).resolves.toBe(besidePid);
      expect(alive(besidePid)).toBe(true);
      expect(besidePid).not.toBe(lost);
      expect(await suite.probe.messageCount(queues.work)).toBe(0);
    });

    test('a task in a child reports progress: the worker stores each PROGRESS, the caller sees them', async () => {
      const result = await send<{ steps: number }>('progress', [3, 250]);
      const seen: unknown[] = [];
      result.on('progress', (progress) => seen.push(progress));
      await expect(result.get({ timeout: 10_000 })).resolves.toMatchObject({ steps: 3 });
      expect(result.history).toContain('PROGRESS');
      expect(seen.length).toBeGreaterThanOrEqual(1);
      expect(seen.at(-1)).toEqual({ current: 3, total: 3, meta: { stage: 'copy' } });
    });
  });

  test('--max-tasks-per-child 3: nine tasks on -c 1 run in at least three children', async () => {
    const worker = await startWorker('recycled@test', ['--pool', 'process', '-c', '1', '--max-tasks-per-child', '3']);
    const results = await Promise.all(Array.from({ length: 9 }, (_, i) => send<number>('pid', [`nine-${i}`])));
    const pids = await Promise.all(results.map((result) => result.get({ timeout: 20_000 })));
    expect(new Set(pids).size).toBeGreaterThanOrEqual(3);
    expect(pids).not.toContain(worker.child.pid);
    expect(worker.logLines('pool process recycled: it ran 3 tasks (max tasks per child 3)').length).toBeGreaterThanOrEqual(2);
    expect(await worker.stop()).toBe(0);
  }, 40_000);

  test('--max-memory-per-child: a child that grew past it is replaced after its task, one below it is kept', async () => {
    const worker = await startWorker('lean@test', ['--pool', 'process', '-c', '1', '--max-memory-per-child', '200MiB']);
    const small = await (await send<number>('leak', ['small', 4])).get({ timeout: 10_000 });
    expect(await (await send<number>('pid', ['after-small'])).get({ timeout: 10_000 })).toBe(small);
    const big = await (await send<number>('leak', ['big', 256])).get({ timeout: 10_000 });
    expect(big).toBe(small);
    const after = await (await send<number>('pid', ['after-big'])).get({ timeout: 10_000 });
    expect(after).not.toBe(big);
    expect(worker.output).toMatch(/pool process recycled: it uses [\d.]+ MiB \(max memory per child 200 MiB\)/);
    await waitFor('the grown child to be gone', () => !alive(big), 5000);
    expect(await worker.stop()).toBe(0);
  }, 40_000);

  test('--autoscale 3,1: one pool process at start, three while three tasks are in hand, one again after AUTOSCALE_KEEPALIVE', async () => {
    const worker = new WorkerProcess(
      ['-A', POOL_TASKS, '-Q', queues.work, '-n', 'auto@test', '--pool', 'process', '--autoscale', '3,1', '--definitions', suite.defs.file],
      { WARREN_TEST_PREFIX: prefix, WARREN_TEST_MARKS: marks, AUTOSCALE_KEEPALIVE: '1' },
    );
    try {
      await worker.ready;
      const processes = async (): Promise<number[]> => {
        const stats = await suite.client.control.inspect({ destination: ['auto@test'], timeoutMs: 2000 }).stats();
        return (stats['auto@test'] as { pool: { processes: number[] } }).pool.processes;
      };
      expect(await processes()).toHaveLength(1);
      const results = await Promise.all([1, 2, 3].map((i) => send<number>('sleep', [`auto-${i}`, 2500])));
      const pids = await Promise.all(results.map((result) => result.get({ timeout: 20_000 })));
      // Three at once in three processes: the two started by autoscale beside the first.
      expect(new Set(pids).size).toBe(3);
      await waitFor('autoscale down to one process', async () => (await processes()).length === 1, 10_000);
      // Log lines below warn reach stderr within 20 ms.
      await waitFor('the log line of the last shrink', () => worker.output.includes('"autoscale: down to 1 tasks at once"'), 2000);
      const scaled = worker.output.split('\n').filter((line) => line.includes('"autoscale: ')).map((line) => (JSON.parse(line) as { msg: string }).msg);
      expect(scaled[scaled.length - 1]).toBe('autoscale: down to 1 tasks at once');
      expect(scaled).toContain('autoscale: up to 3 tasks at once');
      expect(await worker.stop()).toBe(0);
    } finally {
      await worker.stop('SIGKILL');
    }
  }, 60_000);

  test('rejectOnWorkerLost: a task that kills its child goes back to the broker, and past deliveryLimit 2 it is dead-lettered', async () => {
    const worker = await startWorker('reject@test', ['--pool', 'process', '-c', '2'], queues.limited);
    const result = await send('exitReject', ['rejecting', 3], queues.limited);
    const taken: GetMessage[] = [];
    await waitFor(
      'the poison message in the dead-letter queue',
      async () => {
        const message = await suite.probe.get(`${queues.limited}.dlq`);
        if (message) taken.push(message);
        return taken.length > 0;
      },
      20_000,
      200,
    );
    expect(taken[0].properties.headers).toMatchObject({
      id: result.id,
      'x-warren-reason': 'delivered 2 times without finishing (deliveryLimit 2): a poison message',
    });
    const pids = pidsOf('rejecting');
    expect(pids).toHaveLength(2);
    expect(new Set(pids).size).toBe(2); // each run killed its own child
    expect(result.state).toBe('PENDING'); // no FAILURE: the message went back each time
    expect(await suite.probe.messageCount(queues.limited)).toBe(0);
    expect(await worker.stop()).toBe(0);
  }, 40_000);

  test('SIGKILL of the worker: its children exit too, and the broker gives their tasks to the next worker', async () => {
    const worker = await startWorker('killed@test', ['--pool', 'process', '-c', '2']);
    const results = await Promise.all([send<number>('sleep', ['orphan-a', 4000]), send<number>('sleep', ['orphan-b', 4000])]);
    await waitFor('both tasks to start', () => pidsOf('orphan-a').length === 1 && pidsOf('orphan-b').length === 1);
    const children = [...pidsOf('orphan-a'), ...pidsOf('orphan-b')];
    await worker.stop('SIGKILL');
    const killedAt = Date.now();
    await waitFor('the children to exit', () => children.every((pid) => !alive(pid)), 3000);
    process.stdout.write(`children gone ${Date.now() - killedAt} ms after the worker's SIGKILL\n`);
    const next = await startWorker('heir@test', ['--pool', 'process', '-c', '2']);
    const pids = await Promise.all(results.map((result) => result.get({ timeout: 20_000 })));
    expect(pids.every((pid) => !children.includes(pid))).toBe(true);
    expect(pidsOf('orphan-a')).toHaveLength(2); // run again, by the next worker
    expect(await next.stop()).toBe(0);
  }, 40_000);

  test('a child that cannot load the tasks module stops the worker with the module\'s error, without restarting', async () => {
    const worker = suite.workerProcess({ app: POOL_TASKS, queues: [queues.work], name: 'unloadable@test', concurrency: 2, extraArgs: ['--pool', 'process'], env: { WARREN_TEST_FAIL_IN_CHILD: '1' } });
    worker.ready.catch(() => undefined);
    const code = await worker.exited;
    expect(code).toBe(2); // as for a module the worker itself cannot load
    expect(worker.output).toContain('a pool process could not load the tasks module');
    expect(worker.output).toContain('this module refuses to load in a pool process');
    expect(worker.output).not.toContain('"worker ready"');
    expect(worker.output.match(/could not load the tasks module/g)).toHaveLength(1); // no restart loop
  }, 30_000);
});
