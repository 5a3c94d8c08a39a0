import { availableParallelism, hostname as osHostname } from 'node:os';
import { UsageError } from '../errors';
import { maxMessageBytes } from '../protocol';
import { hostFormat } from '../util/node-names';

/**
 * How a worker runs: what `app.startWorker()` takes and what `warren worker`'s flags fill in.
 * Defined once: the library and the command line resolve it with {@link resolveWorkerOptions},
 * so both validate the same way and get the same defaults.
 */
export interface WorkerOptions {
  /**
   * Queue names to consume; each must be declared in the definitions.
   * @defaultValue the definitions' `defaultQueue`
   */
  queues?: readonly string[];
  /**
   * Queue names not to consume (Celery's `-X/--exclude-queues`): taken out of `queues`, or,
   * when `queues` is not given, out of every queue the definitions declare. Each must be declared.
   * @defaultValue none
   */
  excludeQueues?: readonly string[];
  /**
   * Celery's `--autoscale max,min`: run between `min` and `max` tasks at once (pool processes,
   * with the process pool), growing when deliveries wait and shrinking 30 s after the last
   * growth when fewer are in hand. The prefetch is `max` x the multiplier. Not with `concurrency`.
   * @defaultValue none: `concurrency` tasks at once
   */
  autoscale?: { readonly max: number; readonly min?: number; /** Time from the last growth to a shrink. @defaultValue 30000, as Celery's */ readonly keepaliveMs?: number };
  /**
   * Tasks run at once (Celery's `--concurrency`).
   * @defaultValue the number of CPUs (`os.availableParallelism()`), as Celery
   */
  concurrency?: number;
  /**
   * Unacknowledged deliveries the broker may hand this worker per concurrency slot: prefetch =
   * concurrency x multiplier. 1 suits long tasks; a higher value helps many short ones.
   * @defaultValue 1
   */
  prefetchMultiplier?: number;
  /**
   * Node name, used in logs, in results (`worker`) and in dead-letter headers. Celery's host
   * placeholders work: `worker1@%h` (the host name), `%n` (its first label), `%d` (its domain).
   * @defaultValue `warren@<host name>`
   */
  hostname?: string;
  /**
   * How long `stop()` (SIGTERM, `app.close()`) lets running tasks finish. After it, their
   * deliveries are handed back to the broker, which gives them to another worker, and whatever
   * the tasks still do is ignored: no result, no second ack.
   * @defaultValue 30000
   */
  shutdownTimeoutMs?: number;
  /**
   * Hard time limit in seconds for tasks that set none (see `TaskOptions.timeLimit`).
   * @defaultValue none
   */
  timeLimit?: number;
  /**
   * Soft time limit in seconds for tasks that set none (see `TaskOptions.softTimeLimit`).
   * @defaultValue none
   */
  softTimeLimit?: number;
  /**
   * The largest message body this worker accepts, in bytes; a larger task is dead-lettered
   * unparsed, and a larger result is a FAILURE (`MessageTooLargeError`) instead of a publish
   * the broker might refuse.
   * @defaultValue the app's `maxMessageBytes` (1 MiB)
   */
  maxMessageBytes?: number;
  /**
   * A task that keeps the event loop busy this long (milliseconds) is logged as a stall,
   * naming the task: while it blocks, no heartbeat, ack or result goes out, and past the
   * broker's heartbeat timeout the connection is lost and its deliveries run again.
   * @defaultValue 2000
   */
  stallWarningMs?: number;
  /**
   * Send task events (`task-received`, `task-started`, `task-succeeded`, ...) to the `celeryev`
   * exchange, as Celery's `-E` / `--task-events`; `enable_events` and `disable_events` switch
   * them at runtime. Worker events (`worker-online`, heartbeats) go out regardless.
   * @defaultValue false
   */
  taskEvents?: boolean;
  /**
   * Answer remote control (`celery inspect`, `celery control`, `warren inspect`, ...) on the
   * node queue `<hostname>.celery.pidbox`, as Celery's `worker_enable_remote_control`.
   * @defaultValue true
   */
  remoteControl?: boolean;
  /**
   * Send `worker-online`, a `worker-heartbeat` every 2 s and `worker-offline` (Celery's
   * `--without-heartbeat` is `false`): monitors see the worker by them.
   * @defaultValue true
   */
  heartbeat?: boolean;
  /**
   * Before consuming, ask the other workers for the task ids they know revoked (Celery's mingle;
   * `--without-mingle` is `false`). Costs up to a second when other nodes answer.
   * @defaultValue true
   */
  mingle?: boolean;
  /**
   * Delete the messages waiting in the worker's queues once they are declared, before it consumes
   * (Celery's `--purge`). The number deleted from each queue is logged.
   * @defaultValue false
   */
  purge?: boolean;
  /**
   * A file that keeps revoked task ids across restarts (Celery's `--statedb`), in warren's own
   * JSON format.
   * @defaultValue none
   */
  stateDb?: string;
  /**
   * Serve Prometheus metrics on this port (`GET /metrics`; needs the `prom-client` package).
   * 0 picks a free port; `worker.metricsUrl` says where they are.
   * @defaultValue none: no metrics server
   */
  metricsPort?: number;
  /**
   * The address the metrics server listens on.
   * @defaultValue '127.0.0.1'
   */
  metricsHost?: string;
  /**
   * Where task code runs (Celery's `--pool`): `async` runs it on the worker's own event loop
   * (the default: suits I/O-bound tasks); `process` runs it in `concurrency` child processes,
   * each loading `appModule` once, so CPU-bound tasks use every core and a hard time limit,
   * a `revoke` with `terminate`, or a leak really ends the task's process (see README "Pools").
   * @defaultValue 'async'
   */
  pool?: 'async' | 'process';
  /**
   * The tasks module the pool processes load (`-A`'s path, resolved from the working directory).
   * Required with `pool: 'process'`; `warren worker` fills it in.
   */
  appModule?: string;
  /**
   * `pool: 'process'` only: a child runs this many tasks, then is replaced (Celery's
   * `--max-tasks-per-child`). @defaultValue no limit
   */
  maxTasksPerChild?: number;
  /**
   * `pool: 'process'` only: a child whose resident memory is above this many bytes after a task
   * is replaced (Celery's `--max-memory-per-child`, which counts KiB). @defaultValue no limit
   */
  maxMemoryPerChild?: number;
}

