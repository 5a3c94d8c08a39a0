import { availableParallelism } from 'node:os';
import type { Argv, CommandModule } from 'yargs';
import { parseByteSize } from '../config';
import { UsageError } from '../errors';
import { resolveWorkerOptions, type WorkerOptions } from '../worker';
import { ExitCode } from './exit-codes';
import { guardWorkerProcess } from './process-guards';
import { closeOnSignal } from './shutdown';
import { reportDetachedReady } from './detach';
import { appFromArgs, applyDaemonArgs, durationFlag, splitList, withCommonOptions, withDaemonOptions, withStoreOption, type CommonArgs, type DaemonArgs, type StoreArgs } from './common-options';

interface WorkerArgs extends CommonArgs, StoreArgs, DaemonArgs {
  app: string;
  queues?: string[];
  'exclude-queues'?: string[];
  concurrency?: number;
  autoscale?: string;
  'prefetch-multiplier'?: number;
  hostname?: string;
  'shutdown-timeout'?: string;
  'time-limit'?: string;
  'soft-time-limit'?: string;
  'max-message-size'?: string;
  'stall-warning'?: string;
  'task-events'?: boolean;
  'without-heartbeat'?: boolean;
  'without-mingle'?: boolean;
  'without-remote-control'?: boolean;
  'without-gossip'?: boolean;
  optimization?: string;
  purge?: boolean;
  statedb?: string;
  'metrics-port'?: number;
  'metrics-host'?: string;
  pool?: string;
  'max-tasks-per-child'?: number;
  'max-memory-per-child'?: string;
  beat?: boolean;
  'lock-suffix'?: string;
}

/** The flag of each worker option, for error messages. */
const FLAGS: Record<keyof WorkerOptions, string> = {
  queues: '--queues',
  excludeQueues: '--exclude-queues',
  autoscale: '--autoscale',
  concurrency: '--concurrency',
  prefetchMultiplier: '--prefetch-multiplier',
  hostname: '--hostname',
  shutdownTimeoutMs: '--shutdown-timeout',
  timeLimit: '--time-limit',
  softTimeLimit: '--soft-time-limit',
  maxMessageBytes: '--max-message-size',
  stallWarningMs: '--stall-warning',
  taskEvents: '--task-events',
  remoteControl: '--without-remote-control',
  heartbeat: '--without-heartbeat',
  mingle: '--without-mingle',
  purge: '--purge',
  stateDb: '--statedb',
  metricsPort: '--metrics-port',
  metricsHost: '--metrics-host',
  pool: '--pool',
  appModule: '--app',
  maxTasksPerChild: '--max-tasks-per-child',
  maxMemoryPerChild: '--max-memory-per-child',
};

/**
 * The worker options the flags ask for; defaults are left to `resolveWorkerOptions`, as for
 * `app.startWorker()`, which validates them the same way.
 * @throws UsageError naming the flag, before anything is loaded or connected.
 */
