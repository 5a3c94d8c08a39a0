import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
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

  test('--purge --logfile --pidfile -n purge@%h -O fair --without-gossip: what waited is deleted, logs and pid go to their files, and a second worker on the same pidfile starts nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'warren-habits-'));
    try {
      const queue = topology.queues.task1;
      const env = { WARREN_TEST_PREFIX: suite.prefix };
      // Two tasks wait before the worker starts: --purge deletes them, so they never run.
      await suite.client.sendTask(topology.tasks.deal1, ['stale 1'], {}, { ignoreResult: true });
      await suite.client.sendTask(topology.tasks.deal1, ['stale 2'], {}, { ignoreResult: true });
      expect(await suite.probe.messageCount(queue)).toBe(2);

      const args = ['-A', TEST_TASKS, '-Q', queue, '-n', 'purge@%h', '--logfile', join(dir, '%n-%h.log'), '--pidfile', join(dir, '%n.pid'), '--definitions', suite.defs.file];
      const worker = new WorkerProcess([...args, '--purge', '-O', 'fair', '--without-gossip'], env);
      workers.push(worker);
      void worker.ready.catch(() => undefined); // "worker ready" goes to the log file
      await waitFor('the worker to consume', async () => (await suite.probe.consumerCount(queue)) === 1, 20_000);
      expect(await suite.probe.messageCount(queue)).toBe(0);
      const pidfile = join(dir, 'purge.pid');
      expect(readFileSync(pidfile, 'utf8').trim()).toBe(String(worker.child.pid));

      // The same pidfile while that worker runs: a usage error, and no second consumer.
      const second = await runCli(['worker', ...args], env);
      expect(second.code).toBe(2);
      expect(second.stderr).toContain(`names process ${worker.child.pid}, which is running`);
      expect(await suite.probe.consumerCount(queue)).toBe(1);

      const fresh = await suite.client.sendTask(topology.tasks.deal1, ['fresh']);
      expect(await fresh.get({ timeout: 10_000 })).toBe('fresh=======');
      expect(await worker.stop()).toBe(0);
      expect(existsSync(pidfile)).toBe(false);

      // Every line went to the file (the test's env asks for JSON lines), none to stderr.
      const logged = readFileSync(join(dir, `purge-${hostname()}.log`), 'utf8')
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { msg: string; hostname?: string; queue?: string; messages?: number; args?: unknown });
      expect(logged.find((line) => line.msg.startsWith('purged '))).toMatchObject({ queue, messages: 2, hostname: `purge@${hostname()}` });
      expect(logged.some((line) => line.msg === 'worker ready')).toBe(true);
      expect(worker.output.split('\n').filter((line) => line.startsWith('{'))).toEqual([]);
      expect(JSON.stringify(logged)).not.toContain('stale');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('-X leaves queues out: without -Q, every queue of the definitions but those', async () => {
    const { queues } = topology;
    const worker = new WorkerProcess(['-A', TEST_TASKS, '-X', queues.default, '-n', 'exclude@test', '--definitions', suite.defs.file], { WARREN_TEST_PREFIX: suite.prefix });
    workers.push(worker);
    await worker.ready;
    expect(await suite.probe.consumerCount(queues.task1)).toBe(1);
    expect(await suite.probe.consumerCount(queues.task2)).toBe(1);
    // Not consumed (nor declared by this worker, when nothing else declared it before).
    expect((await suite.probe.queueExists(queues.default)) ? await suite.probe.consumerCount(queues.default) : 0).toBe(0);
    expect(worker.logLines('worker ready')[0]).toMatchObject({ queues: [queues.task1, queues.task2] });
    expect(await worker.stop()).toBe(0);
  });

  test('--detach: returns once the worker runs in the background, printing its pid; one that cannot start returns its error and leaves nothing running', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'warren-detach-'));
    const env = { WARREN_TEST_PREFIX: suite.prefix };
    const queue = topology.queues.task2;
    let pid: number | undefined;
    try {
      const args = ['worker', '-A', TEST_TASKS, '-Q', queue, '-n', 'bg@%h', '--detach', '-f', join(dir, '%n.log'), '--pidfile', join(dir, '%n.pid'), '--definitions', suite.defs.file];
      const started = await runCli(args, env);
      expect(started.code).toBe(0);
      const match = /^warren worker running in the background, pid (\d+); logs in (.+)\n$/.exec(started.stdout);
      expect(match?.[2]).toBe(join(dir, 'bg.log'));
      pid = Number(match?.[1]);
      expect(readFileSync(join(dir, 'bg.pid'), 'utf8').trim()).toBe(String(pid));
      // Running already when the command returned.
      expect(await suite.probe.consumerCount(queue)).toBe(1);
      const result = await suite.client.sendTask(topology.tasks.deal2, ['bg']);
      expect(await result.get({ timeout: 10_000 })).toEqual(expect.any(String));
      process.kill(pid, 'SIGTERM');
      await waitFor('the background worker to stop', () => !existsSync(join(dir, 'bg.pid')), 10_000);
      await waitFor('its consumer to go', async () => (await suite.probe.consumerCount(queue)) === 0, 10_000);
      pid = undefined;

      const failed = await runCli(['worker', '-A', TEST_TASKS, '-Q', queue, '--detach', '-f', join(dir, 'down.log'), '--broker', 'amqp://guest:guest@127.0.0.1:1/', '--definitions', suite.defs.file], env);
      expect(failed.code).toBe(1);
      expect(failed.stdout).toBe('');
      expect(failed.stderr).toContain(`warren: the background worker exited with 1 before it was running; nothing runs. It wrote to ${join(dir, 'down.log')}:`);
      expect(failed.stderr).toContain('WARREN_BROKER_UNAVAILABLE');
    } finally {
      if (pid !== undefined) process.kill(pid, 'SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('warren purge without -Q, as celery purge: every queue of the definitions, but those -X names', async () => {
    const { queues, tasks } = topology;
    await suite.client.sendTask(tasks.deal1, ['to purge'], {}, { ignoreResult: true });
    await suite.client.sendTask(tasks.deal2, ['to keep'], {}, { ignoreResult: true });
    await waitFor('both waiting', async () => (await suite.probe.messageCount(queues.task1)) >= 1 && (await suite.probe.messageCount(queues.task2)) >= 1);
    const kept = await suite.probe.messageCount(queues.task2);
    const run = await runCli(['purge', '-X', queues.task2, '--force', '--definitions', suite.defs.file], { WARREN_TEST_PREFIX: suite.prefix });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`from ${queues.task1}\n`);
    expect(run.stdout).not.toContain(queues.task2);
    expect(await suite.probe.messageCount(queues.task1)).toBe(0);
    expect(await suite.probe.messageCount(queues.task2)).toBe(kept);
  });

  test('warren report, as celery report: software, platform and settings with the password masked, and the tasks; it connects to nothing', async () => {
    const run = await runCli(['report', '-A', TEST_TASKS, '--definitions', suite.defs.file, '--broker', 'amqp://reporter:s3cret@127.0.0.1:1/prod'], { WARREN_TEST_PREFIX: suite.prefix });
    expect(run.code).toBe(0);
    const lines = run.stdout.split('\n');
    expect(lines[0]).toMatch(/^software -> warren:\S+ node:v\d+\.\d+\.\d+ amqplib:\d+\.\d+\.\d+ amqp-connection-manager:\d/);
    expect(lines[1]).toMatch(/^platform -> system:\S+ arch:\S+ kernel version:\S+$/);
    expect(lines).toContain('broker.urls: amqp://reporter:***@127.0.0.1:1/prod');
    expect(lines).toContain(`queues: ${topology.queues.default} (classic), ${topology.queues.task1} (classic), ${topology.queues.task2} (classic)`);
    expect(lines.find((line) => line.startsWith('tasks: '))).toContain(topology.tasks.deal1);
    expect(run.stdout).not.toContain('s3cret');
  });
});
