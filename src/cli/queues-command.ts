import type { Argv, CommandModule } from 'yargs';
import type { QueueDefinition } from '../config/types';
import type { QueueCheck } from '../app/app';
import type { QueueType } from '../config/types';
import { DELAY_QUEUE_TYPES, delayLevelQueues } from '../topology';
import { appFromArgs, withCommonOptions, type CommonArgs } from './common-options';

interface QueuesArgs extends CommonArgs {
  app?: string;
  json: boolean;
}

/** One row of `warren queues`. */
export interface QueueRow {
  queue: string;
  /** Ready messages; null when the broker does not have the queue. */
  messages: number | null;
  consumers: number | null;
  /** The queue its dead letters go to (`deadLetterQueue`), when warren knows it. */
  deadLetterQueue: string | null;
  deadLetters: number | null;
}

/** The rows, from the definitions' queues and what the broker said of each (and of their dead-letter queues). */
export function queueRows(queues: readonly QueueDefinition[], checks: ReadonlyMap<string, QueueCheck>): QueueRow[] {
  return queues.map((queue) => {
    const check = checks.get(queue.name);
    const dlq = queue.deadLetterQueue ?? null;
    const dead = dlq === null ? undefined : checks.get(dlq);
    return {
      queue: queue.name,
      messages: check && !check.missing ? check.messages : null,
      consumers: check && !check.missing ? check.consumers : null,
      deadLetterQueue: dlq,
      deadLetters: dead && !dead.missing ? dead.messages : null,
    };
  });
}

/** Tasks waiting in each set of delay levels; null for a set the broker does not have. */
export type DelayedCounts = Readonly<Record<QueueType, number | null>>;

/** The tasks waiting in every set of delay levels the broker has; null when it has none. */
export function totalDelayed(counts: DelayedCounts): number | null {
  const present = Object.values(counts).filter((count): count is number => count !== null);
  return present.length === 0 ? null : present.reduce((sum, count) => sum + count, 0);
}

/** The footer line: the total, and each set's share when both sets exist (during a move from classic to quorum levels). */
function delayedFooter(counts: DelayedCounts): string {
  const total = totalDelayed(counts);
  if (total === null) return '';
  const line = `${total} task${total === 1 ? '' : 's'} waiting in the delay levels (countdown, eta, retries)`;
  const sets = DELAY_QUEUE_TYPES.filter((type) => counts[type] !== null);
  return sets.length < 2 ? `\n${line}\n` : `\n${line}: ${sets.map((type) => `${counts[type]} in the ${type} levels`).join(', ')}\n`;
}

/** The table `warren queues` prints. */
export function formatQueues(rows: readonly QueueRow[], delayed: DelayedCounts): string {
  const table = [
    ['queue', 'messages', 'consumers', 'dead letters'],
    ...rows.map((r) => [
      r.queue,
      r.messages === null ? 'not on the broker' : String(r.messages),
      r.consumers === null ? '-' : String(r.consumers),
      r.deadLetterQueue === null ? '-' : `${r.deadLetters === null ? '?' : r.deadLetters} (${r.deadLetterQueue})`,
    ]),
  ];
  const widths = table.reduce<number[]>((w, row) => row.map((cell, i) => Math.max(w[i] ?? 0, cell.length)), []);
  const lines = table.map((row) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  '));
  return `${lines.join('\n')}\n${delayedFooter(delayed)}`;
}

export const queuesCommand: CommandModule<object, QueuesArgs> = {
  command: 'queues',
  describe: 'every queue of the definitions with its depth, consumers and dead-letter depth (asked passively: nothing is declared)',
  builder: (yargs: Argv) =>
    withCommonOptions(yargs, 'warn')
      .option('app', { requiresArg: true, alias: 'A', type: 'string', describe: 'tasks module whose app gives the definitions (optional)' })
      .option('json', { alias: 'j', type: 'boolean', default: false, describe: 'print the rows as JSON' }) as unknown as Argv<QueuesArgs>,
  handler: async (args) => {
    const { app } = await appFromArgs(args);
    try {
      const definitions = await app.definitions();
      // Both sets: after a move from classic to quorum levels, the classic ones still hold what was sent before.
      const sets = DELAY_QUEUE_TYPES.map((queueType) => ({ queueType, queues: delayLevelQueues({ queueType }) }));
      const names = [...new Set([...definitions.queues.map((q) => q.name), ...sets.flatMap((set) => set.queues)])];
      const checks = new Map((await app.checkQueues(names)).map((check) => [check.name, check]));
      const rows = queueRows(definitions.queues, checks);
      const counts = Object.fromEntries(
        sets.map(({ queueType, queues }) => {
          const levels = queues.map((name) => checks.get(name));
          const count = levels.every((c) => c === undefined || c.missing) ? null : levels.reduce((sum, c) => sum + (c && !c.missing ? c.messages : 0), 0);
          return [queueType, count];
        }),
      ) as DelayedCounts;
      const json = { queues: rows, delayed: totalDelayed(counts), delayedByLevels: counts };
      process.stdout.write(args.json ? `${JSON.stringify(json)}\n` : formatQueues(rows, counts));
    } finally {
      await app.close();
    }
  },
};
