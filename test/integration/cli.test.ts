import { BrokerProbe, exampleTopology, randomPrefix, writeDefinitionsFile } from '../support/broker';
import { testBrokerUrl } from '../support/broker-url';
import { runCli, startTestWorker, type WorkerProcess } from '../support/worker-process';

describe('warren command line', () => {
  const prefix = randomPrefix('cli');
  const topology = exampleTopology(prefix);
  const defs = writeDefinitionsFile(topology.definitions);
  let probe: BrokerProbe;
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    probe = await BrokerProbe.open();
  });

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop('SIGKILL')));
    await probe.cleanUp(Object.values(topology.queues), topology.exchanges);
    await probe.close();
    defs.remove();
  });

  test('topology apply declares every exchange, queue and binding and prints them', async () => {
    const run = await runCli(['topology', 'apply', '--definitions', defs.file]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`queue    ${topology.queues.task1}`);
    expect(run.stdout).toContain(`binding  ${topology.queues.task2} -[task_b]-> ${topology.queues.task2}`);
    for (const queue of Object.values(topology.queues)) expect(await probe.queueExists(queue)).toBe(true);
  });

  test('logs are JSON lines on a pipe, and readable lines with --log-format pretty or WARREN_LOG_FORMAT=pretty', async () => {
    const json = await runCli(['topology', 'apply', '-l', 'info', '--definitions', defs.file]);
    const [first] = json.stderr.split('\n');
    expect(JSON.parse(first)).toMatchObject({ level: 30, component: 'connection', msg: 'connected to broker', time: expect.any(Number) });
    const readable = /^\d\d:\d\d:\d\d\.\d{3} INFO  \[connection\] connected to broker broker=amqp:\/\/guest:\*\*\*@/;
    const flag = await runCli(['topology', 'apply', '-l', 'info', '--log-format', 'pretty', '--definitions', defs.file]);
    expect(flag.stderr).toMatch(readable);
    const env = await runCli(['topology', 'apply', '--definitions', defs.file], { WARREN_LOG_FORMAT: 'pretty', WARREN_LOG_LEVEL: 'info' });
    expect(env.stderr).toMatch(readable);
  });

  test('send --wait prints the task id, then the result', async () => {
    const worker = startTestWorker({ prefix, definitions: defs.file, queues: [topology.queues.task1], name: 'cli@test' });
    workers.push(worker);
    await worker.ready;
    const run = await runCli(['send', topology.tasks.deal1, 'text0', '--wait', '--timeout', '10s', '--definitions', defs.file]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const [id, value, ...rest] = run.stdout.trim().split('\n');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(value).toBe('"text0======="');
    expect(rest).toEqual([]);
  });

  test('send without --wait prints the id and leaves the task in its queue', async () => {
    const run = await runCli(['send', topology.tasks.deal2, '[1, 2]', '{"a": true}', '--kwargs', '{"k": 1}', '--definitions', defs.file]);
    expect(run.code).toBe(0);
    const message = await probe.get(topology.queues.task2);
    expect(message).not.toBe(false);
    if (message === false) return;
    expect(message.properties.headers?.id).toBe(run.stdout.trim());
    expect(JSON.parse(message.content.toString())).toEqual([[[1, 2], { a: true }], { k: 1 }, { callbacks: null, errbacks: null, chain: null, chord: null }]);
  });

  test('a worker given an undeclared queue exits 2 and lists the declared ones', async () => {
    const run = await runCli(['worker', '-A', 'test/fixtures/tasks/test-tasks.js', '-Q', 'nope', '--definitions', defs.file], { WARREN_TEST_PREFIX: prefix });
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      `warren: unknown queue "nope" (declared queues: ${topology.queues.default}, ${topology.queues.task1}, ${topology.queues.task2})\n`,
    );
  });

  test('a worker given a --max-message-size that is not a size exits 2 saying what it expected', async () => {
    const run = await runCli(['worker', '-A', 'test/fixtures/tasks/test-tasks.js', '--max-message-size', 'lots', '--definitions', defs.file], { WARREN_TEST_PREFIX: prefix });
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      'warren: --max-message-size: "lots" is not a size in bytes (expected a whole number of bytes of at least 1 or a string like 1048576, 512KiB, 1MiB, 2MB) (see warren worker --help)\n',
    );
  });

  test('invalid definitions exit 2 with every problem and declare nothing', async () => {
    const badPrefix = randomPrefix('cli-bad');
    const bad = writeDefinitionsFile(
      [
        'exchanges:',
        `  - { name: ${badPrefix}.x, type: direct }`,
        'queues:',
        `  - { name: ${badPrefix}.q, exchange: ${badPrefix}.x, routingKey: k, type: quorom }`,
        'routes:',
        `  some.task: { queue: ${badPrefix}.missing }`,
        '',
      ].join('\n'),
      'warren.yaml',
    );
    try {
      const run = await runCli(['topology', 'apply', '--definitions', bad.file]);
      expect(run.code).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).toContain(`${bad.file}: queues[0].type: "quorom" is not a queue type (expected one of classic, quorum)`);
      expect(await probe.queueExists(`${badPrefix}.q`)).toBe(false);
    } finally {
      bad.remove();
    }
  });

  test('a queue that exists with other arguments fails with an error naming the queue and argument, and how to fix it', async () => {
    const mismatch = randomPrefix('cli-406');
    await probe.declareQueue(`${mismatch}.q`, { durable: true, arguments: { 'x-max-priority': 10 } });
    const file = writeDefinitionsFile({ broker: { url: testBrokerUrl() }, queues: [{ name: `${mismatch}.q` }], defaultQueue: `${mismatch}.q` });
    try {
      const run = await runCli(['topology', 'apply', '--definitions', file.file]);
      expect(run.code).toBe(1);
      const [error, ...hint] = run.stderr.trimEnd().split('\n');
      expect(error).toMatch(new RegExp(`^warren: WARREN_TOPOLOGY_MISMATCH: queue "${mismatch}.q" exists on the broker with other settings \\(argument x-max-priority`));
      expect(hint).toEqual([
        `The broker keeps queue "${mismatch}.q" as it is; warren neither changes nor deletes it. Either`,
        '  - declare it in the definitions exactly as the broker has it (`rabbitmqctl list_queues name durable auto_delete arguments` shows it),',
        '  - give yours another name, or use a virtual host of your own (the path of the broker URL: amqp://host:5672/myvhost),',
        `  - or, if nothing else uses it, delete it on the broker: \`rabbitmqctl delete_queue ${mismatch}.q\` (its messages go with it).`,
      ]);
    } finally {
      file.remove();
      await probe.cleanUp([`${mismatch}.q`]);
    }
  });
});

