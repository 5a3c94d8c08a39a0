import type { Argv, CommandModule } from 'yargs';
import { byNode } from '../control';
import { withFleet, withFleetOptions, type FleetArgs } from './fleet-options';
import { formatControl } from './fleet-format';
import { noReply } from './inspect-command';

interface ControlArgs extends FleetArgs {
  ids?: string[];
  terminate?: boolean;
  signal?: string;
  queue?: string;
  exchange?: string;
  'exchange-type'?: string;
  'routing-key'?: string;
  task?: string;
  rate?: string;
  max?: number;
  min?: number;
  soft?: number;
  hard?: number;
}

interface ControlAction {
  name: string;
  command: string;
  describe: string;
  /** The command's arguments on the wire, from the flags. */
  arguments(args: ControlArgs): Record<string, unknown>;
  /** Whether to wait for replies. @defaultValue true */
  reply?: boolean;
}

const ACTIONS: readonly ControlAction[] = [
  {
    name: 'revoke',
    command: 'revoke <ids..>',
    describe:
      'revoke tasks by id on every worker: one that gets a revoked task later discards it (REVOKED); --terminate also ends a running one ' +
      '(a Python worker, and a warren worker with --pool process, signals the process running it; with --pool async, the task\'s signal is aborted) and records it REVOKED',
    arguments: (args) => ({ task_id: args.ids ?? [], terminate: args.terminate ?? false, signal: args.signal ?? 'SIGTERM' }),
  },
  { name: 'shutdown', command: 'shutdown', describe: 'stop workers: running tasks finish (warm shutdown)', arguments: () => ({}) },
  {
    name: 'add_consumer',
    command: 'add_consumer <queue>',
    describe: 'make workers consume one more queue (a warren worker: a queue of its definitions)',
    arguments: (args) => ({ queue: args.queue, exchange: args.exchange ?? null, exchange_type: args['exchange-type'] ?? 'direct', routing_key: args['routing-key'] ?? null }),
  },
  {
    name: 'rate_limit',
    command: 'rate_limit <task> <rate>',
    describe: "set a task's rate limit on the workers: 10/s, 100/m, 1000/h, or a number per second; 0 lifts it (a warren worker starts the task at most that often; tasks that come sooner wait in it)",
    arguments: (args) => ({ task_name: args.task, rate_limit: args.rate }),
  },
  {
    name: 'time_limit',
    command: 'time_limit <task> <soft> [hard]',
    describe: "set a task's time limits on the workers, in seconds: soft aborts its signal (Python: SoftTimeLimitExceeded), hard ends it",
    arguments: (args) => ({ task_name: args.task, soft: args.soft, hard: args.hard ?? null }),
  },
  {
    name: 'autoscale',
    command: 'autoscale <max> [min]',
    describe: 'new bounds for workers started with --autoscale: from min to max tasks at once (a warren worker: max at most the one it started with)',
    arguments: (args) => ({ max: args.max, min: args.min ?? null }),
  },
  { name: 'cancel_consumer', command: 'cancel_consumer <queue>', describe: 'make workers stop consuming a queue', arguments: (args) => ({ queue: args.queue }) },
  { name: 'enable_events', command: 'enable_events', describe: 'make workers send task events', arguments: () => ({}) },
  { name: 'disable_events', command: 'disable_events', describe: 'make workers stop sending task events', arguments: () => ({}) },
  { name: 'heartbeat', command: 'heartbeat', describe: 'make workers send a heartbeat event now (no reply)', arguments: () => ({}), reply: false },
];

function actionCommand(action: ControlAction): CommandModule<object, ControlArgs> {
  return {
    command: action.command,
    describe: action.describe,
    builder: (yargs: Argv) => {
      let y = withFleetOptions(yargs) as unknown as Argv<ControlArgs>;
      if (action.name === 'revoke') {
        y = y
          .positional('ids', { type: 'string', array: true, describe: 'task ids' })
          .option('terminate', { type: 'boolean', default: false, describe: 'also end the task if it is running' })
          .option('signal', { requiresArg: true, type: 'string', describe: 'signal for --terminate: SIGTERM, KILL, 9... (Python workers, warren --pool process)', default: 'SIGTERM' }) as Argv<ControlArgs>;
      }
      if (action.name === 'add_consumer') {
        y = y
          .option('exchange', { requiresArg: true, type: 'string', describe: "the queue's exchange (Python workers create the queue with it)" })
          .option('exchange-type', { requiresArg: true, type: 'string', describe: 'its type (default direct)' })
          .option('routing-key', { requiresArg: true, type: 'string', describe: 'its routing key' }) as Argv<ControlArgs>;
      }
      return y;
    },
    handler: (args) =>
      withFleet(args, async (app, target) => {
        const reply = action.reply ?? true;
        const replies = byNode(await app.control.broadcast(action.name, action.arguments(args), { ...target, reply }));
        if (!reply) {
          process.stdout.write(`${action.name} sent\n`);
          return;
        }
        if (Object.keys(replies).length === 0) throw noReply(target.timeoutMs, target.destination);
        process.stdout.write(args.json ? `${JSON.stringify(replies)}\n` : formatControl(replies));
      }),
  };
}

/** The actions of `warren control`. */
export const controlActions = ACTIONS.map(actionCommand);

export const controlCommand: CommandModule = {
  command: 'control <action>',
  describe: 'steer the workers (warren and Python Celery alike): revoke tasks, add or cancel consumers, switch events, shut down',
  builder: (yargs: Argv) =>
    yargs
      .command(controlActions as unknown as CommandModule[])
      .demandCommand(1)
      .example('$0 control revoke 3f2c0a1e-... --terminate', 'revoke a task, and end it where it runs'),
  handler: () => undefined,
};
