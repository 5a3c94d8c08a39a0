import { existsSync } from 'node:fs';
import type { Argv } from 'yargs';
import { App } from '../app';
import { resolveDefinitions } from '../config';
import { createLogger, type Logger } from '../logging/logger';
import { appFromArgs, durationFlag, splitList, withCommonOptions, type CommonArgs } from './common-options';

/** Flags of the commands that talk to the fleet (`inspect`, `control`, `status`, `events`). */
export interface FleetArgs extends CommonArgs {
  app?: string;
  destination?: string[];
  timeout: string;
  json: boolean;
}

/** `-A`, `-d`, `-t`, `--json`, as `celery inspect` / `celery control` take them. */
export function withFleetOptions<T>(yargs: Argv<T>, options: { json?: boolean; timeout?: boolean } = {}): Argv<T & FleetArgs> {
  let y = withCommonOptions(yargs, 'warn')
    .option('app', { requiresArg: true, alias: 'A', type: 'string', describe: 'tasks module whose app gives the definitions and broker (optional)' })
    .option('destination', {
      requiresArg: true,
      alias: 'd',
      type: 'string',
      array: true,
      describe: 'node names to ask, comma-separated (default: every worker)',
    }) as unknown as Argv<T & FleetArgs>;
  if (options.timeout !== false) {
    y = y.option('timeout', { requiresArg: true, alias: 't', type: 'string', default: '1s', describe: 'how long to wait for replies (1s, 2.5, 500ms)' }) as unknown as Argv<T & FleetArgs>;
  }
  if (options.json !== false) {
    y = y.option('json', { alias: 'j', type: 'boolean', default: false, describe: 'print the replies as JSON, for scripts' }) as unknown as Argv<T & FleetArgs>;
  }
  return y;
}

/** The destinations of `-d a,b -d c`, or undefined for every node. */
export function destinationOf(args: Pick<FleetArgs, 'destination'>): string[] | undefined {
  const names = splitList(args.destination);
  return names.length > 0 ? names : undefined;
}

export function timeoutOf(args: Pick<FleetArgs, 'timeout'>): number {
  return durationFlag('timeout', args.timeout);
}

/**
 * The app a fleet command talks through. Remote control needs only a broker, so without
 * definitions (no `--definitions`, no `WARREN_DEFINITIONS`, no `-A`, no `./definitions`) it uses
 * the built-in ones: the broker of `--broker`, else `WARREN_BROKER_URL`, else localhost.
 */
export async function fleetApp(args: FleetArgs): Promise<{ app: App; logger: Logger }> {
  if (args.definitions || process.env.WARREN_DEFINITIONS || args.app || existsSync('./definitions')) return appFromArgs(args);
  const logger = createLogger({ level: args['log-level'], format: args['log-format'] });
  const definitions = resolveDefinitions([], { env: process.env, brokerUrl: args.broker });
  return { app: new App({ definitions, brokerUrl: args.broker, logger }), logger };
}

/**
 * Runs a fleet command: checks `-t` (a usage error before anything connects), makes the app,
 * hands it and the target (`-d`, `-t`) to `work`, and closes the app whatever happens.
 */
export async function withFleet(
  args: FleetArgs,
  work: (app: App, target: { destination: string[] | undefined; timeoutMs: number }) => Promise<void>,
): Promise<void> {
  const target = { destination: destinationOf(args), timeoutMs: timeoutOf(args) };
  const { app } = await fleetApp(args);
  try {
    await work(app, target);
  } finally {
    await app.close();
  }
}

/** `2 nodes`, `1 node`. */
export function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}
