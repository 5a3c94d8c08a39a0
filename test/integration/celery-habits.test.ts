import { waitFor } from '../support/broker';
import { exampleSuite } from '../support/example-suite';
import { runCli, TEST_TASKS, WorkerProcess } from '../support/worker-process';

/** Flags a Celery user types, given to a real `warren worker`. */
describe("warren worker with Celery's flags", () => {
  const suite = exampleSuite('celery-habits');
  const { topology } = suite;
  const workers: WorkerProcess[] = [];

  afterEach(async () => {
    await Promise.all(workers.splice(0).map((worker) => worker.stop()));
  });

  test('--loglevel=WARNING -P solo: tasks run one at a time, and nothing below warn is logged; warren call --args sends as celery call does', async () => {
    const worker = new WorkerProcess(
      ['-A', TEST_TASKS, '-Q', topology.queues.task1, '-n', 'solo@test', '-P', 'solo', '--loglevel=WARNING', '--definitions', suite.defs.file],
      { WARREN_TEST_PREFIX: suite.prefix },
    );
    workers.push(worker);
    void worker.ready.catch(() => undefined); // "worker ready" is an info line: not written at WARNING
    await waitFor('the worker to consume', async () => (await suite.probe.queueExists(topology.queues.task1)) && (await suite.probe.consumerCount(topology.queues.task1)) === 1, 20_000);

    // One task at a time: the broker hands the solo worker one unacknowledged delivery, the others stay ready.
    const results = await Promise.all([1, 2, 3].map((n) => suite.client.sendTask(topology.tasks.deal1, [`solo ${n}`])));
    expect(await Promise.all(results.map((r) => r.get({ timeout: 10_000 })))).toEqual(['solo 1=======', 'solo 2=======', 'solo 3=======']);

    const inspected = await suite.client.control.inspect({ destination: ['solo@test'], timeoutMs: 2000 }).stats();
    expect(inspected['solo@test']).toMatchObject({ pool: { 'max-concurrency': 1 }, prefetch_count: 1 });

    // celery call's spelling: the arguments as one JSON array (-a/--args), the keyword ones with -k.
    const call = await runCli(['call', topology.tasks.deal1, '--args', '["by call"]', '-k', '{}', '--wait', '--definitions', suite.defs.file], { WARREN_TEST_PREFIX: suite.prefix });
    expect(call.stdout.split('\n')[1]).toBe('"by call======="');
    expect(call.code).toBe(0);

    expect(await worker.stop()).toBe(0);
    const levels = worker.output
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => (JSON.parse(line) as { level: number }).level);
    expect(levels.filter((level) => level < 40)).toEqual([]);
  });
});