export function workerOptionsFromArgs(args: Omit<WorkerArgs, keyof CommonArgs | keyof StoreArgs | keyof DaemonArgs | 'app' | 'beat' | 'lock-suffix'> & { app?: string }): WorkerOptions {
  const seconds = (flag: 'time-limit' | 'soft-time-limit'): number | undefined => {
    const ms = durationFlag(flag, args[flag]);
    return ms === undefined ? undefined : ms / 1000;
  };
  let maxMessageBytes: number | undefined;
  try {
    maxMessageBytes = args['max-message-size'] === undefined ? undefined : parseByteSize(args['max-message-size']);
  } catch (err) {
    throw new UsageError(`--max-message-size: ${(err as Error).message}`);
  }
  let maxMemoryPerChild: number | undefined;
  try {
    const given = args['max-memory-per-child'];
    // A bare number is KiB, as for `celery worker --max-memory-per-child 12000`.
    maxMemoryPerChild = given === undefined ? undefined : /^\s*\d+\s*$/.test(String(given)) ? parseByteSize(`${given}KiB`) : parseByteSize(given);
  } catch {
    throw new UsageError(
      `--max-memory-per-child: ${JSON.stringify(args['max-memory-per-child'])} is not a size (expected a whole number of KiB, as Celery takes it, or a size like 512MiB or 2GB)`,
    );
  }
  const { pool, concurrency } = poolFromArgs(args.pool, args.concurrency);
  const autoscale = autoscaleFromArgs(args.autoscale, args.pool);
  const options: WorkerOptions = {
    queues: splitList(args.queues),
    excludeQueues: splitList(args['exclude-queues']),
    concurrency,
    autoscale,
    prefetchMultiplier: args['prefetch-multiplier'],
    hostname: args.hostname,
    shutdownTimeoutMs: durationFlag('shutdown-timeout', args['shutdown-timeout']),
    timeLimit: seconds('time-limit'),
    softTimeLimit: seconds('soft-time-limit'),
    maxMessageBytes,
    stallWarningMs: durationFlag('stall-warning', args['stall-warning']),
    taskEvents: args['task-events'] === true ? true : undefined,
    heartbeat: args['without-heartbeat'] === true ? false : undefined,
    mingle: args['without-mingle'] === true ? false : undefined,
    purge: args.purge === true ? true : undefined,
    remoteControl: args['without-remote-control'] === true ? false : undefined,
    stateDb: args.statedb,
    metricsPort: args['metrics-port'],
    metricsHost: args['metrics-host'],
    pool,
    // The process pool's children load the module -A names, as this process did.
    appModule: pool === 'process' ? args.app : undefined,
    maxTasksPerChild: args['max-tasks-per-child'],
    maxMemoryPerChild,
  };
  resolveWorkerOptions(options, { optionName: (key) => FLAGS[key] }); // throws UsageError
  return options;
}

/**
 * `--autoscale max,min` as the worker option takes it (min 0 when left out), with Celery's
 * `AUTOSCALE_KEEPALIVE` (seconds) for the time from a growth to a shrink.
 */
function autoscaleFromArgs(given: string | undefined, pool: string | undefined): WorkerOptions['autoscale'] {
  if (given === undefined) return undefined;
  if (pool === 'solo') throw new UsageError(`-P solo runs one task at a time: it takes no --autoscale`);
  const match = /^\s*(\d+)\s*(?:,\s*(\d+)\s*)?$/.exec(String(given));
  if (!match) throw new UsageError(`--autoscale takes max,min as Celery's does, e.g. --autoscale 10,3 (got ${JSON.stringify(given)})`);
  const keepalive = process.env.AUTOSCALE_KEEPALIVE;
  const keepaliveMs = keepalive === undefined || keepalive === '' ? undefined : Number(keepalive) * 1000;
  if (keepaliveMs !== undefined && !(Number.isFinite(keepaliveMs) && keepaliveMs >= 0)) {
    throw new UsageError(`environment variable AUTOSCALE_KEEPALIVE is ${JSON.stringify(keepalive)} (expected a number of seconds)`);
  }
  return { max: Number(match[1]), min: match[2] === undefined ? 0 : Number(match[2]), keepaliveMs: keepaliveMs === undefined ? undefined : Math.round(keepaliveMs) };
}

/**
 * `-P` and `-c` as the worker options take them. Celery's pool names work too: `prefork` is the
 * process pool; `threads`, `gevent` and `eventlet` (many tasks at once in one process) are the
 * async pool; `solo` is the async pool running one task at a time.
 */
