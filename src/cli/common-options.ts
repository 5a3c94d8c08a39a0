import type { Argv } from 'yargs';
import { App } from '../app';
import { parseDuration } from '../config';
import { UsageError } from '../errors';
import { createLogger, defaultLogLevel, LOG_FORMATS, LOG_LEVELS, logFileOutput, normalizeLogLevel, type LogFormat, type Logger, type LogLevel } from '../logging/logger';
import { loadApp } from '../app/load-app';
import { nodeFormat } from '../util/node-names';
import { takePidfile } from './pidfile';
import { detach, isDetachedChild } from './detach';

export interface CommonArgs {
  definitions?: string;
  broker?: string;
  'result-backend'?: string;
  'log-level'?: LogLevel;
  'log-format'?: LogFormat;
}

/** Flags every command takes; `defaultLevel` is the command's log level when neither `-l` nor `WARREN_LOG_LEVEL` says. */
export function withCommonOptions<T>(yargs: Argv<T>, defaultLevel: LogLevel = 'info'): Argv<T & CommonArgs> {
  return yargs
    .option('definitions', {
      requiresArg: true,
      type: 'string',
      describe:
        'definitions file or folder (YAML or JSON). The first of these wins: this flag, env WARREN_DEFINITIONS, ' +
        "the app's own (createApp({ definitions }) in the -A module), ./definitions",
    })
    .option('broker', {
      requiresArg: true,
      type: 'string',
      describe: 'broker URL, overriding the definitions and WARREN_BROKER_URL',
    })
    .option('result-backend', {
      requiresArg: true,
      type: 'string',
      describe:
        'result backend: rpc:// (the default), redis://[:password@]host:port/db, rediss://... or redis+cluster://host1:port,host2:port; ' +
        "overrides env WARREN_RESULT_BACKEND and the definitions' resultBackend",
    })
    .option('log-level', {
      requiresArg: true,
      alias: ['l', 'loglevel'],
      choices: LOG_LEVELS,
      coerce: (value: unknown) => (typeof value === 'string' ? normalizeLogLevel(value) : value),
      describe: "log level, in any case; Celery's WARNING and CRITICAL too; env WARREN_LOG_LEVEL",
      defaultDescription: defaultLevel,
    })
    .option('log-format', {
      requiresArg: true,
      choices: LOG_FORMATS,
      describe: 'logs on stderr as readable lines or as JSON lines; env WARREN_LOG_FORMAT',
      defaultDescription: 'pretty on a terminal, else json',
    })
    .middleware((args) => {
      // The command's own default level, unless the flag or the environment gave one.
      (args as CommonArgs)['log-level'] ??= defaultLogLevel(defaultLevel);
    }) as Argv<T & CommonArgs>;
}

/**
 * The app of `-A` (loaded with `import()`), or an app with no tasks, configured from the common
 * flags. Definitions: `--definitions`, else `WARREN_DEFINITIONS`, else the app's own, else
 * `./definitions` (the last two are the app's doing).
 */
export async function appFromArgs(args: CommonArgs & { app?: string; store?: string }): Promise<{ app: App; logger: Logger }> {
  const logger = createLogger({ level: args['log-level'], format: args['log-format'] });
  const app = args.app ? await loadApp(args.app) : new App();
  const definitions = args.definitions ?? (process.env.WARREN_DEFINITIONS || undefined);
  app.configure({ definitions, brokerUrl: args.broker, resultBackend: args['result-backend'], logger, scheduleStore: args.store });
  return { app, logger };
}

/** `-Q a,b -Q c` to `['a', 'b', 'c']`. */
export function splitList(values: readonly string[] | string | undefined): string[] {
  const list = values === undefined ? [] : Array.isArray(values) ? values : [values];
  return list.flatMap((v) => String(v).split(',')).map((v) => v.trim()).filter((v) => v.length > 0);
}

export interface StoreArgs {
  store?: string;
}

/** `--store`: where beat keeps runtime entries and state. */
export function withStoreOption<T>(yargs: Argv<T>): Argv<T & StoreArgs> {
  return yargs.option('store', {
    requiresArg: true,
    alias: ['s', 'schedule'],
    type: 'string',
    describe: "schedule store: a file path or postgres://...; env WARREN_SCHEDULE_STORE (-s/--schedule as for Celery's beat, in warren's own format)",
    default: process.env.WARREN_SCHEDULE_STORE,
    defaultDescription: '.warren/beat-state.json',
  }) as Argv<T & StoreArgs>;
}

