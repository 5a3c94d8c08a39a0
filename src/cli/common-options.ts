import type { Argv } from 'yargs';
import { App } from '../app';
import { parseDuration } from '../config';
import { UsageError } from '../errors';
import { createLogger, type Logger, type LogLevel } from '../logging/logger';
import { loadApp } from './load-app';

export const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export interface CommonArgs {
  definitions: string;
  broker?: string;
  'log-level': LogLevel;
}

/** Flags every command takes. */
export function withCommonOptions<T>(yargs: Argv<T>, defaultLevel: LogLevel = 'info'): Argv<T & CommonArgs> {
  return yargs
    .option('definitions', {
      type: 'string',
      describe: 'definitions file or folder (YAML or JSON); env WARREN_DEFINITIONS',
      default: process.env.WARREN_DEFINITIONS ?? './definitions',
      defaultDescription: './definitions',
    })
    .option('broker', {
      type: 'string',
      describe: 'broker URL, overriding the definitions and WARREN_BROKER_URL',
    })
    .option('log-level', {
      alias: 'l',
      choices: LOG_LEVELS,
      describe: 'log level (logs are JSON lines on stderr)',
      default: defaultLevel,
    }) as Argv<T & CommonArgs>;
}

/** The app of `-A`, or an app with no tasks, configured from the common flags. */
export function appFromArgs(args: CommonArgs & { app?: string; store?: string }): { app: App; logger: Logger } {
  const logger = createLogger({ level: args['log-level'] });
  const app = args.app ? loadApp(args.app) : new App();
  app.configure({ definitions: args.definitions, brokerUrl: args.broker, logger, scheduleStore: args.store });
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
    type: 'string',
    describe: 'schedule store: a file path or postgres://...; env WARREN_SCHEDULE_STORE',
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
    .option('queue', { type: 'string', describe: 'send to this declared queue instead of the routed one' })
    .option('exchange', { type: 'string', describe: 'publish to this exchange instead of the routed one' })
    .option('routing-key', { type: 'string', describe: 'publish with this routing key' })
    .option('priority', { type: 'number', describe: 'message priority 0-255' }) as Argv<T & RoutingArgs>;
}

/** Checks `--priority` and returns the routing options of `sendTask`. */
export function routingFromArgs(args: RoutingArgs): { queue?: string; exchange?: string; routingKey?: string; priority?: number } {
  if (args.priority !== undefined && (!Number.isInteger(args.priority) || args.priority < 0 || args.priority > 255)) {
    throw new UsageError(`--priority must be a whole number from 0 to 255 (got ${args.priority})`);
  }
  return { queue: args.queue, exchange: args.exchange, routingKey: args['routing-key'], priority: args.priority };
}