function poolFromArgs(pool: string | undefined, concurrency: number | undefined): { pool: WorkerOptions['pool']; concurrency: number | undefined } {
  switch (pool) {
    case 'prefork':
      return { pool: 'process', concurrency };
    case 'threads':
    case 'gevent':
    case 'eventlet':
      return { pool: 'async', concurrency };
    case 'solo':
      if (concurrency !== undefined && concurrency !== 1) throw new UsageError(`-P solo runs one task at a time: it takes no -c ${concurrency}`);
      return { pool: 'async', concurrency: 1 };
    case undefined:
    case 'async':
    case 'process':
      return { pool, concurrency };
    default:
      throw new UsageError(`-P/--pool must be async or process, or one of Celery's prefork, threads, gevent, eventlet, solo (got ${JSON.stringify(pool)})`);
  }
}

export const workerCommand: CommandModule<object, WorkerArgs> = {
  command: 'worker',
  describe: 'consume queues and run their tasks',
  builder: (yargs: Argv) =>
    withDaemonOptions(withStoreOption(withCommonOptions(yargs)))
      .option('app', { requiresArg: true, alias: 'A', type: 'string', demandOption: true, describe: 'tasks module (ES module or CommonJS) whose default export, or export "app", is the app' })
      .option('queues', { requiresArg: true, alias: 'Q', type: 'string', array: true, describe: 'queues to consume, comma-separated (default: the default queue)' })
      .option('exclude-queues', {
        requiresArg: true,
        alias: 'X',
        type: 'string',
        array: true,
        describe: 'queues not to consume, comma-separated: taken out of -Q, or without -Q out of every queue of the definitions (Celery\'s -X)',
      })
      .option('concurrency', { requiresArg: true, alias: 'c', type: 'number', describe: `tasks run at once (default: the number of CPUs, ${availableParallelism()} here)` })
      .option('autoscale', {
        requiresArg: true,
        type: 'string',
        describe: "run from min to max tasks at once (pool processes with -P process), as Celery's: max,min, e.g. 10,3; grows while deliveries wait, shrinks 30 s after the last growth; not with -c",
      })
      .option('prefetch-multiplier', { requiresArg: true, type: 'number', describe: 'unacknowledged messages per concurrency slot (default: 1)' })
      .option('hostname', { requiresArg: true, alias: 'n', type: 'string', describe: 'node name (default warren@<host>)' })
      .option('shutdown-timeout', {
        requiresArg: true,
        type: 'string',
        describe: 'how long running tasks may finish after SIGTERM/SIGINT; then they are handed back to the broker and the process exits (default: 30s)',
      })
      .option('time-limit', { requiresArg: true, type: 'string', describe: 'hard time limit for tasks that set none, e.g. 5m: FAILURE, and the worker goes on' })
      .option('soft-time-limit', { requiresArg: true, type: 'string', describe: "soft time limit for tasks that set none, e.g. 4m: aborts the task's signal" })
      .option('max-message-size', {
        requiresArg: true,
        type: 'string',
        describe: 'largest message body accepted, e.g. 512KiB or 4MiB; larger ones are dead-lettered unparsed, larger results are a FAILURE (default 1MiB)',
      })
      .option('stall-warning', { requiresArg: true, type: 'string', describe: 'log a task that blocks the event loop this long (default: 2s)' })
      .option('task-events', { alias: 'E', type: 'boolean', describe: 'send task events (task-received, task-succeeded, ...) to the celeryev exchange, for celery events, Flower and warren events' })
      .option('without-heartbeat', { type: 'boolean', describe: 'send no worker-online / worker-heartbeat / worker-offline events' })
      .option('without-mingle', { type: 'boolean', describe: 'do not ask the other workers for their revoked task ids on start-up' })
      .option('without-remote-control', { type: 'boolean', describe: 'answer no remote control (inspect, control, status)' })
      .option('without-gossip', { type: 'boolean', describe: "accepted for Celery's command lines: a warren worker never gossips (it reads no other worker's events)" })
      .option('optimization', {
        requiresArg: true,
        alias: 'O',
        choices: ['fair', 'default'],
        describe: "accepted for Celery's -O fair: the process pool hands a task only to an idle pool process, always (so does Celery's default since 4.0)",
      })
      .option('purge', { alias: 'discard', type: 'boolean', describe: 'delete the messages waiting in the queues this worker consumes before it starts consuming (logged per queue)' })
      .option('statedb', { requiresArg: true, type: 'string', describe: 'file that keeps revoked task ids across restarts' })
      .option('metrics-port', { requiresArg: true, type: 'number', describe: 'serve Prometheus metrics on this port (GET /metrics; needs prom-client)' })
      .option('metrics-host', { requiresArg: true, type: 'string', describe: 'address of the metrics server (default: 127.0.0.1)' })
      .option('pool', {
        requiresArg: true,
        alias: 'P',
        type: 'string',
        describe:
          'where tasks run: async (this process\'s event loop; default) or process (-c child processes, each loading -A once: CPU-bound tasks on every core, time limits that kill). ' +
          "Celery's names work too: prefork (process), threads, gevent, eventlet (async), solo (async, one task at a time)",
      })
      .option('max-tasks-per-child', { requiresArg: true, type: 'number', describe: '--pool process: replace a child after this many tasks' })
      .option('max-memory-per-child', { requiresArg: true, type: 'string', describe: '--pool process: replace a child whose memory (RSS) is above this after a task, e.g. 512MiB; a bare number is KiB, as for Celery' })
      .option('beat', { alias: 'B', type: 'boolean', describe: 'also run beat in this process (the same leader lock as warren beat: of several -B workers and beats, one fires); --store and --lock-suffix as for warren beat' })
      .option('lock-suffix', { requiresArg: true, type: 'string', describe: 'with -B: separates beats of different deployments on one broker' })
      .example('$0 worker -A ./dist/examples/tasks.js -Q for_task1 -c 8', 'consume for_task1 only')
      .example('$0 worker -A ./dist/examples/tasks.js -Q for_task2 --pool process -c 2', 'CPU-bound tasks in two child processes')
      .example('$0 worker -A ./dist/examples/tasks.js -B', 'a worker that also runs beat') as unknown as Argv<WorkerArgs>,
  handler: async (args) => {
    const options = workerOptionsFromArgs(args);
    if (args['lock-suffix'] !== undefined && !args.beat) throw new UsageError('--lock-suffix is for the embedded beat: give -B too');
    if ((await applyDaemonArgs(args, resolveWorkerOptions(options).hostname, 'worker')) === 'detached') return;
    const { app, logger } = await appFromArgs(args);
    let worker;
    try {
      worker = await app.startWorker(options);
    } catch (err) {
      // Nothing may keep the process alive once it failed to start (a pool process that could not load the module).
      await app.close();
      throw err;
    }
    let exitCode: number = ExitCode.ok;
    const fatal = new Promise<string>((resolve) => {
      guardWorkerProcess(worker, logger, () => {
        exitCode = ExitCode.failure;
        resolve('fatal error');
      });
      worker.on('pool-failed', () => {
        exitCode = ExitCode.failure;
        resolve('the process pool failed');
      });
    });
    // Embedded beat (Celery's -B): the same leader lock as `warren beat`, on this process's connection.
    if (args.beat) {
      try {
        await app.startBeat({ lockSuffix: args['lock-suffix'] });
      } catch (err) {
        await app.close();
        throw err;
      }
    }
    reportDetachedReady();
    // `celery control shutdown` / `warren control shutdown` stop the worker: then the process ends too, with status 0.
    const remoteShutdown = new Promise<string>((resolve) => worker.on('closed', () => resolve('remote shutdown')));
    await closeOnSignal(app, logger, () => ({ active: worker.active }), Promise.race([fatal, remoteShutdown]));
    // At once: a task let go at the shutdown timeout may still hold timers or sockets, and the
    // process must not linger until it ends (its outcome is ignored anyway).
    process.exit(exitCode);
  },
};
