import type { Argv, CommandModule } from 'yargs';
import { describeSchedule, type ScheduleEntryInput, type ScheduleListing } from '../beat';
import type { App } from '../app';
import { UsageError } from '../errors';
import {
  appFromArgs,
  parseArgument,
  routingFromArgs,
  withCommonOptions,
  withRoutingOptions,
  withStoreOption,
  type CommonArgs,
  type RoutingArgs,
  type StoreArgs,
} from './common-options';

type ScheduleArgs = CommonArgs & StoreArgs & { json?: boolean };

interface AddArgs extends ScheduleArgs, RoutingArgs {
  name: string;
  task: string;
  every?: string;
  cron?: string;
  timezone?: string;
  at?: string;
  args?: string;
  kwargs?: string;
  expires?: string;
  misfire?: string;
  'catch-up-max'?: number;
  'start-at'?: string;
  'end-at'?: string;
  disabled: boolean;
  replace: boolean;
}

interface NameArgs extends ScheduleArgs {
  name: string;
}

interface NextArgs extends NameArgs {
  count: number;
}

function jsonOption<T>(flag: string, text: string | undefined, check: (v: unknown) => v is T, expected: string): T | undefined {
  if (text === undefined) return undefined;
  const value = parseArgument(text);
  if (!check(value)) throw new UsageError(`--${flag} must be ${expected} (got ${text})`);
  return value;
}

const isList = (v: unknown): v is unknown[] => Array.isArray(v);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The command line's flags as an entry in the YAML shape; the schedule checks it like a file entry. */
function entryInput(args: AddArgs): ScheduleEntryInput {
  const misfire =
    args.misfire === 'catch-up' && args['catch-up-max'] !== undefined
      ? { policy: 'catch-up' as const, max: args['catch-up-max'] }
      : (args.misfire as ScheduleEntryInput['misfire']);
  const input: ScheduleEntryInput = {
    task: args.task,
    every: args.every,
    cron: args.cron,
    timezone: args.timezone,
    at: args.at,
    args: jsonOption('args', args.args, isList, 'a JSON list, e.g. \'["hello", 1]\''),
    kwargs: jsonOption('kwargs', args.kwargs, isObject, 'a JSON object, e.g. \'{"a": 1}\''),
    ...routingFromArgs(args),
    expires: args.expires,
    enabled: args.disabled ? false : undefined,
    misfire,
    startAt: args['start-at'],
    endAt: args['end-at'],
  };
  return Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)) as unknown as ScheduleEntryInput;
}

function formatTable(entries: readonly ScheduleListing[]): string {
  const rows = [
    ['NAME', 'SOURCE', 'ENABLED', 'SCHEDULE', 'TASK', 'LAST FIRE'],
    ...entries.map((e) => [e.name, e.source, e.enabled ? 'yes' : 'no', describeSchedule(e.input), e.input.task, e.lastPlanned?.toISOString() ?? '-']),
  ];
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column])).join('  ').trimEnd()).join('\n') + '\n';
}

/** Runs `work` on the app's schedules and closes the app. */
async function withSchedules<T extends ScheduleArgs>(args: T, work: (schedules: App['schedules']) => Promise<string>): Promise<void> {
  const { app } = await appFromArgs(args);
  try {
    process.stdout.write(await work(app.schedules));
  } finally {
    await app.close();
  }
}

const scheduleOptions = (yargs: Argv): Argv<ScheduleArgs> =>
  withStoreOption(withCommonOptions(yargs, 'warn')).option('json', { type: 'boolean', default: false, describe: 'print JSON' }) as unknown as Argv<ScheduleArgs>;

const nameCommand = (verb: 'enable' | 'disable' | 'remove', describe: string, done: string): CommandModule<object, NameArgs> => ({
  command: `${verb} <name>`,
  describe,
  builder: (yargs: Argv) => scheduleOptions(yargs).positional('name', { type: 'string', demandOption: true }) as unknown as Argv<NameArgs>,
  handler: (args) =>
    withSchedules(args, async (schedules) => {
      await schedules[verb](args.name);
      return `${done} ${args.name}\n`;
    }),
});

