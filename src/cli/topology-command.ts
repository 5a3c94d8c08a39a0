import { writeFile } from 'node:fs/promises';
import type { Argv, CommandModule } from 'yargs';
import type { App } from '../app';
import { buildTopology, exportDefinitions, singleNodeQueues } from '../topology';
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
 * one cluster) and the definitions hold tasks in durable classic queues, which live on one node.
 * The question is asked only once the topology is declared; a probe that fails says nothing.
 */
async function clusterWarning(app: App): Promise<string | undefined> {
  const queues = singleNodeQueues(await app.definitions());
  if (queues.length === 0) return undefined;
  const probe = await app.clusterNodes().catch(() => undefined);
  if (probe === undefined || probe.nodes.length < 2) return undefined;
  return (
    `warren: warning: the broker is a cluster (${probe.nodes.length} running nodes: ${probe.nodes.join(', ')}), and ` +
    `${queues.length === 1 ? 'this durable classic queue keeps its' : 'these durable classic queues keep their'} tasks on one node: ${queues.join(', ')}.\n` +
    '  While that node is down a task sent there is returned unroutable and none is consumed; its tasks are lost with its disk.\n' +
    '  Declare task queues with type: quorum (replicated; a queue that exists keeps its type: drain it, delete it, apply again).\n'
  );
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
