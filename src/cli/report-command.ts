import { release, type as osType } from 'node:os';
import { dirname } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import type { Definitions } from '../config/types';
import { maskUrl } from '../util/mask-url';
import { packageVersion, versionAbove } from '../util/package-version';
import { appFromArgs, withCommonOptions, type CommonArgs } from './common-options';

interface ReportArgs extends CommonArgs {
  app?: string;
}

/**
 * A dependency's version as installed beside warren, or undefined when it is not: from the
 * package.json above its entry point (a package's `exports` may not list its package.json).
 */
function installedVersion(name: string): string | undefined {
  try {
    return versionAbove(dirname(require.resolve(name)), name);
  } catch {
    return undefined;
  }
}

/** What `warren report` prints, from the definitions and the task names: the lines of `celery report`'s shape. */
export function formatReport(definitions: Definitions, taskNames: readonly string[]): string {
  const software = [`warren:${packageVersion()}`, `node:${process.version}`];
  for (const name of ['amqplib', 'amqp-connection-manager', 'ioredis', 'pg', 'prom-client']) {
    const version = installedVersion(name);
    if (version !== undefined) software.push(`${name}:${version}`);
  }
  const backend = definitions.resultBackend ?? 'rpc://';
  const lines = [
    `software -> ${software.join(' ')}`,
    `platform -> system:${osType()} arch:${process.arch} kernel version:${release()}`,
    `settings -> transport:amqp results:${maskUrl(backend)}`,
    '',
    `definitions: ${definitions.sources.join(', ') || '(built in code)'}`,
    `broker.urls: ${definitions.broker.urls.map(maskUrl).join(', ')}`,
    `broker.failoverStrategy: ${definitions.broker.failoverStrategy}`,
    `resultBackend: ${maskUrl(backend)}`,
    `defaultQueue: ${definitions.defaultQueue}`,
    `queues: ${definitions.queues.map((queue) => `${queue.name} (${queue.type})`).join(', ') || 'none'}`,
    `exchanges: ${definitions.exchanges.map((exchange) => `${exchange.name} (${exchange.type})`).join(', ') || 'none'}`,
    `routes: ${definitions.routes.length}`,
    `schedule: ${definitions.schedule.length} ${definitions.schedule.length === 1 ? 'entry' : 'entries'}, timezone ${definitions.timezone}`,
    `delays.queueType: ${definitions.delays?.queueType ?? 'classic'}`,
    `tasks: ${taskNames.length > 0 ? taskNames.join(', ') : 'none registered (give -A)'}`,
  ];
  return `${lines.join('\n')}\n`;
}

export const reportCommand: CommandModule<object, ReportArgs> = {
  command: 'report',
  describe: "what to paste in a bug report, as celery report: software and platform, the definitions' settings (passwords masked) and the tasks; connects to nothing",
  builder: (yargs: Argv) =>
    withCommonOptions(yargs, 'warn').option('app', {
      requiresArg: true,
      alias: 'A',
      type: 'string',
      describe: 'tasks module whose tasks and definitions to report (optional)',
    }) as unknown as Argv<ReportArgs>,
  handler: async (args) => {
    const { app } = await appFromArgs(args);
    try {
      process.stdout.write(formatReport(await app.definitions(), app.registeredTasks()));
    } finally {
      await app.close();
    }
  },
};
