import type { Argv, CommandModule } from 'yargs';
import { Dashboard, DashboardServer, isLoopback, parseCredentials, readCredentialsFile, type Credentials } from '../dashboard';
import { UsageError } from '../errors';
import { durationFlag, withStoreOption, type StoreArgs } from './common-options';
import { untilSignal } from './events-command';
import { fleetApp, withFleetOptions, type FleetArgs } from './fleet-options';

interface DashboardArgs extends FleetArgs, StoreArgs {
  port: number;
  host: string;
  auth?: string;
  'auth-file'?: string;
  'max-tasks': number;
  refresh: string;
}

/** The credentials of `--auth` or `--auth-file`; a non-loopback `--host` without them is a usage error. */
export function dashboardCredentials(args: Pick<DashboardArgs, 'host' | 'auth' | 'auth-file'>): Credentials | undefined {
  if (args.auth !== undefined && args['auth-file'] !== undefined) throw new UsageError('give --auth or --auth-file, not both');
  // The environment stands in for --auth only when neither flag is given.
  const fromEnv = args.auth === undefined && args['auth-file'] === undefined ? process.env.WARREN_DASHBOARD_AUTH || undefined : undefined;
  const credentials =
    args.auth !== undefined
      ? parseCredentials(args.auth, '--auth')
      : args['auth-file'] !== undefined
        ? readCredentialsFile(args['auth-file'])
        : fromEnv !== undefined
          ? parseCredentials(fromEnv, 'WARREN_DASHBOARD_AUTH')
          : undefined;
  if (!credentials && !isLoopback(args.host)) {
    throw new UsageError(`--host ${args.host} is reachable from other machines: give --auth user:password or --auth-file (only a loopback host may go without)`);
  }
  return credentials;
}

export const dashboardCommand: CommandModule<object, DashboardArgs> = {
  command: 'dashboard',
  describe: 'a live web page of the fleet: workers, queues, tasks, the schedule and dead letters, with their controls',
  builder: (yargs: Argv) =>
    withStoreOption(withFleetOptions(yargs, { json: false, timeout: false }))
      .option('port', { requiresArg: true, type: 'number', default: 5555, describe: 'TCP port (0: any free one)' })
      .option('host', { requiresArg: true, type: 'string', default: '127.0.0.1', describe: 'address to listen on; any but a loopback one needs --auth' })
      .option('auth', { requiresArg: true, type: 'string', describe: 'user:password the page asks for (HTTP Basic); env WARREN_DASHBOARD_AUTH' })
      .option('auth-file', { requiresArg: true, type: 'string', describe: 'a file whose first line is user:password (keeps it out of the process list)' })
      .option('max-tasks', { requiresArg: true, type: 'number', default: 10_000, describe: 'tasks kept in memory; the oldest are forgotten first' })
      .option('refresh', { requiresArg: true, type: 'string', default: '2s', describe: 'how often queue depths and the schedule are asked' })
      .example('$0 dashboard', 'http://127.0.0.1:5555/')
      .example('$0 dashboard --host 0.0.0.0 --auth-file /etc/warren/dashboard.auth', 'reachable from other machines, behind a password') as unknown as Argv<DashboardArgs>,
  handler: async (args) => {
    const credentials = dashboardCredentials(args);
    const pollMs = durationFlag('refresh', args.refresh);
    if (!Number.isInteger(args['max-tasks']) || args['max-tasks'] < 1) throw new UsageError(`--max-tasks must be a whole number of at least 1 (got ${args['max-tasks']})`);
    if (!Number.isInteger(args.port) || args.port < 0 || args.port > 65535) throw new UsageError(`--port must be a port number 0-65535 (got ${args.port})`);
    const { app, logger } = await fleetApp(args);
    const dashboard = new Dashboard({ app, logger, maxTasks: args['max-tasks'], pollMs });
    const server = new DashboardServer({ backend: dashboard, logger, host: args.host, port: args.port, credentials });
    try {
      await dashboard.start();
      const url = await server.start();
      logger.info({ url, auth: credentials !== undefined }, 'dashboard listening');
      await untilSignal();
    } finally {
      await server.close();
      await dashboard.stop();
      await app.close();
    }
  },
};
