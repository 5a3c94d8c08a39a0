import { TaskFailedError, type AsyncResult, type ResultState, type TaskContext, type Worker } from '../../src';
import { exampleSuite } from '../support/example-suite';

class PaymentDeclined extends Error {
  override name = 'PaymentDeclined';
}

/** The states a result went through, once it is ready. */
async function watchStates(result: AsyncResult): Promise<readonly ResultState[]> {
  await result.get({ timeout: 30_000 }).catch(() => undefined);
  return result.history;
}

describe('retries', () => {
  const suite = exampleSuite('retries');
  const { prefix, topology } = suite;
  /** Each attempt: its task, its retries count, when it ran, its task id. */
  const attempts: Array<{ label: string; retries: number; at: number; eta: Date | null; taskId: string }> = [];
  const retried: Array<{ taskId: string; retries: number; delayMs: number; at: number }> = [];
  let worker!: Worker;

  const attemptsOf = (label: string) => attempts.filter((a) => a.label === label);

  beforeAll(async () => {
    const workerApp = suite.app();
    const record = (label: string, ctx: TaskContext): void => {
      attempts.push({ label, retries: ctx.retries, at: Date.now(), eta: ctx.eta, taskId: ctx.taskId });
    };
    // Fails its first three runs, then succeeds: retried after 1, 2 and 4 s.
    workerApp.task(
      `${prefix}.flaky`,
      (ctx: TaskContext, label: string) => {
        record(label, ctx);
        if (ctx.retries < 3) throw new PaymentDeclined(`declined on run ${ctx.retries + 1}`);
        return `paid after ${ctx.retries} retries`;
      },
      { bind: true, autoretryFor: [PaymentDeclined], retry: { max: 3, delay: 1, backoff: 'exponential' } },
    );
    // Always fails: gives up after two retries.
    workerApp.task(
      `${prefix}.hopeless`,
      (ctx: TaskContext, label: string) => {
        record(label, ctx);
        throw new PaymentDeclined('card blocked');
      },
      { bind: true, autoretryFor: ['PaymentDeclined'], retry: { max: 2, delay: 1, backoff: 'exponential' } },
    );
    // Asks for its own retry once, with no error.
    workerApp.task(
      `${prefix}.polling`,
      (ctx: TaskContext, label: string) => {
        record(label, ctx);
        if (ctx.retries === 0) ctx.retry({ countdown: 1 });
        return 'ready now';
      },
      { bind: true, retry: { max: 1 } },
    );
    // Asks for a retry it is not allowed.
    workerApp.task(
      `${prefix}.impatient`,
      (ctx: TaskContext, label: string) => {
        record(label, ctx);
        ctx.retry({ countdown: 1 });
      },
      { bind: true, retry: { max: 0 } },
    );
    // Throws an error autoretryFor does not list.
    workerApp.task(
      `${prefix}.broken`,
      (ctx: TaskContext, label: string) => {
        record(label, ctx);
        throw new TypeError('a bug, not a hiccup');
      },
      { bind: true, autoretryFor: [PaymentDeclined], retry: { max: 3, delay: 1 } },
    );
    worker = await workerApp.startWorker({ queues: [topology.queues.default], concurrency: 4 });
    worker.on('task-retried', (event) => retried.push({ ...event, at: Date.now() }));
  });

  test('a 3-hop exponential retry (1, 2, 4 s) shows RETRY, keeps its id, runs each hop on time and ends in SUCCESS', async () => {
    const result = await suite.client.sendTask<string>(`${prefix}.flaky`, ['flaky']);
    const states = watchStates(result);
    await expect(result.get({ timeout: 20_000 })).resolves.toBe('paid after 3 retries');
    expect(await states).toEqual(['PENDING', 'RETRY', 'SUCCESS']);

    const runs = attemptsOf('flaky');
    expect(runs.map((r) => [r.retries, r.taskId])).toEqual([0, 1, 2, 3].map((n) => [n, result.id]));
    expect(retried.filter((r) => r.taskId === result.id).map((r) => [r.retries, r.delayMs])).toEqual([
      [1, 1000],
      [2, 2000],
      [3, 4000],
    ]);
    // Each retry carried an eta its delay after the failure, and ran no earlier, less than a second late.
    runs.slice(1).forEach((run, index) => {
      const delay = run.eta!.getTime() - runs[index].at;
      const late = run.at - run.eta!.getTime();
      process.stdout.write(`retry ${run.retries}: eta ${delay} ms after the failed run; ran ${late} ms after its eta\n`);
      expect(delay).toBeGreaterThanOrEqual(1000 * 2 ** index);
      expect(delay).toBeLessThan(1000 * 2 ** index + 200);
      expect(late).toBeGreaterThanOrEqual(0);
      expect(late).toBeLessThan(1000);
    });
    expect(await suite.probe.messageCount(topology.queues.default)).toBe(0);
  });

  test('past its allowed retries the task fails with MaxRetriesExceededError carrying the last error', async () => {
    const result = await suite.client.sendTask(`${prefix}.hopeless`, ['hopeless']);
    const states = watchStates(result);
    const error = await result.get({ timeout: 15_000 }).catch((e: unknown) => e);
    expect(await states).toEqual(['PENDING', 'RETRY', 'FAILURE']);
    expect(error).toBeInstanceOf(TaskFailedError);
    const failed = error as TaskFailedError;
    expect(failed.remoteType).toBe('MaxRetriesExceededError');
    expect(failed.remoteModule).toBe('celery.exceptions');
    expect(failed.remoteMessage).toBe(`task ${prefix}.hopeless[${result.id}] gave up after 2 retries: PaymentDeclined: card blocked`);
    expect(failed.traceback).toContain('Caused by: PaymentDeclined: card blocked');
    expect(attemptsOf('hopeless').map((r) => r.retries)).toEqual([0, 1, 2]);
  });

  test('ctx.retry({ countdown }) without an error runs the task again after that long', async () => {
    const result = await suite.client.sendTask(`${prefix}.polling`, ['polling']);
    const states = watchStates(result);
    await expect(result.get({ timeout: 5000 })).resolves.toBe('ready now');
    expect(await states).toEqual(['PENDING', 'RETRY', 'SUCCESS']);
    const [first, second] = attemptsOf('polling');
    expect([first.retries, second.retries]).toEqual([0, 1]);
    expect(second.at - first.at).toBeGreaterThanOrEqual(1000);
    expect(second.at - first.at).toBeLessThan(2000);
  });

  test('ctx.retry() with no retries allowed (retry.max 0) fails with MaxRetriesExceededError at once', async () => {
    const result = await suite.client.sendTask(`${prefix}.impatient`, ['impatient']);
    const error = await result.get({ timeout: 5000 }).catch((e: unknown) => e);
    expect((error as TaskFailedError).remoteType).toBe('MaxRetriesExceededError');
    expect((error as TaskFailedError).remoteMessage).toBe(`task ${prefix}.impatient[${result.id}] gave up after 0 retries`);
    expect(attemptsOf('impatient').map((r) => r.retries)).toEqual([0]);
  });

  test('an error that autoretryFor does not list fails at once', async () => {
    const result = await suite.client.sendTask(`${prefix}.broken`, ['broken']);
    const error = await result.get({ timeout: 5000 }).catch((e: unknown) => e);
    expect((error as TaskFailedError).remoteType).toBe('TypeError');
    expect(attemptsOf('broken')).toHaveLength(1);
  });
});
