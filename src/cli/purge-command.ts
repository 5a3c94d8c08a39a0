import { createInterface } from 'node:readline/promises';
import type { Argv, CommandModule } from 'yargs';
import { checkQueueNames } from '../config';
import { UsageError } from '../errors';
import { appFromArgs, splitList, withCommonOptions, type CommonArgs } from './common-options';
import { plural } from './fleet-options';

interface PurgeArgs extends CommonArgs {
  app?: string;
  queues?: string[];
  force: boolean;
}

/** Asks on the terminal; true for y or yes. */
async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(question);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

export const purgeCommand: CommandModule<object, PurgeArgs> = {
  command: 'purge',
  describe: 'delete the messages waiting in queues of the definitions (asks first, unless --force)',
  builder: (yargs: Argv) =>
    withCommonOptions(yargs, 'warn')
      .option('app', { requiresArg: true, alias: 'A', type: 'string', describe: 'tasks module whose app gives the definitions (optional)' })
      .option('queues', { requiresArg: true, alias: 'Q', type: 'string', array: true, demandOption: true, describe: 'queues to purge, comma-separated' })
      .option('force', { alias: 'f', type: 'boolean', default: false, describe: 'do not ask (needed when stdin is not a terminal)' })
      .example('$0 purge -Q for_task1', 'shows how many messages wait there, and asks before deleting them') as unknown as Argv<PurgeArgs>,
  handler: async (args) => {
    const names = splitList(args.queues);
    if (names.length === 0) throw new UsageError('-Q needs at least one queue name');
    if (!args.force && !process.stdin.isTTY) {
      throw new UsageError('refusing to purge without --force: stdin is not a terminal to ask on, and deleted messages cannot be brought back');
    }
    const { app } = await appFromArgs(args);
    try {
      checkQueueNames(await app.definitions(), names, '-Q'); // throws UnknownQueueError: exit 2, nothing done
      const checks = await app.checkQueues(names);
      const missing = checks.filter((check) => check.missing).map((check) => check.name);
      if (missing.length > 0) throw new UsageError(`not on the broker: ${missing.join(', ')} (nothing was purged)`);
      const waiting = checks.map((check) => `${check.missing ? 0 : check.messages} in ${check.name}`).join(', ');
      if (!args.force && !(await confirm(`Delete the messages waiting in ${plural(names.length, 'queue')} (${waiting})? This cannot be undone. [y/N] `))) {
        process.stdout.write('purge cancelled: nothing was deleted\n');
        return;
      }
      for (const name of names) {
        const purged = await app.purgeQueue(name);
        process.stdout.write(`purged ${plural(purged, 'message')} from ${name}\n`);
      }
    } finally {
      await app.close();
    }
  },
};
