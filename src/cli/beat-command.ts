import type { Argv, CommandModule } from 'yargs';
import { closeOnSignal } from './shutdown';
import { reportDetachedReady } from './detach';
import { hostFormat } from '../util/node-names';
import { appFromArgs, applyDaemonArgs, withCommonOptions, withDaemonOptions, withStoreOption, type CommonArgs, type DaemonArgs, type StoreArgs } from './common-options';

interface BeatArgs extends CommonArgs, StoreArgs, DaemonArgs {
  app?: string;
  'lock-suffix'?: string;
}

export const beatCommand: CommandModule<object, BeatArgs> = {
  command: 'beat',
  describe: 'publish the periodic tasks of the schedule (one beat of many fires; the others stand by)',
  builder: (yargs: Argv) =>
    withDaemonOptions(withStoreOption(withCommonOptions(yargs)))
      .option('app', { requiresArg: true, alias: 'A', type: 'string', describe: 'tasks module (optional: beat sends tasks by name and needs no task code)' })
      .option('lock-suffix', { requiresArg: true, type: 'string', describe: 'separates beats of different deployments on one broker' })
      .example('$0 beat --store postgres://localhost/warren', 'fire the schedule, keeping state in PostgreSQL') as unknown as Argv<BeatArgs>,
  handler: async (args) => {
    if ((await applyDaemonArgs(args, hostFormat('warren@%h'), 'beat')) === 'detached') return;
    const { app, logger } = await appFromArgs(args);
    const beat = await app.startBeat({ lockSuffix: args['lock-suffix'] });
    reportDetachedReady();
    await closeOnSignal(app, logger, () => ({ leader: beat.isLeader }));
  },
};
