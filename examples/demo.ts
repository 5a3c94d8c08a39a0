/**
 * `npm run demo`: declares the example topology, starts one worker process for `for_task1` and
 * one for `for_task2`, sends ten of each task by name and prints which worker ran which, then
 * starts beat and shows its periodic fires reaching the worker of their queue.
 *
 * The topology is the example's, under a prefix of this run (`demo-1a2b3c.for_task1`, see
 * demo-names.ts), so a broker that already holds a `default` of its own is no obstacle.
 *
 * When no RabbitMQ answers at the definitions' broker, the same demo runs on `memory://`, an
 * in-process broker, and says so on its first line; its workers then run in this process (a
 * memory broker lives in one process, so worker processes could not reach it). A broker that
 * answers but refuses (authentication, virtual host, TLS) is reported, not replaced.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createApp, createLogger, BrokerUnavailableError, type App, type Fire } from '../src';
import { reportError } from '../src/cli/exit-codes';
import { prefixDefinitions } from './demo-names';
import { app as tasksApp } from './tasks';

const root = join(__dirname, '..', '..');
const cli = join(root, 'bin', 'warren.js');
const tasksModule = join(__dirname, 'tasks.js');
const names = prefixDefinitions(process.env.WARREN_DEFINITIONS ?? join(root, 'definitions'), mkdtempSync(join(tmpdir(), 'warren-demo-')));
const definitions = names.definitions;
process.on('exit', () => rmSync(dirname(definitions), { recursive: true, force: true }));

interface RunningWorker {
  name: string;
  queue: string;
  ready: Promise<void>;
  /** Ids of the tasks this worker finished. */
  finished: Set<string>;
  /** Stops it; resolves to its exit code (null for a worker in this process). */
  stop: () => Promise<number | null>;
}

function startWorker(name: string, queue: string): RunningWorker {
  const child = spawn(process.execPath, [cli, 'worker', '-A', tasksModule, '-Q', queue, '-n', name, '-c', '2', '-l', 'debug', '--log-format', 'json', '--definitions', definitions], {
    stdio: ['ignore', 'inherit', 'pipe'],
  });
  const finished = new Set<string>();
  const ready = new Promise<void>((resolve, reject) => {
    let buffered = '';
    let partial = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        const entry = line.startsWith('{') ? (JSON.parse(line) as { msg?: string; taskId?: string }) : {};
        if (entry.msg === 'task succeeded' && entry.taskId) finished.add(entry.taskId);
      }
      if (buffered.includes('"worker ready"')) resolve();
      if (process.env.DEMO_VERBOSE) process.stderr.write(chunk);
    });
    child.once('exit', (code) => reject(new Error(`worker ${name} exited with code ${code} before it was ready:\n${buffered}`)));
  });
  return { name, queue, ready, finished, stop: () => stopProcess(child) };
}

function stopProcess(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    child.once('exit', (code) => resolve(code));
    child.kill('SIGTERM');
  });
}

/** A worker in this process, on the app's own (memory) connection. */
function startWorkerInProcess(app: App, name: string, queue: string): RunningWorker {
  const finished = new Set<string>();
  const started = app.startWorker({ queues: [queue], hostname: name, concurrency: 2 }).then((worker) => {
    worker.on('task-succeeded', ({ taskId }) => finished.add(taskId));
    return worker;
  });
  return {
    name,
    queue,
    ready: started.then(() => undefined),
    finished,
    stop: async () => {
      await (await started.catch(() => undefined))?.stop();
      return null;
    },
  };
}

/** No broker answered at all (refused, unreachable, timed out); not one that answered and refused (authentication, vhost, TLS). */
function nobodyAnswered(err: unknown): boolean {
  return err instanceof BrokerUnavailableError && err.code === 'WARREN_BROKER_UNAVAILABLE';
}