/** {@link WorkerOptions} validated, with every default filled in. Frozen. */
export interface ResolvedWorkerOptions {
  /** Empty means the definitions' default queue. */
  readonly queues: readonly string[];
  readonly excludeQueues: readonly string[];
  /** The bounds of `autoscale`; `concurrency` is then `max`. */
  readonly autoscale: { readonly max: number; readonly min: number; readonly keepaliveMs: number } | undefined;
  readonly concurrency: number;
  readonly prefetchMultiplier: number;
  readonly hostname: string;
  readonly shutdownTimeoutMs: number;
  readonly timeLimit: number | undefined;
  readonly softTimeLimit: number | undefined;
  readonly maxMessageBytes: number;
  readonly stallWarningMs: number;
  readonly taskEvents: boolean;
  readonly remoteControl: boolean;
  readonly heartbeat: boolean;
  readonly mingle: boolean;
  readonly purge: boolean;
  readonly stateDb: string | undefined;
  readonly metricsPort: number | undefined;
  readonly metricsHost: string;
  readonly pool: 'async' | 'process';
  readonly appModule: string | undefined;
  readonly maxTasksPerChild: number | undefined;
  readonly maxMemoryPerChild: number | undefined;
}

export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 30_000;
export const DEFAULT_STALL_WARNING_MS = 2000;
/** Autoscale shrinks no sooner than this after its last growth (Celery's AUTOSCALE_KEEPALIVE). */
export const AUTOSCALE_KEEPALIVE_MS = 30_000;
/** How often autoscale looks at the load (Celery's autoscaler interval). */
export const AUTOSCALE_TICK_MS = 1000;

export interface ResolveWorkerOptionsContext {
  /** The app's `maxMessageBytes`, the default of the worker's. */
  maxMessageBytes?: number;
  /** How an option is named in an error: `concurrency` for the library, `--concurrency` for the CLI. */
  optionName?: (key: keyof WorkerOptions) => string;
}

