import { writeFile } from 'node:fs/promises';
import type { Argv, CommandModule } from 'yargs';
import type { App } from '../app';
import { buildTopology, DELAY_LEVELS, delayLevelName, exportDefinitions, singleNodeDelayLevels, singleNodeQueues } from '../topology';
import { appFromArgs, withCommonOptions, type CommonArgs } from './common-options';

interface ExportArgs extends CommonArgs {
  out?: string;
  vhost: string;
  user?: string;
}

const applyCommand: CommandModule<object, CommonArgs> = {
  command: 'apply',
  describe: 'declare every exchange, queue and binding of the definitions, and print them',
  builder: (yargs: Argv) => withCommonOptions(yargs, 'warn') as unknown as Argv<CommonArgs>,
  handler: async (args) => {
    const { app } = await appFromArgs(args);
    try {
      const report = await app.declareTopology();
      process.stdout.write(formatReport(report));
      const warning = await clusterWarning(app);
      if (warning) process.stderr.write(warning);
    } finally {
      await app.close();
    }
  },
};

const exportCommand: CommandModule<object, ExportArgs> = {
  command: 'export',
  describe: "write the topology in RabbitMQ's definitions format (for load_definitions)",
  builder: (yargs: Argv) =>
    withCommonOptions(yargs, 'warn')
      .option('out', { requiresArg: true, alias: 'o', type: 'string', describe: 'file to write (default: stdout)' })
      .option('vhost', { requiresArg: true, type: 'string', default: '/', describe: 'virtual host of every object' })
      .option('user', { requiresArg: true, type: 'string', describe: 'also define a user with full rights on the vhost, as name:password' })
      .example('$0 topology export -o rabbitmq/definitions.json --user guest:guest', 'regenerate the broker definitions') as unknown as Argv<ExportArgs>,
  handler: async (args) => {
    const { app } = await appFromArgs(args);
    const definitions = await app.definitions();
    const user = args.user === undefined ? undefined : parseUser(args.user);
    const exported = exportDefinitions(buildTopology(definitions), { vhost: args.vhost, user });
    const text = `${JSON.stringify(exported, null, 2)}\n`;
    if (args.out) {
      await writeFile(args.out, text);
      process.stderr.write(`wrote ${args.out}\n`);
    } else {
      process.stdout.write(text);
    }
  },
};

/**
 * A warning when the broker is a cluster (two or more of `broker.urls` reach running nodes of
 * one cluster) and the definitions hold tasks in durable classic queues, or delayed tasks in
 * classic delay levels: both live on one node. The question is asked only once the topology is
 * declared; a probe that fails says nothing.
 */
async function clusterWarning(app: App): Promise<string | undefined> {
  const definitions = await app.definitions();
  const queues = singleNodeQueues(definitions);
  const delayLevels = singleNodeDelayLevels(definitions);
  if (queues.length === 0 && !delayLevels) return undefined;
  const probe = await app.clusterNodes().catch(() => undefined);
  if (probe === undefined || probe.nodes.length < 2) return undefined;
  const lines = [`warren: warning: the broker is a cluster (${probe.nodes.length} running nodes: ${probe.nodes.join(', ')}), and`];
  if (queues.length > 0) {
    lines.push(
      `  ${queues.length === 1 ? 'this durable classic queue keeps its' : 'these durable classic queues keep their'} tasks on one node: ${queues.join(', ')}.`,
      '  While that node is down a task sent there is returned unroutable and none is consumed; its tasks are lost with its disk.',
      '  Declare task queues with type: quorum (replicated; a queue that exists keeps its type: drain it, delete it, apply again).',
    );
  }
  if (delayLevels) {
    lines.push(
      `  ${queues.length > 0 ? 'Also, the' : 'its'} delay levels (${delayLevelName(0)} ... ${delayLevelName(DELAY_LEVELS - 1)}) are classic queues on the node that first declared them.`,
      '  While that node is down a task with countdown, eta or a retry backoff cannot be sent, and the delayed tasks wait there; they are lost with its disk.',
      `  Set delays: { queueType: quorum } in the definitions (or WARREN_DELAY_QUEUE_TYPE=quorum) for every client and worker: new delays go through ${delayLevelName(0, { queueType: 'quorum' })} ...,`,
      '  the tasks already in the classic levels still arrive; delete the classic levels once `warren queues` counts none in them.',
    );
  }
  // One sentence: "..., and this durable classic queue ..." reads on from the first line.
  return `${lines[0]} ${lines.slice(1).join('\n').trimStart()}\n`;
}

function parseUser(text: string): { name: string; password: string } {
  const colon = text.indexOf(':');
  if (colon <= 0) return { name: text, password: '' };
  return { name: text.slice(0, colon), password: text.slice(colon + 1) };
}

type Report = Awaited<ReturnType<import('../app').App['declareTopology']>>;

function formatReport(report: Report): string {
  const lines: string[] = [];
  for (const e of report.exchanges) lines.push(`exchange ${e.name} (${e.type})`);
  for (const q of report.queues) lines.push(`queue    ${q.name}`);
  for (const b of report.bindings) lines.push(`binding  ${b.exchange} -[${b.routingKey}]-> ${b.queue}`);
  return `${lines.join('\n')}\n`;
}

/** The actions of `warren topology`. */
export const topologyActions = [applyCommand, exportCommand];

export const topologyCommand: CommandModule = {
  command: 'topology <action>',
  describe: 'declare or export the topology of the definitions',
  builder: (yargs: Argv) => yargs.command(topologyActions as unknown as CommandModule[]).demandCommand(1),
  handler: () => undefined,
};
