import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createApp, createLogger, TaskRevokedError, type App, type Worker } from '../../src';
import { createTransport } from '../../src/transport';
import { captureLogger } from '../support/capture-logger';
import { randomPrefix, waitFor, writeDefinitionsFile } from '../support/broker';
import { CELERY_FIXTURES, PYTHON, requirePythonCelery } from '../support/python-celery';
import { runProcess } from '../support/run-process';
import { createTestVhost, type TestVhost } from '../support/vhost';
import { testBrokerUrl } from '../support/broker-url';

/** The test broker's host and port, as Celery's stats and warren status name them. */
const brokerAddress = new URL(testBrokerUrl());
import { EventReceiver, LamportClock } from '../../src/control';
import { runCli, startTestWorker } from '../support/worker-process';

/*
 * A warren worker in a Celery fleet, with the real peer: Python Celery 5.2's own commands
 * (`celery inspect`, `celery status`, `celery control`, `celery events --dump`) against a warren
 * worker, and warren's commands against a Python worker. Everything runs in a virtual host of
 * its own: remote control and events are broadcasts, and on `/` they would reach every other
 * test run on the broker.
 */

const silent = createLogger({ level: 'silent' });

/** One `gate()`: a task waits on it until the test opens it. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

/** What fleet_app.py's send-wait prints last. */
interface PythonOutcome {
  id: string;
  status: string;
  result?: unknown;
  exc_type?: string;
  exc_str?: string;
}

/** A Python client that sent a task and waits for its result (the rpc reply queue is its own). */
class PythonSend {
  readonly id: Promise<string>;
  readonly outcome: Promise<PythonOutcome>;
  private readonly child: ChildProcess;

  constructor(env: NodeJS.ProcessEnv, task: string, args: unknown[], queue: string, countdown = 0, timeoutSeconds = 25) {
    this.child = spawn(PYTHON, [join(CELERY_FIXTURES, 'fleet_app.py'), 'send-wait', task, JSON.stringify(args), '{}', queue, String(countdown), String(timeoutSeconds)], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    this.child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const lines: string[] = [];
    let sawId: (id: string) => void;
    this.id = new Promise((resolve) => (sawId = resolve));
    this.child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const complete = out.split('\n');
      out = complete.pop() ?? '';
      for (const line of complete) {
        if (!line.startsWith('{')) continue;
        lines.push(line);
        if (lines.length === 1) sawId((JSON.parse(line) as { id: string }).id);
      }
    });
    this.outcome = new Promise((resolve, reject) => {
      this.child.once('exit', (code) => {
        if (code === 0 && lines.length === 2) resolve(JSON.parse(lines[1]) as PythonOutcome);
        else reject(new Error(`fleet_app.py send-wait exited with ${code}\nstdout: ${lines.join('\n')}${out}\nstderr: ${err}`));
      });
    });
    this.outcome.catch(() => undefined);
  }
}

