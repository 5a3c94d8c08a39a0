import type { Argv, CommandModule } from 'yargs';
import { NoReplyError } from '../errors';
import { withFleet, withFleetOptions, type FleetArgs } from './fleet-options';
import { formatInspect } from './fleet-format';

interface InspectArgs extends FleetArgs {
  ids?: string[];
  safe?: boolean;
}

/** No node answered: exit 1, as `celery inspect` fails then. */
export function noReply(timeoutMs: number, destination: readonly string[] | undefined): NoReplyError {
  return new NoReplyError(
    destination
      ? `no reply from ${destination.join(', ')} within ${timeoutMs} ms (check the node names: warren status lists the workers)`
      : `no worker replied within ${timeoutMs} ms (is a worker running on this broker and virtual host? a busy one may need a longer -t)`,
  );
}

/** The inspect actions: name, what it shows, and the command's own positional. */
const ACTIONS: ReadonlyArray<{ name: string; describe: string; positional?: string }> = [
  { name: 'ping', describe: 'which workers answer' },
  { name: 'stats', describe: "each worker's statistics: tasks run by name, pool, broker, prefetch, resource usage" },
  { name: 'active', describe: 'tasks running now' },
  { name: 'reserved', describe: 'tasks delivered to a worker and not started yet' },
  { name: 'scheduled', describe: 'tasks waiting for their eta' },
  { name: 'registered', describe: 'the task names each worker runs' },
  { name: 'active_queues', describe: 'the queues each worker consumes' },
  { name: 'query_task', describe: 'where the given task ids are: active or reserved, on which worker', positional: 'ids' },
  { name: 'revoked', describe: 'the task ids each worker knows revoked' },
  { name: 'clock', describe: "each worker's logical clock" },
  { name: 'report', describe: "each worker's software and platform" },
  { name: 'conf', describe: "each worker's settings, under Celery's names" },
];

function actionCommand(action: (typeof ACTIONS)[number]): CommandModule<object, InspectArgs> {
  return {
    command: action.positional ? `${action.name} <${action.positional}..>` : action.name,
    describe: action.describe,
    builder: (yargs: Argv) => {
      let y = withFleetOptions(yargs);
      if (action.positional) y = y.positional(action.positional, { type: 'string', array: true, describe: 'task ids' }) as typeof y;
      if (action.name === 'active') y = y.option('safe', { type: 'boolean', describe: 'args and kwargs as their repr' }) as typeof y;
      return y as unknown as Argv<InspectArgs>;
    },
    handler: (args) =>
      withFleet(args, async (app, target) => {
        const params: Record<string, unknown> =
          action.name === 'query_task' ? { ids: args.ids ?? [] } : action.name === 'registered' ? { taskinfoitems: [] } : action.name === 'active' && args.safe ? { safe: true } : {};
        const replies = await app.control.inspect(target).request(action.name, params);
        if (Object.keys(replies).length === 0) throw noReply(target.timeoutMs, target.destination);
        process.stdout.write(args.json ? `${JSON.stringify(replies)}\n` : formatInspect(action.name, replies));
      }),
  };
}

/** The actions of `warren inspect`. */
export const inspectActions = ACTIONS.map(actionCommand);

export const inspectCommand: CommandModule = {
  command: 'inspect <action>',
  describe: 'ask the workers (warren and Python Celery alike) what they run, hold and know',
  builder: (yargs: Argv) =>
    yargs
      .command(inspectActions as unknown as CommandModule[])
      .demandCommand(1)
      .example('$0 inspect ping', 'every worker that answers within a second')
      .example('$0 inspect active -d warren@host1 --json', "one worker's running tasks, as JSON"),
  handler: () => undefined,
};
