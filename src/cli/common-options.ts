import type { Argv } from 'yargs';
import { App } from '../app';
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