const addCommand: CommandModule<object, AddArgs> = {
  command: 'add <name>',
  describe: 'add a runtime entry (checked like an entry of the definitions files)',
  builder: (yargs: Argv) =>
    withRoutingOptions(scheduleOptions(yargs))
      .positional('name', { type: 'string', demandOption: true })
      .option('task', { requiresArg: true, type: 'string', demandOption: true, describe: 'task name' })
      .option('every', { requiresArg: true, type: 'string', describe: 'interval: 250ms, 10s, 1.5m, 2h' })
      .option('cron', { requiresArg: true, type: 'string', describe: "5 or 6 cron fields, e.g. '30 7 * * 1'" })
      .option('timezone', { requiresArg: true, type: 'string', describe: 'IANA time zone of --cron (default: the definitions\' timezone)' })
      .option('at', { requiresArg: true, type: 'string', describe: 'one-off ISO time with offset, e.g. 2026-12-01T08:00:00+08:00' })
      .option('args', { requiresArg: true, type: 'string', describe: 'JSON list of positional arguments' })
      .option('kwargs', { requiresArg: true, type: 'string', describe: 'JSON object of keyword arguments' })
      .option('expires', { requiresArg: true, type: 'string', describe: 'do not run later than this after the planned time, e.g. 30s' })
      .option('misfire', { requiresArg: true, choices: ['run-once', 'skip', 'catch-up'], describe: 'what to do about runs missed while no beat ran' })
      .option('catch-up-max', { requiresArg: true, type: 'number', describe: 'with --misfire catch-up: at most this many missed runs' })
      .option('start-at', { requiresArg: true, type: 'string' })
      .option('end-at', { requiresArg: true, type: 'string' })
      .option('disabled', { type: 'boolean', default: false, describe: 'add it disabled' })
      .option('replace', { type: 'boolean', default: false, describe: 'replace a runtime entry of that name' })
      .example("$0 schedule add report --task app1.tasks1.deal1 --cron '30 7 * * 1' --timezone Asia/Shanghai --args '[\"hello\"]'", '') as unknown as Argv<AddArgs>,
  handler: (args) =>
    withSchedules(args, async (schedules) => {
      const entry = await schedules.add(args.name, entryInput(args), { replace: args.replace });
      const [next] = await schedules.next(entry.name, 1);
      return `added ${entry.name}${next ? `; next fire ${next.toISOString()}` : ''}\n`;
    }),
};

const listCommand: CommandModule<object, ScheduleArgs> = {
  command: 'list',
  describe: 'list every entry, from the files and the store',
  builder: scheduleOptions,
  handler: (args) =>
    withSchedules(args, async (schedules) => {
      const entries = await schedules.list();
      return args.json ? `${JSON.stringify(entries, null, 2)}\n` : formatTable(entries);
    }),
};

const showCommand: CommandModule<object, NameArgs> = {
  command: 'show <name>',
  describe: 'print one entry as JSON',
  builder: (yargs: Argv) => scheduleOptions(yargs).positional('name', { type: 'string', demandOption: true }) as unknown as Argv<NameArgs>,
  handler: (args) => withSchedules(args, async (schedules) => `${JSON.stringify(await schedules.show(args.name), null, 2)}\n`),
};

const nextCommand: CommandModule<object, NextArgs> = {
  command: 'next <name>',
  describe: 'print the next planned fire times of an entry',
  builder: (yargs: Argv) =>
    scheduleOptions(yargs)
      .positional('name', { type: 'string', demandOption: true })
      .option('count', { requiresArg: true, type: 'number', default: 5, describe: 'how many' }) as unknown as Argv<NextArgs>,
  handler: (args) =>
    withSchedules(args, async (schedules) => {
      if (!Number.isInteger(args.count) || args.count < 1) throw new UsageError(`--count must be a whole number of at least 1 (got ${args.count})`);
      return (await schedules.next(args.name, args.count)).map((d) => `${d.toISOString()}\n`).join('');
    }),
};

/** The actions of `warren schedule`, in the order `--help` lists them. */
export const scheduleActions = [
  addCommand,
  listCommand,
  showCommand,
  nameCommand('enable', 'enable an entry (file entries too)', 'enabled'),
  nameCommand('disable', 'disable an entry (file entries too); it stops at once', 'disabled'),
  nameCommand('remove', 'remove a runtime entry; it never fires again', 'removed'),
  nextCommand,
];

export const scheduleCommand: CommandModule = {
  command: 'schedule <action>',
  describe: 'add, list, show, enable, disable, remove periodic tasks while beat runs',
  builder: (yargs: Argv) => yargs.command(scheduleActions as unknown as CommandModule[]).demandCommand(1),
  handler: () => undefined,
};
