import type { Argv, CommandModule } from 'yargs';
import { withFleet, withFleetOptions, type FleetArgs } from './fleet-options';
import { formatStatus, nodeStatus } from './fleet-format';
import { noReply } from './inspect-command';

export const statusCommand: CommandModule<object, FleetArgs> = {
  command: 'status',
  describe: 'one line per live worker (warren and Python Celery alike): software, uptime, active and processed tasks, queues, broker',
  builder: (yargs: Argv) => withFleetOptions(yargs) as unknown as Argv<FleetArgs>,
  handler: (args) =>
    withFleet(args, async (app, target) => {
      const inspect = app.control.inspect(target);
      const [pings, stats, queues] = await Promise.all([inspect.ping(), inspect.stats(), inspect.activeQueues()]);
      const nodes = Object.keys(pings);
      if (nodes.length === 0) throw noReply(target.timeoutMs, target.destination);
      const statuses = nodes.map((node) => nodeStatus(node, stats[node], queues[node]));
      process.stdout.write(args.json ? `${JSON.stringify(statuses)}\n` : formatStatus(statuses));
    }),
};
