import { createInterface } from 'node:readline/promises';
import type { Argv, CommandModule } from 'yargs';
import { checkQueueNames } from '../config';
import type { QueueCheck } from '../app/app';
import { UsageError } from '../errors';
import { appFromArgs, splitList, withCommonOptions, type CommonArgs } from './common-options';
import { plural } from './fleet-options';

interface PurgeArgs extends CommonArgs {
  app?: string;
  queues?: string[];
  'exclude-queues'?: string[];
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
  describe: 'delete the messages waiting in queues of the definitions: -Q, or every one but -X (asks first, unless --force)',
  builder: (yargs: Argv) =>
    withCommonOptions(yargs, 'warn')
      .option('app', { requiresArg: true, alias: 'A', type: 'string', describe: 'tasks module whose app gives the definitions (optional)' })
      .option('queues', { requiresArg: true, alias: 'Q', type: 'string', array: true, describe: 'queues to purge, comma-separated (default: every queue of the definitions, as celery purge)' })
      .option('exclude-queues', { requiresArg: true, alias: 'X', type: 'string', array: true, describe: 'queues not to purge, comma-separated' })
      .option('force', { alias: 'f', type: 'boolean', default: false, describe: 'do not ask (needed when stdin is not a terminal)' })
      .example('$0 purge -Q for_task1', 'shows how many messages wait there, and asks before deleting them')
      .example('$0 purge -X for_task2', 'every queue of the definitions but for_task2') as unknown as Argv<PurgeArgs>,
  handler: async (args) => {
    const given = splitList(args.queues);
    const excluded = splitList(args['exclude-queues']);
    if (args.queues !== undefined && given.length === 0) throw new UsageError('-Q needs at least one queue name');
    if (!args.force && !process.stdin.isTTY) {
      throw new UsageError('refusing to purge without --force: stdin is not a terminal to ask on, and deleted messages cannot be brought back');
    }
    const { app } = await appFromArgs(args);
    try {
      const definitions = await app.definitions();
      checkQueueNames(definitions, given, '-Q'); // throws UnknownQueueError: exit 2, nothing done
      checkQueueNames(definitions, excluded, '-X');
      const chosen = (given.length > 0 ? given : definitions.queues.map((queue) => queue.name)).filter((name) => !excluded.includes(name));
      if (chosen.length === 0) throw new UsageError(`no queue is left to purge: -X excludes ${excluded.join(', ')}`);
      const checks = await app.checkQueues(chosen);
      const missing = checks.filter((check) => check.missing).map((check) => check.name);
      if (given.length > 0 && missing.length > 0) throw new UsageError(`not on the broker: ${missing.join(', ')} (nothing was purged)`);
      // Every queue of the definitions: one never declared holds nothing to purge.
      if (missing.length > 0) process.stdout.write(`not on the broker, nothing to purge: ${missing.join(', ')}\n`);
      const present = checks.filter((check): check is Extract<QueueCheck, { missing?: undefined }> => !check.missing);
      const names = present.map((check) => check.name);
      if (names.length === 0) return;
      const waiting = present.map((check) => `${check.messages} in ${check.name}`).join(', ');
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
