import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TaskFailedError, type AsyncResult } from '../../src';
import { waitFor } from '../support/broker';
import { exampleSuite } from '../support/example-suite';

/** The error `get()` rejected with, which must be a TaskFailedError. */
async function failureOf(result: AsyncResult<unknown>, timeout = 10_000): Promise<TaskFailedError> {
  const error = await result.get({ timeout }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(TaskFailedError);
  return error as TaskFailedError;
}

/**
 * Task code that misbehaves, run by `warren worker` processes: errors that escape the task's
 * own promise, `process.exit()`, a blocked event loop, and the shutdown timeout. The worker
 * must survive what a task does, fail only that task, and never exit 0 unless it was stopped.
 */
describe('hostile task code in a warren worker process', () => {
  const suite = exampleSuite('hostile');
  const { prefix, topology } = suite;
  const marks = join(suite.defs.dir, 'marks.txt');
  const started = (label: string): string[] =>
    (existsSync(marks) ? readFileSync(marks, 'utf8').trim().split('\n') : []).filter((line) => line.startsWith(`${label} `));

  describe('one worker, -c 3, running everything below in turn', () => {
    const queue = topology.queues.default;
    let worker!: ReturnType<typeof suite.workerProcess>;

    beforeAll(async () => {
      worker = suite.workerProcess({ queues: [queue], name: 'guarded@test', concurrency: 3, env: { WARREN_TEST_MARKS: marks } });
      await worker.ready;
    });

    test('a throw inside a timer fails that task; a task running beside it completes; the worker goes on', async () => {
      const beside = await suite.client.sendTask(`${prefix}.slow`, ['beside-timer', 600]);
      const hostile = await suite.client.sendTask(`${prefix}.throwInTimer`, ['timer']);
      const failed = await failureOf(hostile);
      expect(failed.remoteType).toBe('Exception');
      expect(failed.remoteMessage).toBe('thrown in a timer by timer');
      await expect(beside.get({ timeout: 10_000 })).resolves.toEqual({ label: 'beside-timer', worker: 'guarded@test' });
      expect(started('timer')).toEqual(['timer guarded@test false']); // run once, never redelivered
    });

    test('an unhandled rejection in task code fails that task; the worker goes on', async () => {
      const hostile = await suite.client.sendTask(`${prefix}.rejectUnhandled`, ['rejection']);
      const failed = await failureOf(hostile);
      expect(failed.remoteType).toBe('ValueError'); // a RangeError, as Python reads it
      expect(failed.remoteMessage).toBe('rejected, unhandled, by rejection');
      expect(started('rejection')).toHaveLength(1);
    });

    test('process.exit(0) in a task fails that task with ProcessExitError; the worker does not exit', async () => {
      const hostile = await suite.client.sendTask(`${prefix}.exit`, ['exit', 0]);
      const failed = await failureOf(hostile);
      expect(failed.remoteType).toBe('ProcessExitError');
      expect(failed.remoteMessage).toBe(`task ${prefix}.exit called process.exit(0); a task cannot end its worker, so the task failed instead`);
      const after = await suite.client.sendTask(topology.tasks.deal1, ['still alive'], {}, { queue });
      await expect(after.get({ timeout: 5000 })).resolves.toBe('still alive=======');
      expect(worker.child.exitCode).toBeNull();
      expect(started('exit')).toHaveLength(1);
    });

    test('every message above was acked: nothing left in the queue; SIGTERM then exits 0', async () => {
      expect(await suite.probe.messageCount(queue)).toBe(0);
      expect(await worker.stop('SIGTERM')).toBe(0);
      expect(worker.logLines('worker stopped')[0]).toMatchObject({ processed: 5, succeeded: 2, failed: 3, rejected: 0, handedBack: 0 });
    });
  });

  test('process.exit(0) from code that is no task, while the worker runs: exit status 1, never 0', async () => {
    const worker = suite.workerProcess({ queues: [topology.queues.task1], name: 'exiting@test', env: { WARREN_TEST_MODULE_EXIT_MS: '1500' } });
    await worker.ready;
    expect(await worker.exited).toBe(1);
    expect(worker.output).toContain('process.exit(0) was called while the worker was running, not stopping: exiting with status 1');
  });

  test('an error thrown by code that is no task, with no task running: logged, the worker stops, exit status 1', async () => {
    const worker = suite.workerProcess({ queues: [topology.queues.task1], name: 'broken@test', env: { WARREN_TEST_MODULE_THROW_MS: '1500' } });
    await worker.ready;
    expect(await worker.exited).toBe(1);
    expect(worker.logLines('an error escaped code that belongs to no task; stopping the worker')).toHaveLength(1);
    expect(worker.logLines('worker stopped')).toHaveLength(1);
  });

  test('--shutdown-timeout: past it the running task goes back to the broker and the process exits at once, without its result', async () => {
    const queue = topology.queues.task2;
    const worker = suite.workerProcess({ queues: [queue], name: 'impatient@test', concurrency: 1, env: { WARREN_TEST_MARKS: marks }, extraArgs: ['--shutdown-timeout', '500ms'] });
    await worker.ready;
    const result = await suite.client.sendTask(`${prefix}.slow`, ['long', 20_000], {}, { queue });
    await waitFor('the task to start', () => started('long').length === 1);
    const signalled = Date.now();
    expect(await worker.stop('SIGTERM')).toBe(0);
    // Exited after the timeout, not after the 20 s task.
    expect(Date.now() - signalled).toBeLessThan(10_000);
    expect(worker.logLines('shutdown timeout: handing running tasks back to the broker; what they do from now on is ignored')).toHaveLength(1);
    await waitFor('the task back in its queue', async () => (await suite.probe.messageCount(queue)) === 1);
    expect(result.history).toEqual(['PENDING']);
  });

  test('a task that blocks the event loop past the heartbeat: the stall is logged naming it; it runs once and its caller gets its result', async () => {
    // 20 s: the broker gives up on a silent connection after two to three 5 s heartbeats.
    const queue = topology.queues.task1;
    const worker = suite.workerProcess({ queues: [queue], name: 'blocked@test', concurrency: 2, env: { WARREN_TEST_MARKS: marks } });
    await worker.ready;
    const result = await suite.client.sendTask(`${prefix}.block`, ['blocker', 20_000], {}, { queue });
    await expect(result.get({ timeout: 50_000 })).resolves.toBe('blocker blocked 20000 ms');
    await waitFor('the redelivery to be acked', () => worker.logLines('task redelivered after it finished here (its ack was lost with the channel): acked without running it again').length === 1, 20_000);
    // The connection was lost meanwhile, the redelivery came back to this worker, and it did not run the task again.
    expect(worker.logLines('disconnected from broker; reconnecting').length).toBeGreaterThanOrEqual(1);
    const stall = worker.output.split('\n').find((line) => line.includes('event loop blocked for'));
    expect(stall).toContain(`by task ${prefix}.block[${result.id}]`);
    expect(stall).toContain('move CPU-bound work into worker_threads or a child process');
    expect(started('blocker')).toEqual(['blocker blocked@test false']);
    await waitFor('the queue to be empty', async () => (await suite.probe.messageCount(queue)) === 0);
    expect(await worker.stop('SIGTERM')).toBe(0);
  }, 90_000);
});
