import { runPythonClientJson, requirePythonCelery } from '../support/python-celery';
import { deleteResultsOf, testRedisUrl } from '../support/redis';
import { testBrokerUrl } from '../support/broker-url';
import { brokerSuite } from '../support/example-suite';
import { POOL_TASKS, runCli } from '../support/worker-process';

/**
 * `ctx.progress()` from a task in a pool process, stored in Redis as Celery's `update_state`
 * stores a state: a Python Celery client polling `AsyncResult.state` / `.info` sees PROGRESS with
 * `current` and `total`, and `warren send --wait` prints it.
 */
describe('progress, read by Python Celery and by warren send --wait', () => {
  const redisUrl = testRedisUrl();
  const suite = brokerSuite('progress', (prefix) => ({
    definitions: {
      broker: { url: testBrokerUrl() },
      exchanges: [{ name: `${prefix}.progress`, type: 'direct' }],
      queues: [{ name: `${prefix}.progress`, exchange: `${prefix}.progress`, routingKey: `${prefix}.progress` }],
      defaultQueue: `${prefix}.progress`,
    },
    queues: [`${prefix}.progress`],
    exchanges: [`${prefix}.progress`],
  }));
  const { prefix } = suite;
  const queue = `${prefix}.progress`;

  beforeAll(async () => {
    requirePythonCelery();
    const worker = suite.workerProcess({ app: POOL_TASKS, queues: [queue], name: 'progress@test', concurrency: 1, extraArgs: ['--pool', 'process', '--result-backend', redisUrl] });
    await worker.ready;
  });

  afterAll(async () => {
    await deleteResultsOf(prefix, redisUrl);
  });

  test('a Python client polling the task sees PROGRESS with current and total, then SUCCESS', async () => {
    const outcome = await runPythonClientJson<{ state: string; result: { steps: number }; progress: Array<Record<string, unknown>> }>(
      { brokerUrl: testBrokerUrl(), prefix, queue, backend: redisUrl },
      [`${prefix}.progress`, '4', '400'],
      30_000,
      'progress_client.py',
    );
    expect(outcome.state).toBe('SUCCESS');
    expect(outcome.result).toMatchObject({ steps: 4 });
    expect(outcome.progress.length).toBeGreaterThanOrEqual(2);
    for (const info of outcome.progress) expect(info).toEqual({ current: expect.any(Number), total: 4, stage: 'copy' });
    const currents = outcome.progress.map((info) => info.current as number);
    expect([...currents].sort((a, b) => a - b)).toEqual(currents);
  }, 40_000);

  test('warren send --wait, not on a terminal: a plain progress line per update on stderr, the result alone on stdout', async () => {
    const run = await runCli(['send', `${prefix}.progress`, '3', '300', '--wait', '--timeout', '20s', '--definitions', suite.defs.file, '--result-backend', redisUrl], {}, 30_000);
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines).toHaveLength(2); // the id, then the result
    expect(JSON.parse(lines[1])).toMatchObject({ steps: 3 });
    expect(run.stderr).toContain('progress 3/3 (100%) stage=copy\n');
    expect(run.stderr.split('\n').filter((line) => line.startsWith('progress ')).length).toBeGreaterThanOrEqual(2);
  }, 40_000);
});
