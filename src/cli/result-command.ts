import type { Argv, CommandModule } from 'yargs';
import { appFromArgs, durationFlag, withCommonOptions, type CommonArgs } from './common-options';

interface ResultArgs extends CommonArgs {
  app?: string;
  id: string;
  traceback: boolean;
  timeout?: string;
}

/**
 * `warren result <id>`, as `celery result <id>`: prints a task's return value by its id, from
 * any process, waiting until it is ready (no limit unless `--timeout`). A task that failed exits
 * 1 with its error, as `send --wait` does. `--traceback` prints the traceback of a failed task
 * instead, at once. Needs a result backend that stores results (Redis): with rpc:// only the
 * sender gets a result, and the command says so.
 */
export const resultCommand: CommandModule<object, ResultArgs> = {
  command: 'result <id>',
  describe: "print a task's result by its id (waits until it is ready); needs a result backend that stores results, such as Redis",
  builder: (yargs: Argv) =>
    withCommonOptions(yargs, 'warn')
      .positional('id', { type: 'string', demandOption: true, describe: 'the task id' })
      .option('app', { requiresArg: true, alias: 'A', type: 'string', describe: 'tasks module whose app gives the definitions and result backend (optional)' })
      .option('traceback', { type: 'boolean', default: false, describe: 'print the traceback of a failed task instead of waiting for its value' })
      .option('timeout', { requiresArg: true, type: 'string', describe: 'how long to wait for the result, e.g. 30s (default: no limit, as Celery)' })
      .example('$0 result 8f1c... --result-backend redis://127.0.0.1:6379/0', "prints the task's return value as JSON") as unknown as Argv<ResultArgs>,
  handler: async (args) => {
    const timeoutMs = args.timeout === undefined ? Infinity : durationFlag('timeout', args.timeout);
    const { app } = await appFromArgs(args);
    try {
      const result = await app.asyncResult(args.id);
      if (args.traceback) {
        const state = await result.refresh();
        if (result.traceback) process.stdout.write(`${result.traceback.replace(/\n?$/, '\n')}`);
        else process.stderr.write(`task ${args.id} has no traceback (state ${state})\n`);
        return;
      }
      const value = await result.get({ timeout: timeoutMs });
      process.stdout.write(`${JSON.stringify(value)}\n`);
    } finally {
      await app.close();
    }
  },
};
