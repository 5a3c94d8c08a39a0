import type { Argv, CommandModule } from 'yargs';
import { UsageError } from '../errors';
import { createRouter } from '../router';
import { ProgressView } from './progress-view';
import { appFromArgs, durationFlag, parseArgument, routingFromArgs, withCommonOptions, withRoutingOptions, type CommonArgs, type RoutingArgs } from './common-options';

interface SendArgs extends CommonArgs, RoutingArgs {
  task: string;
  arguments: string[];
  /** Celery's `celery call --args '[2, 2]'`: the positional arguments as one JSON array. */
  args?: string;
  kwargs?: string;
  expires?: string;
  countdown?: string;
  eta?: string;
  'task-id'?: string;
  wait: boolean;
  timeout: string;
}

export const sendCommand: CommandModule<object, SendArgs> = {
  command: 'send <task> [arguments..]',
  // Celery's `celery call tasks.add --args '[2, 2]'`.
  aliases: ['call'],
  describe: 'send a task by name; prints its id (and its result with --wait)',
  builder: (yargs: Argv) =>
    withRoutingOptions(withCommonOptions(yargs, 'warn'))
      .positional('task', { type: 'string', demandOption: true, describe: 'task name, e.g. app1.tasks1.deal1' })
      .positional('arguments', { type: 'string', array: true, default: [], describe: 'positional arguments, each parsed as JSON where it parses' })
      .option('args', { requiresArg: true, alias: 'a', type: 'string', describe: "positional arguments as one JSON array, as for celery call: --args '[2, 2]'" })
      .option('kwargs', { requiresArg: true, alias: 'k', type: 'string', describe: 'keyword arguments as a JSON object' })
      .option('expires', { requiresArg: true, type: 'string', describe: 'do not run after this long, e.g. 60s' })
      .option('countdown', { requiresArg: true, type: 'string', describe: 'run no earlier than this long from now, e.g. 90s (the broker holds it)' })
      .option('eta', { requiresArg: true, type: 'string', describe: 'run no earlier than this ISO 8601 time, e.g. 2026-12-01T08:00:00Z' })
      .option('task-id', { requiresArg: true, type: 'string', describe: 'task id (default: a random UUID)' })
      .option('wait', { type: 'boolean', default: false, describe: 'wait for the result and print it as JSON; progress the task reports is drawn on stderr (a bar on a terminal, a line per update otherwise)' })
      .option('timeout', { requiresArg: true, type: 'string', default: '10s', describe: 'how long --wait waits' })
      .example('$0 send app1.tasks1.deal1 text0 --wait', 'prints the task id, then "text0======="') as unknown as Argv<SendArgs>,
  handler: async (args) => {
    const taskArgs = positionalArguments(args);
    let kwargs: Record<string, unknown> = {};
    if (args.kwargs !== undefined) {
      const parsed = parseArgument(args.kwargs);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        throw new UsageError(`--kwargs must be a JSON object, e.g. '{"a": 1}' (got ${args.kwargs})`);
      }
      kwargs = parsed as Record<string, unknown>;
    }
    const timeoutMs = durationFlag('timeout', args.timeout);
    const expires = args.expires === undefined ? undefined : durationFlag('expires', args.expires) / 1000;
    const countdown = args.countdown === undefined ? undefined : durationFlag('countdown', args.countdown) / 1000;
    const eta = args.eta === undefined ? undefined : new Date(args.eta);
    if (eta !== undefined && (Number.isNaN(eta.getTime()) || !/\d{2}:\d{2}.*(Z|[+-]\d{2}:?\d{2})$/i.test(args.eta ?? ''))) {
      throw new UsageError(`--eta must be an ISO 8601 time with an offset, e.g. 2026-12-01T08:00:00Z (got ${args.eta})`);
    }
    if (countdown !== undefined && eta !== undefined) throw new UsageError('give --countdown or --eta, not both');
    const routing = routingFromArgs(args);
    const { app } = await appFromArgs(args);
    try {
      // A --queue or --exchange that names nothing exits 2, found before anything is declared.
      createRouter(await app.definitions()).route(args.task, routing);
      const result = await app.sendTask(args.task, taskArgs, kwargs, {
        ...routing,
        expires,
        countdown,
        eta,
        taskId: args['task-id'],
        ignoreResult: !args.wait,
      });
      process.stdout.write(`${result.id}\n`);
      if (args.wait) {
        // Progress the task reports goes to stderr: stdout keeps the id and the result alone.
        const view = new ProgressView(process.stderr);
        result.on('progress', (progress) => view.update(progress));
        const value = await result.get({ timeout: timeoutMs }).finally(() => view.finish());
        process.stdout.write(`${JSON.stringify(value)}\n`);
      }
    } finally {
      await app.close();
    }
  },
};

/** The task's positional arguments: the words after its name, each JSON where it parses, or `--args` (one JSON array). */
function positionalArguments(args: Pick<SendArgs, 'arguments' | 'args'>): unknown[] {
  const words = args.arguments ?? [];
  if (args.args === undefined) return words.map(parseArgument);
  if (words.length > 0) throw new UsageError(`give the task's arguments after its name or as --args, not both (got ${words.join(' ')} and --args ${args.args})`);
  const parsed = parseArgument(args.args);
  if (!Array.isArray(parsed)) throw new UsageError(`--args must be a JSON array, e.g. '[2, 2]' (got ${args.args})`);
  return parsed;
}