/** A command-line argument as JSON where it parses (`3`, `true`, `[1,2]`), else as a string. */
export function parseArgument(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** A duration flag (`250ms`, `10s`, `1.5m`, `2h`, or seconds) in milliseconds; undefined stays undefined. */
export function durationFlag(flag: string, text: string): number;
export function durationFlag(flag: string, text: string | undefined): number | undefined;
export function durationFlag(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  try {
    return parseDuration(text);
  } catch (err) {
    throw new UsageError(`--${flag}: ${(err as Error).message}`);
  }
}

/** Routing flags shared by `send` and `schedule add`. */
export interface RoutingArgs {
  queue?: string;
  exchange?: string;
  'routing-key'?: string;
  priority?: number;
}

export function withRoutingOptions<T>(yargs: Argv<T>): Argv<T & RoutingArgs> {
  return yargs
    .option('queue', { requiresArg: true, type: 'string', describe: 'send to this declared queue instead of the routed one' })
    .option('exchange', { requiresArg: true, type: 'string', describe: 'publish to this exchange instead of the routed one' })
    .option('routing-key', { requiresArg: true, type: 'string', describe: 'publish with this routing key' })
    .option('priority', { requiresArg: true, type: 'number', describe: 'message priority 0-255' }) as Argv<T & RoutingArgs>;
}

/** Checks `--priority` and returns the routing options of `sendTask`. */
export function routingFromArgs(args: RoutingArgs): { queue?: string; exchange?: string; routingKey?: string; priority?: number } {
  if (args.priority !== undefined && (!Number.isInteger(args.priority) || args.priority < 0 || args.priority > 255)) {
    throw new UsageError(`--priority must be a whole number from 0 to 255 (got ${args.priority})`);
  }
  return { queue: args.queue, exchange: args.exchange, routingKey: args['routing-key'], priority: args.priority };
}

/** `--logfile` and `--pidfile`, for the long-running commands (worker, beat). */
export interface DaemonArgs {
  logfile?: string;
  pidfile?: string;
  detach?: boolean;
}

export function withDaemonOptions<T>(yargs: Argv<T>): Argv<T & DaemonArgs> {
  return yargs
    .option('logfile', {
      requiresArg: true,
      alias: 'f',
      type: 'string',
      describe:
        "append the logs to this file instead of stderr (readable lines unless --log-format json); Celery's %n, %h, %d, %p, %i and %I work, " +
        'and the pool processes write to the same file; env WARREN_LOG_FILE',
    })
    .option('pidfile', {
      requiresArg: true,
      type: 'string',
      describe: "write this process's pid to this file, removed on exit; refuses to start while the pid in it runs; %n, %h, %d, %p work",
    })
    .option('detach', {
      alias: 'D',
      type: 'boolean',
      describe: 'run in the background (needs --logfile; --pidfile advised): returns once it runs, printing its pid, or with its error',
    }) as Argv<T & DaemonArgs>;
}

/**
 * `--detach`: starts the command again in the background and returns `detached` once it runs
 * (the caller stops there; CommandExit when it failed to start). Else the files of `--logfile` and `--pidfile`,
 * their placeholders filled in for `nodename`: the log file is opened (and named in
 * `WARREN_LOG_FILE`, so that the loggers made from now on, and the pool processes', write there),
 * then the pid file taken; `here` says to go on.
 * @throws UsageError when the log file cannot be opened or the pid file names a running process:
 *   nothing was started.
 */
export async function applyDaemonArgs(args: DaemonArgs, nodename: string, what: 'worker' | 'beat'): Promise<'detached' | 'here'> {
  if (args.detach && !isDetachedChild()) {
    if (args.logfile === undefined) throw new UsageError(`--detach needs --logfile: a ${what} in the background has no terminal to write its logs to`);
    await detach(what, nodeFormat(args.logfile, nodename));
    return 'detached';
  }
  if (args.logfile !== undefined) {
    const file = nodeFormat(args.logfile, nodename);
    logFileOutput(file); // opened now (or UsageError), before anything starts; the loggers share it
    process.env.WARREN_LOG_FILE = file;
  }
  if (args.pidfile !== undefined) takePidfile(nodeFormat(args.pidfile, nodename));
  return 'here';
}
