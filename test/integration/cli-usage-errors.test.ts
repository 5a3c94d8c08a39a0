import { mkdtempSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BrokerProbe, exampleTopology, randomPrefix, writeDefinitionsFile } from '../support/broker';
import { runCli, TEST_TASKS } from '../support/worker-process';

/**
 * A usage error never runs the command: exit 2, one line naming the mistake and the command's
 * --help, and nothing declared, sent or consumed. The topology of these definitions is never
 * applied, so any declare would show as a queue that exists.
 */
describe('warren command line: usage errors', () => {
  const prefix = randomPrefix('cli-usage');
  const topology = exampleTopology(prefix);
  const defs = writeDefinitionsFile(topology.definitions);
  const stateDir = mkdtempSync(join(tmpdir(), 'warren-cli-usage-'));
  let probe: BrokerProbe;

  beforeAll(async () => {
    probe = await BrokerProbe.open();
  });

  afterAll(async () => {
    await probe.cleanUp(Object.values(topology.queues), topology.exchanges);
    await probe.close();
    defs.remove();
    rmSync(stateDir, { recursive: true, force: true });
  });

  const nothingDeclared = async (): Promise<void> => {
    for (const queue of Object.values(topology.queues)) expect(await probe.queueExists(queue)).toBe(false);
  };

  test.each([
    [['send', topology.tasks.deal1, '3', '--wiat'], 'unknown argument: wiat (see warren send --help)'],
    [['send'], 'missing required argument: <task> (see warren send --help)'],
    [['send', topology.tasks.deal1, '--priority', '300'], '--priority must be a whole number from 0 to 255 (got 300) (see warren send --help)'],
    [['send', topology.tasks.deal1, '-l', 'loud'], 'invalid value "loud" for --log-level (expected one of fatal, error, warn, info, debug, trace, silent) (see warren send --help)'],
    [['worker'], 'missing required argument: --app (see warren worker --help)'],
    [['worker', '-Q', topology.queues.task1, '-A'], '-A needs a value (see warren worker --help)'],
    [['worker', '-A', TEST_TASKS, '--concurency', '2'], 'unknown argument: concurency (see warren worker --help)'],
    [['topology', 'aply'], 'unknown action: aply (expected apply or export) (see warren topology --help)'],
    [['result'], 'missing required argument: <id> (see warren result --help)'],
    [['result', 'some-id', '--timeout', 'soon'], '--timeout: "soon" is not a duration (expected a number of seconds or a string like 250ms, 10s, 1.5m, 2h) (see warren result --help)'],
    [['call'], 'missing required argument: <task> (see warren call --help)'],
    [['call', topology.tasks.deal1, '--args', '2'], '--args must be a JSON array, e.g. \'[2, 2]\' (got 2) (see warren call --help)'],
    [['send', topology.tasks.deal1, 'x', '--args', '[1]'], 'give the task\'s arguments after its name or as --args, not both (got x and --args [1]) (see warren send --help)'],
    [['frob'], 'unknown command: frob (expected worker, send, call, result, topology, beat, schedule, inspect, control, status, queues, purge, events, dashboard or report) (see warren --help)'],
    [['worker', '-A', TEST_TASKS, '-P', 'forkserver'], '-P/--pool must be async or process, or one of Celery\'s prefork, threads, gevent, eventlet, solo (got "forkserver") (see warren worker --help)'],
    [['worker', '-A', TEST_TASKS, '-P', 'solo', '-c', '4'], '-P solo runs one task at a time: it takes no -c 4 (see warren worker --help)'],
    [['worker', '-A', TEST_TASKS, '-P', 'prefork', '--max-memory-per-child', '12 pages'], '--max-memory-per-child: "12 pages" is not a size (expected a whole number of KiB, as Celery takes it, or a size like 512MiB or 2GB) (see warren worker --help)'],
    [['worker', '-A', TEST_TASKS, '--loglevel', 'LOUD'], 'invalid value "loud" for --log-level (expected one of fatal, error, warn, info, debug, trace, silent) (see warren worker --help)'],
    [['worker', '-A', TEST_TASKS, '--detach'], '--detach needs --logfile: a worker in the background has no terminal to write its logs to (see warren worker --help)'],
    [['beat', '-D'], '--detach needs --logfile: a beat in the background has no terminal to write its logs to (see warren beat --help)'],
    [['worker', '-A', TEST_TASKS, '-Q', topology.queues.task1, '-X', topology.queues.task1], `no queue is left to consume: the worker would consume ${topology.queues.task1}, and excludes ${topology.queues.task1} (see warren worker --help)`],
    [['worker', '-A', TEST_TASKS, '-X', 'nowhere'], `excludeQueues (-X): unknown queue "nowhere" (declared queues: ${topology.queues.default}, ${topology.queues.task1}, ${topology.queues.task2})`],
    [['worker', '-A', TEST_TASKS, '-O', 'fastest'], 'invalid value "fastest" for --optimization (expected one of fair, default) (see warren worker --help)'],
    [['worker', '-A', TEST_TASKS, '--logfile', '/nonexistent-warren-dir/%n.log'], 'log file /nonexistent-warren-dir/warren.log: cannot open it for appending (ENOENT) (see warren worker --help)'],
    [['worker', '-A', TEST_TASKS, '--metrics-port', '70000'], '--metrics-port must be a port number from 0 to 65535 (got 70000) (see warren worker --help)'],
    [['inspect', 'pingg'], 'unknown action: pingg (expected ping, stats, active, reserved, scheduled, registered, active_queues, query_task, revoked, clock, report or conf) (see warren inspect --help)'],
    [['inspect', 'ping', '-t', 'soon'], '--timeout: "soon" is not a duration (expected a number of seconds or a string like 250ms, 10s, 1.5m, 2h) (see warren inspect ping --help)'],
    [['inspect', 'query_task'], 'missing required argument: <ids> (see warren inspect query_task --help)'],
    [['control', 'revoke'], 'missing required argument: <ids> (see warren control revoke --help)'],
    [['control', 'add_consumer'], 'missing required argument: <queue> (see warren control add_consumer --help)'],
    [['control', 'rate_limit', 'mail.send'], 'missing required argument: <rate> (see warren control rate_limit --help)'],
    [['status', '--jsn'], 'unknown argument: jsn (see warren status --help)'],
    [['purge', '-X', 'nope', '--force'], `-X: unknown queue "nope" (declared queues: ${topology.queues.default}, ${topology.queues.task1}, ${topology.queues.task2})`],
    [['purge', '-Q', topology.queues.task1, '-X', topology.queues.task1, '--force'], `no queue is left to purge: -X excludes ${topology.queues.task1} (see warren purge --help)`],
    [['events', '--dumpp'], 'unknown argument: dumpp (see warren events --help)'],
  ])('warren %j exits 2 with one line and declares, sends and consumes nothing', async (args, line) => {
    const run = await runCli([...args, '--definitions', defs.file], { WARREN_TEST_PREFIX: prefix });
    expect(run.stderr).toBe(`warren: ${line}\n`);
    expect(run.stdout).toBe('');
    expect(run.code).toBe(2);
    await nothingDeclared();
  });

  test('send to an undeclared --queue exits 2 before anything is declared', async () => {
    const run = await runCli(['send', topology.tasks.deal1, '--queue', 'nope', '--definitions', defs.file]);
    expect(run.stderr).toBe(`warren: unknown queue "nope" (declared queues: ${topology.queues.default}, ${topology.queues.task1}, ${topology.queues.task2})\n`);
    expect(run.code).toBe(2);
    await nothingDeclared();
  });

  test('schedule add with a mistyped flag exits 2 and stores nothing', async () => {
    const store = join(stateDir, 'beat-state.json');
    const run = await runCli(['schedule', 'add', 'tick', '--task', topology.tasks.deal1, '--evry', '10s', '--store', store, '--definitions', defs.file]);
    expect(run.stderr).toBe('warren: unknown argument: evry (see warren schedule add --help)\n');
    expect(run.code).toBe(2);
    expect(existsSync(store)).toBe(false);
  });

  describe('with the topology declared and a task waiting', () => {
    beforeAll(async () => {
      const apply = await runCli(['topology', 'apply', '--definitions', defs.file]);
      expect(apply.code).toBe(0);
      const send = await runCli(['send', topology.tasks.deal1, 'waiting', '--definitions', defs.file]);
      expect(send.code).toBe(0);
      expect(await probe.messageCount(topology.queues.task1)).toBe(1);
    });

    test('a worker without -A consumes nothing', async () => {
      const run = await runCli(['worker', '-Q', topology.queues.task1, '--definitions', defs.file]);
      expect(run.stderr).toBe('warren: missing required argument: --app (see warren worker --help)\n');
      expect(run.code).toBe(2);
      expect(await probe.messageCount(topology.queues.task1)).toBe(1);
      expect(await probe.consumerCount(topology.queues.task1)).toBe(0);
    });

    test('purge without --force and without a terminal deletes nothing; an undeclared queue neither', async () => {
      const refused = await runCli(['purge', '-Q', topology.queues.task1, '--definitions', defs.file]);
      expect(refused.stderr).toBe(
        'warren: refusing to purge without --force: stdin is not a terminal to ask on, and deleted messages cannot be brought back (see warren purge --help)\n',
      );
      expect(refused.code).toBe(2);
      const unknown = await runCli(['purge', '-Q', 'nope', '--force', '--definitions', defs.file]);
      expect(unknown.stderr).toBe(`warren: -Q: unknown queue "nope" (declared queues: ${topology.queues.default}, ${topology.queues.task1}, ${topology.queues.task2})\n`);
      expect(unknown.code).toBe(2);
      expect(await probe.messageCount(topology.queues.task1)).toBe(1);
    });

    test('send with a mistyped flag sends nothing', async () => {
      const run = await runCli(['send', topology.tasks.deal1, '3', '--wiat', '--definitions', defs.file]);
      expect(run.stderr).toBe('warren: unknown argument: wiat (see warren send --help)\n');
      expect(run.code).toBe(2);
      expect(await probe.messageCount(topology.queues.task1)).toBe(1);
    });
  });
});
