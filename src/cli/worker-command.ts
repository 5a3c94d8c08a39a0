import { availableParallelism } from 'node:os';
import type { Argv, CommandModule } from 'yargs';
import { parseByteSize } from '../config';
import { UsageError } from '../errors';
import { closeOnSignal } from './shutdown';
import { appFromArgs, durationFlag, splitList, withCommonOptions, type CommonArgs } from './common-options';

interface WorkerArgs extends CommonArgs {
  app: string;
  queues?: string[];
  concurrency: number;
  'prefetch-multiplier': number;
  hostname?: string;
  'shutdown-timeout': string;
  'time-limit'?: string;
  'soft-time-limit'?: string;
  'max-message-size'?: string;
}

export const workerCommand: CommandModule<object, WorkerArgs> = {
  command: 'worker',
  describe: 'consume queues and run their tasks',
  builder: (yargs: Argv) =>
    withCommonOptions(yargs)
      .option('app', { requiresArg: true, alias: 'A', type: 'string', demandOption: true, describe: 'tasks module (ES module or CommonJS) whose default export, or export "app", is the app' })
      .option('queues', { requiresArg: true, alias: 'Q', type: 'string', array: true, describe: 'queues to consume, comma-separated (default: the default queue)' })
      .option('concurrency', { requiresArg: true, alias: 'c', type: 'number', default: availableParallelism(), describe: 'tasks run at once' })
      .option('prefetch-multiplier', { requiresArg: true, type: 'number', default: 1, describe: 'unacknowledged messages per concurrency slot' })
      .option('hostname', { requiresArg: true, alias: 'n', type: 'string', describe: 'node name (default warren@<host>)' })
      .option('shutdown-timeout', { requiresArg: true, type: 'string', default: '30s', describe: 'how long running tasks may finish after SIGTERM/SIGINT' })
      .option('time-limit', { requiresArg: true, type: 'string', describe: 'hard time limit for tasks that set none, e.g. 5m: FAILURE, and the worker goes on' })
      .option('soft-time-limit', { requiresArg: true, type: 'string', describe: "soft time limit for tasks that set none, e.g. 4m: aborts the task's signal" })
      .option('max-message-size', { requiresArg: true, type: 'string', describe: 'largest message body accepted, e.g. 512KiB or 4MiB; larger ones are dead-lettered unparsed (default 1MiB)' })
      .example('$0 worker -A ./dist/examples/tasks.js -Q for_task1 -c 8', 'consume for_task1 only') as unknown as Argv<WorkerArgs>,
  handler: async (args) => {
    if (!Number.isInteger(args.concurrency) || args.concurrency < 1) throw new UsageError(`--concurrency must be a whole number of at least 1 (got ${args.concurrency})`);
    if (!Number.isInteger(args['prefetch-multiplier']) || args['prefetch-multiplier'] < 1) {
      throw new UsageError(`--prefetch-multiplier must be a whole number of at least 1 (got ${args['prefetch-multiplier']})`);
    }
    const shutdownTimeoutMs = durationFlag('shutdown-timeout', args['shutdown-timeout']);
    const seconds = (flag: 'time-limit' | 'soft-time-limit'): number | undefined => {
      const ms = durationFlag(flag, args[flag]);
      if (ms === undefined) return undefined;
      if (ms <= 0) throw new UsageError(`--${flag} must be above 0 (got ${args[flag]})`);
      return ms / 1000;
    };
    const timeLimit = seconds('time-limit');
    const softTimeLimit = seconds('soft-time-limit');
    let maxMessageBytes: number | undefined;
    try {
      maxMessageBytes = args['max-message-size'] === undefined ? undefined : parseByteSize(args['max-message-size']);
    } catch (err) {
      throw new UsageError(`--max-message-size: ${(err as Error).message}`);
    }
    const { app, logger } = await appFromArgs(args);
    const worker = await app.startWorker({
      queues: splitList(args.queues),
      concurrency: args.concurrency,
      prefetchMultiplier: args['prefetch-multiplier'],
      hostname: args.hostname,
      shutdownTimeoutMs,
      timeLimit,
      softTimeLimit,
      maxMessageBytes,
    });
    await closeOnSignal(app, logger, () => ({ active: worker.active }));
  },
};