describe('a warren worker in a Celery fleet (Python Celery 5.2 as the peer, a vhost of its own)', () => {
  const prefix = randomPrefix('fleet');
  const queues = { warren: `${prefix}.w`, later: `${prefix}.later`, python: `${prefix}.py`, bench: `${prefix}.bench`, cli: `${prefix}.cli` };
  const names = { add: `${prefix}.add`, hold: `${prefix}.hold`, mul: `${prefix}.mul`, nap: `${prefix}.nap`, deal1: '' };
  const warrenNode = `warren1@${prefix}`;
  const pythonNode = `py1@${prefix}`;
  let vhost: TestVhost;
  let defs: ReturnType<typeof writeDefinitionsFile>;
  let app: App;
  let worker: Worker;
  let python: ChildProcess | undefined;
  let pythonLogs = '';
  const logs = captureLogger('info');
  let holding = gate();
  let pythonEnv: NodeJS.ProcessEnv;

  /** `celery -b <vhost> <args>`; fails on a non-zero exit. */
  async function celery(...args: string[]): Promise<string> {
    const run = await runProcess(PYTHON, ['-m', 'celery', '-b', vhost.url, ...args], { ...process.env, PYTHONDONTWRITEBYTECODE: '1' }, 30_000, CELERY_FIXTURES);
    if (run.code !== 0) throw new Error(`celery ${args.join(' ')} exited with ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
    return run.stdout;
  }

  /** `celery ... -j`: the replies by node. */
  async function celeryJson<T = Record<string, unknown>>(...args: string[]): Promise<T> {
    const out = await celery(...args, '-j');
    return JSON.parse(out.trim().split('\n')[0]) as T;
  }

  beforeAll(async () => {
    requirePythonCelery();
    vhost = await createTestVhost('fleet');
    const exchange = (name: string) => ({ name, type: 'direct', durable: true, autoDelete: false });
    const queue = (name: string) => ({ name, exchange: name, routingKey: name, durable: true, autoDelete: false });
    defs = writeDefinitionsFile({
      broker: { url: vhost.url },
      exchanges: Object.values(queues).map(exchange),
      queues: Object.values(queues).map(queue),
      defaultQueue: queues.warren,
      routes: { [`${prefix}.*`]: { queue: queues.warren } },
    });
    // The test tasks module (warren worker processes) registers these under the prefix.
    names.deal1 = `${prefix}.app1.tasks1.deal1`;
    app = createApp({ definitions: defs.file, logger: logs.logger });
    app.task(names.add, async (a: number, b: number) => a + b);
    app.task(names.hold, async () => {
      await holding.wait;
      return 'held';
    });
    worker = await app.startWorker({ queues: [queues.warren], concurrency: 1, prefetchMultiplier: 3, hostname: warrenNode, taskEvents: true });
    pythonEnv = { ...process.env, PYTHONPATH: CELERY_FIXTURES, PYTHONDONTWRITEBYTECODE: '1', PYTHONUNBUFFERED: '1', CELERY_FLEET_BROKER_URL: vhost.url, CELERY_FLEET_PREFIX: prefix, CELERY_FLEET_QUEUE: queues.python };
    // Prefork, not threads: Celery 5.2's event dispatcher appends a buffered task event without its
    // lock while its event loop publishes and then clears that buffer, so an event sent from a pool
    // thread meanwhile is dropped (seen in three full runs: a Python task's task-succeeded never
    // reached the dump, its heartbeats did). With prefork the parent sends every task event.
    python = spawn(PYTHON, ['-m', 'celery', '-A', 'fleet_app', 'worker', '-Q', queues.python, '-n', pythonNode, '--pool', 'prefork', '-c', '2', '-E', '-l', 'info'], {
      cwd: CELERY_FIXTURES,
      env: pythonEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    python.stdout!.on('data', (chunk: Buffer) => (pythonLogs += chunk.toString()));
    python.stderr!.on('data', (chunk: Buffer) => (pythonLogs += chunk.toString()));
    await waitFor('the Python worker to be ready', () => /\] \S+ ready\.\s*$/m.test(pythonLogs), 20_000);
  }, 60_000);

  afterAll(async () => {
    holding.open();
    python?.kill('SIGTERM');
    await app?.close();
    defs?.remove();
    await vhost?.remove();
  }, 30_000);

  test('celery inspect ping and celery status list the warren worker beside the Python one', async () => {
    const ping = await celery('inspect', 'ping', '-d', warrenNode);
    expect(ping).toContain(`->  ${warrenNode}: OK\n        pong`);
    expect(ping).toContain('1 node online.');
    const status = await celery('status', '-t', '3');
    expect(status).toContain(`->  ${warrenNode}: OK`);
    expect(status).toContain(`->  ${pythonNode}: OK`);
    expect(status).toContain('2 nodes online.');
  });

  test('celery inspect registered, active_queues and stats give the warren worker\'s content', async () => {
    expect(await celeryJson('inspect', 'registered', '-d', warrenNode)).toEqual({ [warrenNode]: [names.add, names.hold].sort() });
    const [queueInfo] = (await celeryJson<Record<string, Array<Record<string, unknown>>>>('inspect', 'active_queues', '-d', warrenNode))[warrenNode];
    expect(queueInfo).toMatchObject({ name: queues.warren, exchange: { name: queues.warren, type: 'direct', durable: true }, routing_key: queues.warren, durable: true, no_ack: false });
    const stats = (await celeryJson<Record<string, Record<string, unknown>>>('inspect', 'stats', '-d', warrenNode))[warrenNode];
    expect(stats).toMatchObject({
      pid: process.pid,
      prefetch_count: 3,
      pool: { 'max-concurrency': 1, processes: [process.pid] },
      broker: { hostname: brokerAddress.hostname, port: Number(brokerAddress.port || 5672), virtual_host: vhost.name, transport: 'amqp', userid: 'guest' },
      sw_ident: 'warren',
    });
    expect(JSON.stringify(stats)).not.toContain('guest:guest');
  });

  test('celery inspect active shows the task a warren worker runs; query_task finds it', async () => {
    holding = gate();
    const result = await app.sendTask(names.hold, [], {}, { queue: queues.warren });
    await waitFor('the task to run', () => worker.active === 1);
    const active = (await celeryJson<Record<string, Array<Record<string, unknown>>>>('inspect', 'active', '-d', warrenNode))[warrenNode];
    expect(active).toEqual([expect.objectContaining({ id: result.id, name: names.hold, args: [], kwargs: {}, hostname: warrenNode, worker_pid: process.pid, acknowledged: false })]);
    expect(typeof active[0].time_start).toBe('number');
    const query = (await celeryJson<Record<string, Record<string, [string, unknown]>>>('inspect', 'query_task', result.id, '-d', warrenNode))[warrenNode];
    expect(query[result.id][0]).toBe('active');
    holding.open();
    expect(await result.get({ timeout: 5000 })).toBe('held');
  });

  test('celery control revoke of a queued task: REVOKED for the Python client and the warren client when a worker gets it', async () => {
    const fromWarren = await app.sendTask(names.add, [1, 2], {}, { queue: queues.later });
    const fromPython = new PythonSend(pythonEnv, names.add, [3, 4], queues.later);
    const pythonId = await fromPython.id;
    const revoke = await celery('control', 'revoke', fromWarren.id, pythonId, '-d', warrenNode);
    expect(revoke).toContain(`->  ${warrenNode}: OK`);
    expect(revoke).toContain('flagged as revoked');
    // The queue had no consumer: now the warren worker takes it on, and meets both tasks.
    expect(await celery('control', 'add_consumer', queues.later, '-d', warrenNode)).toContain(`->  ${warrenNode}: OK\n        add consumer ${queues.later}`);
    await expect(fromWarren.get({ timeout: 10_000 })).rejects.toThrow(TaskRevokedError);
    expect(fromWarren.state).toBe('REVOKED');
    expect(await fromPython.outcome).toMatchObject({ id: pythonId, status: 'REVOKED', exc_type: 'TaskRevokedError', exc_str: 'revoked' });
    expect(await celery('control', 'cancel_consumer', queues.later, '-d', warrenNode)).toContain(`no longer consuming from ${queues.later}`);
  });

  test('celery control revoke of a task waiting for its eta (in the delay levels): REVOKED when it comes back', async () => {
    const fromWarren = await app.sendTask(names.add, [5, 6], {}, { queue: queues.warren, countdown: 3 });
    const fromPython = new PythonSend(pythonEnv, names.add, [7, 8], queues.warren, 3);
    const pythonId = await fromPython.id;
    // A Python client sends it straight to the queue: the warren worker moves it into the delay levels, and lists it.
    await waitFor('the Python task to be scheduled', async () => {
      const scheduled = (await celeryJson<Record<string, Array<{ request: { id: string } }>>>('inspect', 'scheduled', '-d', warrenNode))[warrenNode];
      return scheduled.some((entry) => entry.request.id === pythonId);
    });
    await celery('control', 'revoke', fromWarren.id, pythonId);
    await expect(fromWarren.get({ timeout: 15_000 })).rejects.toThrow(TaskRevokedError);
    expect(await fromPython.outcome).toMatchObject({ status: 'REVOKED', exc_type: 'TaskRevokedError' });
  });

  test('celery control revoke of prefetched tasks: REVOKED at once, while the running task goes on', async () => {
    holding = gate();
    const running = await app.sendTask(names.hold, [], {}, { queue: queues.warren });
    await waitFor('the task to run', () => worker.active === 1);
    const fromWarren = await app.sendTask(names.add, [1, 1], {}, { queue: queues.warren });
    const fromPython = new PythonSend(pythonEnv, names.add, [2, 2], queues.warren);
    const pythonId = await fromPython.id;
    await waitFor('both prefetched', async () => {
      const reserved = (await celeryJson<Record<string, Array<{ id: string }>>>('inspect', 'reserved', '-d', warrenNode))[warrenNode];
      return [fromWarren.id, pythonId].every((id) => reserved.some((r) => r.id === id));
    });
    await celery('control', 'revoke', fromWarren.id, pythonId, '-d', warrenNode);
    await expect(fromWarren.get({ timeout: 10_000 })).rejects.toThrow(TaskRevokedError);
    expect(await fromPython.outcome).toMatchObject({ status: 'REVOKED' });
    expect(running.state).toBe('PENDING');
    holding.open();
    expect(await running.get({ timeout: 5000 })).toBe('held');
  });

  test('celery control rate_limit: the warren worker starts the task at most that often, others run meanwhile; warren control rate_limit lifts it and sets one on the Python worker; time_limit both ways', async () => {
    const limited = await celery('control', 'rate_limit', names.add, '2/s', '-d', warrenNode);
    expect(limited).toContain(`->  ${warrenNode}: OK\n        new rate limit set successfully`);
    expect(await celery('control', 'rate_limit', `${prefix}.nothing`, '2/s', '-d', warrenNode)).toContain(`->  ${warrenNode}: ERROR\n        unknown task`);

    const starts = new Map<string, number>();
    const onStarted = ({ taskId }: { taskId: string }): void => void starts.set(taskId, Date.now());
    worker.on('task-started', onStarted);
    try {
      const adds = await Promise.all([1, 2, 3, 4].map((n) => app.sendTask<number>(names.add, [n, n], {}, { queue: queues.warren })));
      // Sent after the four, it starts before the last of them: the held ones take no slot.
      const other = await app.sendTask<string>(names.hold, [], {}, { queue: queues.warren });
      holding.open();
      expect(await other.get({ timeout: 10_000 })).toBe('held');
      expect(await Promise.all(adds.map((r) => r.get({ timeout: 10_000 })))).toEqual([2, 4, 6, 8]);
      const times = adds.map((r) => starts.get(r.id)!).sort((a, b) => a - b);
      const gaps = times.slice(1).map((t, i) => t - times[i]);
      process.stdout.write(`rate_limit 2/s: gaps between starts ${gaps.join(', ')} ms\n`);
      for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(490);
      expect(starts.get(other.id)!).toBeLessThan(times[3]);
    } finally {
      worker.off('task-started', onStarted);
    }

    const lifted = await runCli(['control', 'rate_limit', names.add, '0', '--broker', vhost.url, '-d', warrenNode, '-t', '2']);
    expect(lifted.stdout).toBe(`${warrenNode}: OK rate limit disabled successfully\n`);
    expect(worker.rateLimit(names.add)).toBe(0);
    const onPython = await runCli(['control', 'rate_limit', names.mul, '10/m', '--broker', vhost.url, '-d', pythonNode, '-t', '2']);
    expect(onPython.stdout).toBe(`${pythonNode}: OK new rate limit set successfully\n`);
    // time_limit, both ways, with Celery's reply.
    expect(await celery('control', 'time_limit', names.add, '30', '60', '-d', warrenNode)).toContain(`->  ${warrenNode}: OK\n        time limits set successfully`);
    // celery inspect conf (Flower's config tab) gets the warren worker's settings.
    const conf = (await celeryJson<Record<string, Record<string, unknown>>>('inspect', 'conf', '-d', warrenNode))[warrenNode];
    expect(conf).toMatchObject({ worker_concurrency: 1, worker_prefetch_multiplier: 3, task_queues: [queues.warren], worker_send_task_events: true });
    expect(String(conf.broker_url)).toMatch(/^amqp:\/\/[^:@]+:\*\*@[^/@]+\//);
    const timeLimitOnPython = await runCli(['control', 'time_limit', names.mul, '30', '60', '--broker', vhost.url, '-d', pythonNode, '-t', '2']);
    expect({ stdout: timeLimitOnPython.stdout, stderr: timeLimitOnPython.stderr }).toEqual({ stdout: `${pythonNode}: OK time limits set successfully\n`, stderr: '' });
  });

  test("celery events --dump shows a warren task's full sequence", async () => {
    const dump = spawn(PYTHON, ['-m', 'celery', '-b', vhost.url, 'events', '--dump'], { cwd: CELERY_FIXTURES, env: { ...process.env, PYTHONUNBUFFERED: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    dump.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    try {
      await waitFor('the dump to start', () => out.includes('-> evdump: starting capture...'), 15_000);
      await waitFor('a heartbeat of the warren worker', () => out.includes(`${warrenNode} [`) && out.includes('heartbeat: active='), 10_000);
      const result = await app.sendTask(names.add, [2, 3], {}, { queue: queues.warren });
      expect(await result.get({ timeout: 5000 })).toBe(5);
      await waitFor('task succeeded in the dump', () => out.includes(`task succeeded: ${names.add}(${result.id})`), 10_000);
      const lines = out.split('\n').filter((line) => line.startsWith(`${warrenNode} [`) && line.includes(result.id));
      expect(lines.map((line) => /\] (task \w+):/.exec(line)?.[1])).toEqual(['task received', 'task started', 'task succeeded']);
      expect(lines[0]).toContain(`task received: ${names.add}(${result.id}) args=[2, 3] kwargs={}`);
      expect(lines[0]).toContain(`root_id=${result.id}`);
      expect(lines[2]).toMatch(/result=5, runtime=[\d.e-]+/);
    } finally {
      dump.kill('SIGTERM');
    }
  });

  test('warren inspect ping lists the warren and the Python worker; warren status a line for each', async () => {
    const ping = await runCli(['inspect', 'ping', '--broker', vhost.url, '-t', '2']);
    expect(ping.code).toBe(0);
    expect(ping.stdout).toBe(`${[`${pythonNode}: pong`, `${warrenNode}: pong`].sort().join('\n')}\n\n2 nodes replied.\n`);
    const status = await runCli(['status', '--broker', vhost.url, '-t', '2']);
    expect(status.code).toBe(0);
    const lines = status.stdout.trim().split('\n');
    expect(lines.find((l) => l.startsWith(warrenNode))).toMatch(new RegExp(`online +warren \\S+ +pid ${process.pid} .*queues ${queues.warren.replace(/\./g, '\\.')} +broker ${brokerAddress.host.replace(/\./g, '\\.')}/${vhost.name}`));
    expect(lines.find((l) => l.startsWith(pythonNode))).toMatch(/online +celery +pid \d+/);
    expect(lines.at(-1)).toBe('2 nodes online.');
  });

  test('warren events --dump prints each event as a JSON line: the Python worker\'s batches and the warren worker\'s alike', async () => {
    const cli = join(__dirname, '..', '..', 'bin', 'warren.js');
    const dump = spawn(process.execPath, [cli, 'events', '--dump', '--broker', vhost.url], { env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    dump.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    try {
      const events = (): Array<Record<string, unknown>> => out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
      // It asks every worker for a heartbeat as it starts, as Celery's receiver does.
      await waitFor('both workers heard', () => [warrenNode, pythonNode].every((node) => events().some((e) => e.hostname === node && e.type === 'worker-heartbeat')), 15_000);
      const mine = await app.sendTask(names.add, [4, 4], {}, { queue: queues.warren });
      const theirs = await app.sendTask(names.mul, [4, 4], {}, { queue: queues.python });
      expect([await mine.get({ timeout: 20_000 }), await theirs.get({ timeout: 20_000 })]).toEqual([8, 16]);
      const succeeded = (): boolean => [mine.id, theirs.id].every((id) => events().some((e) => e.uuid === id && e.type === 'task-succeeded'));
      await waitFor('both tasks succeeded in the dump', succeeded, 20_000).catch((err: Error) => {
        // Which worker's events stopped, and what the dump saw meanwhile.
        const seen = (id: string): string => events().filter((e) => e.uuid === id).map((e) => String(e.type)).join(', ') || 'nothing';
        const lastOf = (node: string): string => String(events().filter((e) => e.hostname === node).at(-1)?.type ?? 'nothing');
        throw new Error(
          `${err.message}: warren's task ${seen(mine.id)}; Python's task ${seen(theirs.id)}; ` +
            `last events: ${warrenNode} ${lastOf(warrenNode)}, ${pythonNode} ${lastOf(pythonNode)}; ${events().length} events in all`,
        );
      });
      expect(events().filter((e) => e.uuid === theirs.id).map((e) => e.type)).toEqual(['task-received', 'task-started', 'task-succeeded']);
      expect(events().find((e) => e.uuid === theirs.id && e.type === 'task-succeeded')).toMatchObject({ hostname: pythonNode, result: '16' });
    } finally {
      dump.kill('SIGTERM');
    }
  }, 60_000);

  test('warren control revoke is honoured by a Python worker (a task it holds for its eta)', async () => {
    const result = await app.sendTask(names.mul, [6, 7], {}, { queue: queues.python, countdown: 3 });
    const revoke = await runCli(['control', 'revoke', result.id, '--broker', vhost.url, '-d', pythonNode, '-t', '2']);
    expect(revoke.stdout).toBe(`${pythonNode}: OK tasks ${result.id} flagged as revoked\n`);
    await expect(result.get({ timeout: 15_000 })).rejects.toThrow(TaskRevokedError);
    expect(pythonLogs).toContain(`Discarding revoked task: ${names.mul}[${result.id}]`);
  });

  test('malformed control messages and events are ignored with a logged reason; the worker still answers', async () => {
    const connection = createTransport({ urls: [vhost.url], logger: silent });
    await connection.start();
    try {
      await connection.withTemporaryChannel(async (ch) => {
        ch.publish('celery.pidbox', '', Buffer.from('{"method": 42}'), { contentType: 'application/json' });
        ch.publish('celery.pidbox', '', Buffer.from('\x80\x04pickle'), { contentType: 'application/x-python-serialize' });
        ch.publish('celeryev', 'worker.heartbeat', Buffer.from('not json'), { contentType: 'application/json' });
        await new Promise((resolve) => setTimeout(resolve, 200));
      });
    } finally {
      await connection.close();
    }
    await waitFor('two reasons logged', () => logs.lines().filter((l) => l.msg === 'malformed control message ignored').length >= 2);
    expect(logs.lines().filter((l) => l.msg === 'malformed control message ignored').map((l) => l.reason)).toEqual(
      expect.arrayContaining(['method must be a command name (found number 42)', 'content type string "application/x-python-serialize" is not application/json']),
    );
    expect(await celery('inspect', 'ping', '-d', warrenNode)).toContain('pong');
  });

  test('a warren worker process started after a revoke learns it by mingle; serves metrics; celery control shutdown stops it (exit 0)', async () => {
    await celery('control', 'revoke', 'mingled-1');
    const node = `warren2@${prefix}`;
    const proc = startTestWorker({
      prefix,
      definitions: defs.file,
      queues: [queues.cli],
      name: node,
      concurrency: 1,
      extraArgs: ['--metrics-port', '0'],
    });
    try {
      await proc.ready;
      // The other nodes (the warren worker and the Python one) answer its hello within a second, on a quiet machine.
      expect(proc.output).toMatch(/"msg":"mingle: (sync with [12] nodes?|all alone)"/);
      expect((await celeryJson<Record<string, string[]>>('inspect', 'revoked', '-d', node))[node]).toContain('mingled-1');
      const result = await app.sendTask(names.deal1, ['via cli'], {}, { queue: queues.cli });
      expect(await result.get({ timeout: 5000 })).toBe('via cli=======');
      const url = String(proc.logLines('serving Prometheus metrics')[0]?.url);
      const metrics = await (await fetch(url)).text();
      expect(metrics).toContain(`warren_tasks_total{task="${names.deal1}",outcome="succeeded"} 1`);
      expect(await celery('control', 'shutdown', '-d', node)).toContain(`->  ${node}: OK\n        shutting down`);
      expect(await proc.exited).toBe(0);
      expect(proc.logLines('shutdown asked by remote control')).toHaveLength(1);
    } finally {
      await proc.stop();
    }
  });

  test('warren queues shows depth, consumers; warren purge refuses without a terminal, asks on one', async () => {
    await app.sendTask(names.add, [1, 1], {}, { queue: queues.later, ignoreResult: true });
    await app.sendTask(names.add, [2, 2], {}, { queue: queues.later, ignoreResult: true });
    const listed = await runCli(['queues', '--definitions', defs.file]);
    expect(listed.code).toBe(0);
    const row = (queue: string): string[] => listed.stdout.split('\n').find((line) => line.startsWith(`${queue} `))!.trim().split(/ {2,}/);
    expect(row(queues.later)).toEqual([queues.later, '2', '0', '-']);
    expect(row(queues.warren)).toEqual([queues.warren, '0', '1', '-']);
    const refused = await runCli(['purge', '-Q', queues.later, '--definitions', defs.file]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toBe('warren: refusing to purge without --force: stdin is not a terminal to ask on, and deleted messages cannot be brought back (see warren purge --help)\n');
    // On a terminal (script gives the command one: what is written to script reaches it as typed), it asks and purges on "y".
    const cli = join(__dirname, '..', '..', 'bin', 'warren.js');
    const terminal = spawn('script', ['-qec', `${process.execPath} ${cli} purge -Q ${queues.later} --definitions ${defs.file}`, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let screen = '';
    terminal.stdout!.on('data', (chunk: Buffer) => (screen += chunk.toString()));
    terminal.stdin!.write('y\n');
    const code = await new Promise<number | null>((resolve) => terminal.once('exit', resolve));
    const asked = { code, stdout: screen };
    expect(asked.code).toBe(0);
    expect(asked.stdout).toContain(`Delete the messages waiting in 1 queue (2 in ${queues.later})? This cannot be undone. [y/N]`);
    expect(asked.stdout).toContain(`purged 2 messages from ${queues.later}`);
  });

  test('throughput with task events vs without (printed, not asserted)', async () => {
    const bench = createApp({ definitions: defs.file, logger: silent });
    const received: string[] = [];
    const transport = createTransport({ urls: [vhost.url], logger: silent });
    // A monitor bound to celeryev, so the events are routed and delivered, not dropped by the broker.
    const monitor = new EventReceiver({ transport, clock: new LamportClock(), logger: silent, onEvent: (e) => received.push(e.type) });
    await monitor.start();
    try {
      bench.task(names.add, async (a: number, b: number) => a + b);
      const benchWorker = await bench.startWorker({ queues: [queues.bench], concurrency: 8, prefetchMultiplier: 4, hostname: `bench@${prefix}`, mingle: false });
      const run = async (label: string, count: number): Promise<number> => {
        const before = benchWorker.stats.succeeded;
        const started = performance.now();
        await Promise.all(Array.from({ length: count }, (_, i) => app.sendTask(names.add, [i, i], {}, { queue: queues.bench, ignoreResult: true })));
        await waitFor(`${label}: ${count} tasks`, () => benchWorker.stats.succeeded - before >= count, 60_000, 5);
        return performance.now() - started;
      };
      const count = 2000;
      await run('warm-up', 300);
      const control = bench.control;
      const target = { destination: [`bench@${prefix}`], timeoutMs: 5000 };
      // Alternating rounds, so neither side has the warmer machine; the median of three each.
      const without: number[] = [];
      const withEvents: number[] = [];
      const eventsBefore = received.length;
      for (let round = 0; round < 3; round += 1) {
        await control.disableEvents(target);
        without.push(await run('without -E', count));
        await control.enableEvents(target);
        withEvents.push(await run('with -E', count));
      }
      const median = (list: number[]): number => [...list].sort((a, b) => a - b)[1];
      await waitFor('the task events', () => received.slice(eventsBefore).filter((t) => t.startsWith('task-')).length >= 3 * count * 3, 10_000).catch(() => undefined);
      const taskEvents = received.slice(eventsBefore).filter((t) => t.startsWith('task-')).length;
      const rate = (ms: number): number => Math.round((count / ms) * 1000);
      const [a, b] = [median(without), median(withEvents)];
      console.log(
        `throughput, ${count} tasks through one worker (-c 8, prefetch 32), sent and run in this process, median of 3 alternating rounds: ` +
          `without task events ${Math.round(a)} ms (${rate(a)}/s), with -E ${Math.round(b)} ms (${rate(b)}/s); -E costs ${Math.round((b / a - 1) * 100)}%; ` +
          `${taskEvents} task events received by a monitor bound to celeryev (3 per task expected: ${3 * count * 3})`,
      );
      expect(taskEvents).toBeGreaterThan(0);
    } finally {
      await bench.close();
      await monitor.close();
      await transport.close();
    }
  }, 120_000);
});
