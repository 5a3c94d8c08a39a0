/**
 * The contract between what stores persist and what beat fires: a runtime entry input is
 * checked by the definitions files' own rules, and a resolved entry turns back into an input.
 */
import { resolveDefinitions, resolveScheduleEntry, type Definitions } from '../../../../src/config';
import { scheduleEntryToInput, type ScheduleEntryInput } from '../../../../src/beat/entry-input';
import { example, problemsOf as problemsOfRun } from '../../config/problems';

const SOURCE = 'warren schedule add';

/** The example definitions of the config tests, without their schedule, plus `extra`. */
function definitions(extra: Record<string, unknown> = {}): Definitions {
  return resolveDefinitions([{ file: 'definitions/warren.yaml', content: { ...example(), schedule: undefined, ...extra } }]);
}

function resolve(name: string, raw: unknown, defs: Definitions = definitions()) {
  return resolveScheduleEntry(name, raw, { definitions: defs, source: SOURCE });
}

/** The formatted problems of resolving `raw` as entry `name`. */
function problemsOf(name: string, raw: unknown, defs?: Definitions): string[] {
  return problemsOfRun(() => resolve(name, raw, defs));
}

describe('resolveScheduleEntry', () => {
  test('resolves a runtime entry exactly as the same entry in the file resolves', () => {
    const raw = { task: 'app1.tasks1.deal1', cron: { minute: 30, hour: 7, dayOfWeek: 1 }, args: ['hello'], queue: 'for_task1', misfire: 'skip' };
    const fromFile = definitions({ timezone: 'Asia/Shanghai', schedule: { monday: raw } }).schedule[0];
    expect(resolve('monday', raw, definitions({ timezone: 'Asia/Shanghai' }))).toEqual(fromFile);
  });

  test('gives a cron entry without a time zone the definitions\' one, and fills in the defaults', () => {
    expect(resolve('tick', { task: 't', cron: '*/5 * * * *' }, definitions({ timezone: 'America/New_York' }))).toEqual({
      name: 'tick',
      task: 't',
      schedule: { kind: 'cron', expression: '*/5 * * * *', timezone: 'America/New_York' },
      args: [],
      kwargs: {},
      enabled: true,
      misfire: { policy: 'run-once' },
    });
  });

  test('returns a frozen entry that shares nothing with the input', () => {
    const raw = { task: 't', every: '10s', args: [{ deep: true }] };
    const entry = resolve('tick', raw);
    raw.args[0].deep = false;
    expect(entry.args).toEqual([{ deep: true }]);
    expect(Object.isFrozen(entry.args[0])).toBe(true);
  });

  test('locates every problem as source: schedule.<name>.<field>', () => {
    expect(problemsOf('tick', { task: '', every: '10 parsecs', priority: 256, colour: 'red' })).toEqual([
      'warren schedule add: schedule.tick.task: "" is empty (expected a task name)',
      'warren schedule add: schedule.tick.every: "10 parsecs" is not a duration (expected a number of seconds or a string like 250ms, 10s, 1.5m, 2h)',
      'warren schedule add: schedule.tick.priority: 256 is out of range (expected an integer from 0 to 255)',
      'warren schedule add: schedule.tick.colour: unknown key (expected one of task, every, cron, at, timezone, args, kwargs, queue, exchange, routingKey, priority, expires, enabled, misfire, startAt, endAt)',
    ]);
  });

  test('quotes a name that is not a plain key, as the files do', () => {
    expect(problemsOf('every day', { task: 't' })).toEqual([
      'warren schedule add: schedule["every day"]: has none of every, cron, at (expected exactly one of them)',
    ]);
  });

  test('refuses a queue or exchange the definitions do not declare, and a queue not bound to the exchange', () => {
    expect(problemsOf('tick', { task: 't', every: 1, queue: 'nowhere' })).toEqual([
      'warren schedule add: schedule.tick.queue: queue "nowhere" is not declared (declared queues: default, for_task1, for_task2)',
    ]);
    expect(problemsOf('tick', { task: 't', every: 1, exchange: 'gone', routingKey: 'x' })).toEqual([
      'warren schedule add: schedule.tick.exchange: exchange "gone" is not declared (declared exchanges: default, for_task1, for_task2)',
    ]);
    expect(problemsOf('tick', { task: 't', every: 1, queue: 'default', exchange: 'for_task1' })).toEqual([
      'warren schedule add: schedule.tick.exchange: queue "default" is not bound to exchange "for_task1" (exchanges it is bound to: default)',
    ]);
  });

  test('refuses something that is not a mapping, and an empty name', () => {
    expect(problemsOf('tick', undefined)).toEqual([
      'warren schedule add: schedule.tick: null is not a mapping (expected a schedule entry: a mapping with task and one of every, cron, at)',
    ]);
    expect(problemsOf(' ', { task: 't', every: 1 })).toEqual(['warren schedule add: schedule[" "]: " " is empty (expected an entry name)']);
  });
});

describe('scheduleEntryToInput', () => {
  const cases: Array<[string, ScheduleEntryInput]> = [
    ['an interval in seconds', { task: 't', every: '30s' }],
    ['an interval below a second', { task: 't', every: '250ms' }],
    ['an interval in hours', { task: 't', every: '2h', args: ['a', 1], kwargs: { k: [null] } }],
    ['a cron entry with its time zone', { task: 't', cron: '30 7 * * 1', timezone: 'Asia/Shanghai' }],
    ['a one-off', { task: 't', at: '2026-12-01T00:00:00.000Z' }],
    [
      'every option',
      {
        task: 't',
        every: '1m',
        queue: 'for_task1',
        exchange: 'for_task1',
        routingKey: 'task_a',
        priority: 3,
        expires: 20,
        enabled: false,
        misfire: { policy: 'catch-up', max: 5 },
        startAt: '2026-01-01T00:00:00.000Z',
        endAt: '2027-01-01T00:00:00.000Z',
      },
    ],
    ['misfire skip', { task: 't', every: '1m', misfire: 'skip' }],
  ];

  test.each(cases)('gives back the input of %s', (_, input) => {
    expect(scheduleEntryToInput(resolve('entry', input))).toEqual(input);
  });

  test('writes an interval in the largest unit that divides it, and a crontab mapping as its expression', () => {
    expect(scheduleEntryToInput(resolve('e', { task: 't', every: 90 })).every).toBe('90s');
    expect(scheduleEntryToInput(resolve('e', { task: 't', every: '1.5m' })).every).toBe('90s');
    expect(scheduleEntryToInput(resolve('e', { task: 't', every: 86_400 })).every).toBe('1d');
    expect(scheduleEntryToInput(resolve('e', { task: 't', every: '0.5ms' })).every).toBe('0.5ms');
    expect(scheduleEntryToInput(resolve('e', { task: 't', cron: { hour: 7 } }, definitions({ timezone: 'Europe/Berlin' })))).toEqual({
      task: 't',
      cron: '* 7 * * *',
      timezone: 'Europe/Berlin',
    });
  });

  test('gives a JSON-safe input that resolves back to the same entry, whatever the default time zone', () => {
    const entry = resolve('e', { task: 't', cron: '0 3 * * *', at: undefined, startAt: '2026-01-01T08:00:00+08:00' }, definitions({ timezone: 'Asia/Tokyo' }));
    const input = JSON.parse(JSON.stringify(scheduleEntryToInput(entry))) as ScheduleEntryInput;
    expect(resolve('e', input, definitions({ timezone: 'UTC' }))).toEqual(entry);
  });
});
