import { SoftTimeLimitExceededError, TaskFailedError, type TaskContext } from '../../src';
import { exampleSuite } from '../support/example-suite';

/** Resolves after `ms`, or rejects with the signal's reason once it is aborted. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });
}

const failureOf = async (promise: Promise<unknown>): Promise<TaskFailedError> => {
  const error = await promise.catch((e: unknown) => e);
  expect(error).toBeInstanceOf(TaskFailedError);
  return error as TaskFailedError;
};

describe('time limits', () => {
  const suite = exampleSuite('time-limits');
  const { prefix, topology } = suite;
  const seen: Array<{ label: string; aborted: boolean; reason: unknown; at: number }> = [];
  let started = 0;

  beforeAll(async () => {
    const workerApp = suite.app();
    // Sleeps `ms` unless its signal is aborted first.
    workerApp.task(`${prefix}.obedient`, async (ctx: TaskContext, label: string, ms: number) => {
      started = Date.now();
      await sleep(ms, ctx.signal);
      return label;
    }, { bind: true, softTimeLimit: 0.5 });
    // Winds up when asked: returns what it has.
    workerApp.task(`${prefix}.graceful`, async (ctx: TaskContext, label: string) => {
      await sleep(10_000, ctx.signal).catch(() => undefined);
      seen.push({ label, aborted: ctx.signal.aborted, reason: ctx.signal.reason, at: Date.now() });
      return 'partial result';
    }, { bind: true, softTimeLimit: 0.5, timeLimit: 5 });
    // Ignores its signal and never finishes.
    workerApp.task(`${prefix}.stubborn`, async (ctx: TaskContext) => {
      started = Date.now();
      await new Promise(() => undefined);
      return ctx.taskId;
    }, { bind: true, timeLimit: 1 });
    // No limits of its own: the worker's 1.5 s apply.
    workerApp.task(`${prefix}.unbounded`, async () => {
      started = Date.now();
      await new Promise(() => undefined);
    });
    workerApp.task(`${prefix}.quick`, (label: string) => label);
    await workerApp.startWorker({ queues: [topology.queues.default], concurrency: 1, timeLimit: 1.5 });
  });

  test('soft limit: the task\'s signal is aborted with SoftTimeLimitExceededError; rethrown, it is the FAILURE', async () => {
    const result = await suite.client.sendTask(`${prefix}.obedient`, ['soft', 5000]);
    const failed = await failureOf(result.get({ timeout: 5000 }));
    expect(Date.now() - started).toBeLessThan(1500);
    expect(failed.remoteType).toBe('SoftTimeLimitExceeded');
    expect(failed.remoteModule).toBe('celery.exceptions');
    expect(failed.remoteMessage).toBe(`task ${prefix}.obedient exceeded its soft time limit of 0.5 s`);
  });

  test('soft limit: a task that winds up when asked ends in SUCCESS', async () => {
    const result = await suite.client.sendTask(`${prefix}.graceful`, ['graceful']);
    await expect(result.get({ timeout: 5000 })).resolves.toBe('partial result');
    expect(seen[0].aborted).toBe(true);
    expect(seen[0].reason).toBeInstanceOf(SoftTimeLimitExceededError);
  });

  test('hard limit: the worker stops waiting, records TimeLimitExceeded, acks, and runs the next task in the freed slot', async () => {
    const stuck = await suite.client.sendTask(`${prefix}.stubborn`, ['hard']);
    const next = await suite.client.sendTask(`${prefix}.quick`, ['next in line']);
    const failed = await failureOf(stuck.get({ timeout: 5000 }));
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(1000);
    expect(elapsed).toBeLessThan(2000);
    expect(failed.remoteType).toBe('TimeLimitExceeded');
    expect(failed.remoteMessage).toBe(`task ${prefix}.stubborn exceeded its time limit of 1 s`);
    // With one slot, the next task could only run because the stuck one's slot was freed.
    await expect(next.get({ timeout: 5000 })).resolves.toBe('next in line');
    // Acked: the stuck task does not come back.
    expect(await suite.probe.messageCount(topology.queues.default)).toBe(0);
  });

  test('the worker\'s limit applies to a task without its own; the message\'s own limit wins over both', async () => {
    const byWorker = await suite.client.sendTask(`${prefix}.unbounded`);
    expect((await failureOf(byWorker.get({ timeout: 5000 }))).remoteMessage).toBe(`task ${prefix}.unbounded exceeded its time limit of 1.5 s`);
    const byMessage = await suite.client.sendTask(`${prefix}.stubborn`, ['sent with its own'], {}, { timeLimit: 0.3 });
    const failed = await failureOf(byMessage.get({ timeout: 5000 }));
    expect(failed.remoteMessage).toBe(`task ${prefix}.stubborn exceeded its time limit of 0.3 s`);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  test('warren worker --time-limit sets the worker\'s limit', async () => {
    const worker = suite.workerProcess({ queues: [topology.queues.task2], name: 'limited@test', concurrency: 1, extraArgs: ['--time-limit', '500ms'] });
    await worker.ready;
    const result = await suite.client.sendTask(`${prefix}.slow`, ['too slow', 5000], {}, { queue: topology.queues.task2 });
    const failed = await failureOf(result.get({ timeout: 5000 }));
    expect(failed.remoteType).toBe('TimeLimitExceeded');
    expect(failed.remoteMessage).toBe(`task ${prefix}.slow exceeded its time limit of 0.5 s`);
    expect(worker.logLines('time limit exceeded: the worker stopped waiting for the task, which is recorded as failed')).toHaveLength(1);
  });
});
