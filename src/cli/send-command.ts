import type { Argv, CommandModule } from 'yargs';
import { parseDuration } from '../config';
import { UsageError } from '../errors';
import { appFromArgs, withCommonOptions, type CommonArgs } from './common-options';

interface SendArgs extends CommonArgs {
  task: string;
  args: string[];
  kwargs?: string;
  queue?: string;
  exchange?: string;
  'routing-key'?: string;
  priority?: number;
  expires?: string;
  countdown?: string;
  eta?: string;
  'task-id'?: string;
  wait: boolean;
  timeout: string;
}

/** A command-line argument as JSON where it parses (`3`, `true`, `[1,2]`), else as a string. */
export function parseArgument(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function durationOption(flag: string, text: string): number {
  try {
    return parseDuration(text);
  } catch (err) {
    throw new UsageError(`--${flag}: ${(err as Error).message}`);
  }
}

export const sendCommand: CommandModule<object, SendArgs> = {
  command: 'send <task> [args..]',
  describe: 'send a task by name; prints its id (and its result with --wait)',
  builder: (yargs: Argv) =>
    withCommonOptions(yargs, 'warn')
      .positional('task', { type: 'string', demandOption: true, describe: 'task name, e.g. app1.tasks1.deal1' })
      .positional('args', { type: 'string', array: true, default: [], describe: 'positional arguments, each parsed as JSON where it parses' })
      .option('kwargs', { type: 'string', describe: 'keyword arguments as a JSON object' })
      .option('queue', { type: 'string', describe: 'send to this declared queue instead of the routed one' })
      .option('exchange', { type: 'string', describe: 'publish to this exchange instead of the routed one' })
      .option('routing-key', { type: 'string', describe: 'publish with this routing key' })
      .option('priority', { type: 'number', describe: 'message priority 0-255' })
      .option('expires', { type: 'string', describe: 'do not run after this long, e.g. 60s' })
      .option('countdown', { type: 'string', describe: 'run no earlier than this long from now, e.g. 90s (the broker holds it)' })
      .option('eta', { type: 'string', describe: 'run no earlier than this ISO 8601 time, e.g. 2026-12-01T08:00:00Z' })
      .option('task-id', { type: 'string', describe: 'task id (default: a random UUID)' })
      .option('wait', { type: 'boolean', default: false, describe: 'wait for the result and print it as JSON' })
      .option('timeout', { type: 'string', default: '10s', describe: 'how long --wait waits' })
      .example('$0 send app1.tasks1.deal1 text0 --wait', 'prints the task id, then "text0======="') as unknown as Argv<SendArgs>,
  handler: async (args) => {
    let kwargs: Record<string, unknown> = {};
    if (args.kwargs !== undefined) {
      const parsed = parseArgument(args.kwargs);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        throw new UsageError(`--kwargs must be a JSON object, e.g. '{"a": 1}' (got ${args.kwargs})`);
      }
      kwargs = parsed as Record<string, unknown>;
    }
    const timeoutMs = durationOption('timeout', args.timeout);
    const expires = args.expires === undefined ? undefined : durationOption('expires', args.expires) / 1000;
    const countdown = args.countdown === undefined ? undefined : durationOption('countdown', args.countdown) / 1000;
    const eta = args.eta === undefined ? undefined : new Date(args.eta);
    if (eta !== undefined && (Number.isNaN(eta.getTime()) || !/\d{2}:\d{2}.*(Z|[+-]\d{2}:?\d{2})$/i.test(args.eta ?? ''))) {
      throw new UsageError(`--eta must be an ISO 8601 time with an offset, e.g. 2026-12-01T08:00:00Z (got ${args.eta})`);
    }
    if (countdown !== undefined && eta !== undefined) throw new UsageError('give --countdown or --eta, not both');
    if (args.priority !== undefined && (!Number.isInteger(args.priority) || args.priority < 0 || args.priority > 255)) {
      throw new UsageError(`--priority must be a whole number from 0 to 255 (got ${args.priority})`);
    }
    const { app } = appFromArgs(args);
    try {
      const result = await app.sendTask(args.task, (args.args ?? []).map(parseArgument), kwargs, {
        queue: args.queue,
        exchange: args.exchange,
        routingKey: args['routing-key'],
        priority: args.priority,
        expires,
        countdown,
        eta,
        taskId: args['task-id'],
        ignoreResult: !args.wait,
      });
      process.stdout.write(`${result.id}\n`);
      if (args.wait) {
        const value = await result.get({ timeout: timeoutMs });
        process.stdout.write(`${JSON.stringify(value)}\n`);
      }
    } finally {
      await app.close();
    }
  },
};