async function main(): Promise<number> {
  const stateDir = mkdtempSync(join(tmpdir(), 'warren-demo-'));
  const options = { definitions, logger: createLogger({ level: 'warn' }), connectTimeoutMs: 5000, scheduleStore: join(stateDir, 'beat-state.json') };
  let app = createApp(options);
  // A memory broker lives in this process: worker processes could not reach it.
  let inProcess = (await app.definitions()).broker.urls.some((url) => url.startsWith('memory:'));
  if (inProcess) {
    console.log('running the demo on memory://, an in-process broker, so its workers run in this process');
    app = tasksApp.configure(options);
  }
  const workers: RunningWorker[] = [];
  try {
    let report;
    try {
      report = await app.declareTopology();
    } catch (err) {
      if (!nobodyAnswered(err) || inProcess) throw err;
      await app.close();
      console.log(
        `${(err as Error).message}: running the demo on memory:// instead, an in-process broker, so its workers run in this process ` +
          '(start RabbitMQ to see them as processes of their own)',
      );
      // The example tasks' own app, on the memory broker: its workers need its handlers.
      app = tasksApp.configure({ ...options, brokerUrl: 'memory://' });
      inProcess = true;
      report = await app.declareTopology();
    }
    console.log(
      `declared ${report.exchanges.length} exchanges, ${report.queues.length} queues, ${report.bindings.length} bindings, ` +
        `named ${names.prefix}<name> for this run (the broker deletes them a minute after the demo)`,
    );

    const start = inProcess ? (name: string, queue: string) => startWorkerInProcess(app, name, queue) : startWorker;
    workers.push(start('worker1@demo', names.queue('for_task1')), start('worker2@demo', names.queue('for_task2')));
    await Promise.all(workers.map((w) => w.ready));
    console.log('started worker1@demo consuming for_task1 and worker2@demo consuming for_task2\n');

    const expectedWorker: Record<string, string> = { 'app1.tasks1.deal1': 'worker1@demo', 'app1.tasks2.deal2': 'worker2@demo' };
    const sends = [];
    for (let i = 0; i < 10; i += 1) {
      for (const task of Object.keys(expectedWorker)) {
        sends.push(app.sendTask<string>(task, [`text${i}`]).then((result) => ({ task, result })));
      }
    }
    const results = await Promise.all(sends);
    let wrong = 0;
    for (const { task, result } of results) {
      const value = await result.get({ timeout: 10_000 });
      if (result.worker !== expectedWorker[task]) wrong += 1;
      console.log(`${task.padEnd(18)} -> ${JSON.stringify(value).padEnd(20)} ran on ${result.worker} (queue ${result.queue})`);
    }
    console.log(`\n${results.length} tasks, ${results.length - wrong} ran on the worker of their own queue\n`);

    // Beat: fires the schedule of definitions/ (deal-every-2-seconds) while it holds the lock.
    const beat = await app.startBeat({ lockSuffix: `demo.${process.pid}` });
    const fired: Fire[] = [];
    beat.on('fired', ({ fire }) => fired.push(fire));
    console.log('started beat; waiting for three fires of deal-every-2-seconds ...');
    while (fired.length < 3) await new Promise((resolve) => setTimeout(resolve, 100));
    await new Promise((resolve) => setTimeout(resolve, 500));
    let beatWrong = 0;
    for (const fire of fired.slice(0, 3)) {
      const ranOn = workers.find((w) => w.finished.has(fire.taskId))?.name ?? 'nobody yet';
      if (ranOn !== 'worker1@demo') beatWrong += 1;
      console.log(`beat ${fire.entry.name} planned ${fire.planned.toISOString()} -> ${fire.entry.task} ran on ${ranOn}`);
    }
    return wrong === 0 && beatWrong === 0 ? 0 : 1;
  } catch (err) {
    // A broker that answered and refused (authentication, vhost, TLS) is reported as the warren command reports it.
    if (err instanceof BrokerUnavailableError && nobodyAnswered(err)) {
      console.error(`${err.message}\n\nThe demo needs RabbitMQ at the broker URL of definitions/ (or WARREN_BROKER_URL). Start one with:\n` +
        '  rabbitmq-server -detached                               # Debian package rabbitmq-server\n' +
        '  docker compose -f rabbitmq/docker-compose.yml up -d     # or with Docker');
      return 1;
    }
    throw err;
  } finally {
    const codes = await Promise.all(workers.map((worker) => worker.stop()));
    if (workers.length > 0) console.log(inProcess ? 'workers stopped' : `workers stopped (exit codes ${codes.join(', ')})`);
    await app.close();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    // As the warren command prints it: a 406 (TopologyMismatchError) with how to fix it.
    process.exitCode = reportError(err, (text) => process.stderr.write(text));
  },
);