const KEYS: ReadonlyArray<keyof WorkerOptions> = [
  'queues',
  'excludeQueues',
  'autoscale',
  'concurrency',
  'prefetchMultiplier',
  'hostname',
  'shutdownTimeoutMs',
  'timeLimit',
  'softTimeLimit',
  'maxMessageBytes',
  'stallWarningMs',
  'taskEvents',
  'remoteControl',
  'heartbeat',
  'mingle',
  'purge',
  'stateDb',
  'metricsPort',
  'metricsHost',
  'pool',
  'appModule',
  'maxTasksPerChild',
  'maxMemoryPerChild',
];

/**
 * Validates worker options and fills in the defaults, once, for `app.startWorker()` and
 * `warren worker` alike. Every problem is reported, not just the first.
 *
 * @throws UsageError naming each option that is wrong, what it was and what it should be.
 */
export function resolveWorkerOptions(options: WorkerOptions = {}, context: ResolveWorkerOptionsContext = {}): ResolvedWorkerOptions {
  const name = context.optionName ?? ((key: keyof WorkerOptions) => key);
  const problems: string[] = [];
  const given = options as Record<string, unknown>;
  for (const key of Object.keys(given)) {
    if (!(KEYS as readonly string[]).includes(key)) problems.push(`unknown worker option "${key}" (known: ${KEYS.join(', ')})`);
  }

  const wholeNumber = (key: 'concurrency' | 'prefetchMultiplier', fallback: number): number => {
    const value = options[key];
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
      problems.push(`${name(key)} must be a whole number of at least 1 (got ${show(value)})`);
      return fallback;
    }
    return value;
  };
  const milliseconds = (key: 'shutdownTimeoutMs' | 'stallWarningMs', fallback: number, allowZero: boolean): number => {
    const value = options[key];
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
      problems.push(`${name(key)} must be a number of milliseconds ${allowZero ? '>= 0' : 'above 0'} (got ${show(value)})`);
      return fallback;
    }
    return value;
  };
  const seconds = (key: 'timeLimit' | 'softTimeLimit'): number | undefined => {
    const value = options[key];
    if (value === undefined) return undefined;
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      problems.push(`${name(key)} must be a number of seconds above 0 (got ${show(value)})`);
      return undefined;
    }
    return value;
  };

  const flag = (key: 'taskEvents' | 'remoteControl' | 'heartbeat' | 'mingle' | 'purge', fallback: boolean): boolean => {
    const value = options[key];
    if (value === undefined) return fallback;
    if (typeof value !== 'boolean') {
      problems.push(`${name(key)} must be true or false (got ${show(value)})`);
      return fallback;
    }
    return value;
  };
  const text = (key: 'stateDb' | 'metricsHost' | 'appModule'): string | undefined => {
    const value = options[key];
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || value.trim() === '') {
      problems.push(`${name(key)} must be a non-empty string (got ${show(value)})`);
      return undefined;
    }
    return value;
  };
  let metricsPort: number | undefined;
  if (options.metricsPort !== undefined) {
    const port = options.metricsPort;
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) {
      problems.push(`${name('metricsPort')} must be a port number from 0 to 65535 (got ${show(port)})`);
    } else {
      metricsPort = port;
    }
  }

  let pool: 'async' | 'process' = 'async';
  if (options.pool !== undefined) {
    if (options.pool !== 'async' && options.pool !== 'process') problems.push(`${name('pool')} must be async or process (got ${show(options.pool)})`);
    else pool = options.pool;
  }
  const appModule = text('appModule');
  if (pool === 'process' && options.appModule === undefined) {
    problems.push(`${name('appModule')} must name the tasks module for the process pool to load (the -A path)`);
  }
  const perChild = (key: 'maxTasksPerChild' | 'maxMemoryPerChild', what: string): number | undefined => {
    const value = options[key];
    if (value === undefined) return undefined;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
      problems.push(`${name(key)} must be a whole number of ${what} of at least 1 (got ${show(value)})`);
      return undefined;
    }
    if (pool !== 'process') problems.push(`${name(key)} needs the process pool (${name('pool')} process)`);
    return value;
  };
  let autoscale: { max: number; min: number; keepaliveMs: number } | undefined;
  if (options.autoscale !== undefined) {
    const { max, min = 0, keepaliveMs = AUTOSCALE_KEEPALIVE_MS } = (options.autoscale ?? {}) as { max?: unknown; min?: unknown; keepaliveMs?: unknown };
    const whole = (value: unknown, least: number): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= least;
    if (!whole(max, 1) || !whole(min, 0) || min > max || !whole(keepaliveMs, 0)) {
      const got = typeof options.autoscale === 'object' && options.autoscale !== null ? `max ${show(max)}, min ${show(min)}, keepaliveMs ${show(keepaliveMs)}` : show(options.autoscale);
      problems.push(`${name('autoscale')} must be a max of at least 1, a min from 0 to max and a keepaliveMs of 0 or more, as in --autoscale 10,3 (got ${got})`);
    } else if (options.concurrency !== undefined) {
      problems.push(`give ${name('concurrency')} or ${name('autoscale')}, not both: with autoscale the worker runs from min to max tasks at once`);
    } else {
      autoscale = { max, min, keepaliveMs };
    }
  }
  const maxTasksPerChild = perChild('maxTasksPerChild', 'tasks');
  const maxMemoryPerChild = perChild('maxMemoryPerChild', 'bytes');

  const taskEvents = flag('taskEvents', false);
  const remoteControl = flag('remoteControl', true);
  const heartbeat = flag('heartbeat', true);
  const mingle = flag('mingle', true);
  const purge = flag('purge', false);
  const stateDb = text('stateDb');
  const metricsHost = text('metricsHost') ?? '127.0.0.1';

  const concurrency = wholeNumber('concurrency', availableParallelism());
  const prefetchMultiplier = wholeNumber('prefetchMultiplier', 1);
  const shutdownTimeoutMs = milliseconds('shutdownTimeoutMs', DEFAULT_SHUTDOWN_TIMEOUT_MS, true);
  const stallWarningMs = milliseconds('stallWarningMs', DEFAULT_STALL_WARNING_MS, false);
  const timeLimit = seconds('timeLimit');
  const softTimeLimit = seconds('softTimeLimit');

  const queueNames = (key: 'queues' | 'excludeQueues'): string[] => {
    const list: unknown = options[key];
    if (list === undefined) return [];
    if (!Array.isArray(list) || list.some((q) => typeof q !== 'string' || q.trim() === '')) {
      problems.push(`${name(key)} must be a list of queue names (got ${show(list)})`);
      return [];
    }
    return [...new Set(list as string[])];
  };
  const queues = queueNames('queues');
  const excludeQueues = queueNames('excludeQueues');

  let hostname = `warren@${osHostname()}`;
  if (options.hostname !== undefined) {
    if (typeof options.hostname !== 'string' || options.hostname.trim() === '') {
      problems.push(`${name('hostname')} must be a non-empty string (got ${show(options.hostname)})`);
    } else {
      // Celery's `-n worker1@%h`: %h, %n and %d are this host's.
      hostname = hostFormat(options.hostname);
    }
  }

  let messageLimit = 0;
  try {
    messageLimit = maxMessageBytes(options.maxMessageBytes, name('maxMessageBytes'));
    if (options.maxMessageBytes === undefined && context.maxMessageBytes !== undefined) messageLimit = context.maxMessageBytes;
  } catch (err) {
    problems.push((err as Error).message);
  }

  if (problems.length > 0) throw new UsageError(problems.join('; '));
  return Object.freeze({
    queues: Object.freeze(queues),
    excludeQueues: Object.freeze(excludeQueues),
    concurrency: autoscale?.max ?? concurrency,
    autoscale,
    prefetchMultiplier,
    hostname,
    shutdownTimeoutMs,
    timeLimit,
    softTimeLimit,
    maxMessageBytes: messageLimit,
    stallWarningMs,
    taskEvents,
    remoteControl,
    heartbeat,
    mingle,
    purge,
    stateDb,
    metricsPort,
    metricsHost,
    pool,
    appModule,
    maxTasksPerChild,
    maxMemoryPerChild,
  });
}

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(show).join(', ')}]`;
  return String(value);
}
