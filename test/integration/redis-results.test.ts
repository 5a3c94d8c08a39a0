import { createApp, createLogger, InvalidMessageError, ResultTimeoutError, type App } from '../../src';
import { exampleSuite } from '../support/example-suite';
import { deleteResultsOf, RedisProbe, testRedisUrl } from '../support/redis';
import { runCli } from '../support/worker-process';

/**
 * Results through the Redis backend with worker processes and the command line: `warren
 * worker --result-backend`, `warren send --wait --result-backend`, WARREN_RESULT_BACKEND, a
 * second process reading a result by id, and what a client does with a result it cannot read.
 */
describe('results through the Redis backend, from the command line and across processes', () => {
  const suite = exampleSuite('redis-results');
  const { prefix, topology, defs } = suite;
  const redisUrl = testRedisUrl();
  const logger = createLogger({ level: 'silent' });
  let probe: RedisProbe;
  let reader: App;

  beforeAll(async () => {
    probe = await RedisProbe.open();
    const worker = suite.workerProcess({ queues: [topology.queues.task1, topology.queues.task2], name: `${prefix}-w1@test`, extraArgs: ['--result-backend', redisUrl] });
    await worker.ready;
    reader = createApp({ definitions: defs.file, logger, resultBackend: redisUrl });
  });

  afterAll(async () => {
    await reader?.close();
    await deleteResultsOf(prefix);
    await probe?.close();
  });

  test('warren send --wait --result-backend: the worker process stored the result in Redis, the command read it', async () => {
    const run = await runCli(['send', topology.tasks.deal1, 'text0', '--wait', '--timeout', '10s', '--result-backend', redisUrl, '--definitions', defs.file]);
    expect(run.stderr).toBe('');
    const [id, value] = run.stdout.trim().split('\n');
    expect(value).toBe('"text0======="');
    expect(JSON.parse((await probe.get(`celery-task-meta-${id}`)) ?? '{}')).toMatchObject({
      status: 'SUCCESS',
      result: 'text0=======',
      name: topology.tasks.deal1,
      args: ['text0'],
      worker: `${prefix}-w1@test`,
      queue: topology.queues.task1,
      task_id: id,
    });
    expect(run.code).toBe(0);
  });

  test('WARREN_RESULT_BACKEND: a task sent without --wait stores nothing; another app reads a result by its id', async () => {
    const run = await runCli(['send', topology.tasks.deal2, 'text1', '--definitions', defs.file], { WARREN_RESULT_BACKEND: redisUrl });
    expect(run.code).toBe(0);
    const id = run.stdout.trim();
    // Sent without --wait (ignore_result): the worker stores nothing for it.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await probe.get(`celery-task-meta-${id}`)).toBeNull();

    const sender = createApp({ definitions: defs.file, logger, resultBackend: redisUrl });
    try {
      const sent = await sender.sendTask<string>(topology.tasks.deal2, ['text2']);
      const byId = await reader.asyncResult<string>(sent.id);
      await expect(byId.get({ timeout: 10_000 })).resolves.toBe('text2+++++++++');
      await expect(sent.get({ timeout: 10_000 })).resolves.toBe('text2+++++++++');
    } finally {
      await sender.close();
    }
  });

  test('a result that never comes: get() rejects with ResultTimeoutError in its time', async () => {
    const result = await reader.asyncResult('never-sent-task-id');
    expect(result.state).toBe('PENDING');
    await expect(result.get({ timeout: 1500 })).rejects.toThrow(ResultTimeoutError);
  });

  test('a malformed stored result: get() rejects with the reason; the app goes on', async () => {
    await probe.set('celery-task-meta-malformed-by-test', 'not json at all');
    await expect((await reader.asyncResult('malformed-by-test')).get({ timeout: 5000 })).rejects.toThrow(InvalidMessageError);
    const sent = await reader.sendTask<string>(topology.tasks.deal1, ['still']);
    await expect(sent.get({ timeout: 10_000 })).resolves.toBe('still=======');
  });
  test('warren result <id>, as celery result: waits for and prints the value of a task another process sent; a failure exits 1, --traceback prints its traceback', async () => {
    const sender = createApp({ definitions: defs.file, logger, resultBackend: redisUrl });
    try {
      // Not ready yet when the command starts: it waits.
      const slow = await sender.sendTask(`${prefix}.slow`, ['by id', 1500], {}, { queue: topology.queues.task1 });
      const waited = await runCli(['result', slow.id, '--result-backend', redisUrl, '--definitions', defs.file]);
      expect(waited.stderr).toBe('');
      expect(JSON.parse(waited.stdout)).toEqual({ label: 'by id', worker: `${prefix}-w1@test` });
      expect(waited.code).toBe(0);

      const failed = await sender.sendTask(`${prefix}.fail`, ['broken on purpose'], {}, { queue: topology.queues.task1 });
      await expect(failed.get({ timeout: 10_000 })).rejects.toThrow('broken on purpose');
      const value = await runCli(['result', failed.id, '--result-backend', redisUrl, '--definitions', defs.file]);
      expect(value.stdout).toBe('');
      expect(value.stderr).toContain('broken on purpose');
      expect(value.code).toBe(1);
      const traceback = await runCli(['result', failed.id, '--traceback', '--result-backend', redisUrl, '--definitions', defs.file]);
      expect(traceback.stdout).toMatch(/^Error: broken on purpose\n\s+at /);
      expect(traceback.code).toBe(0);
    } finally {
      await sender.close();
    }
  });

  test('warren result with the rpc:// backend exits 2 and says why: only the sender gets a result', async () => {
    const run = await runCli(['result', '00000000-0000-4000-8000-000000000000', '--definitions', defs.file], { WARREN_RESULT_BACKEND: '' });
    expect(run.stderr).toContain('the rpc:// result backend sends a result only to the process that sent the task');
    expect(run.code).toBe(2);
  });
});
