import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Schedules } from '../../../src/beat';
import { FileScheduleStore } from '../../../src/beat/stores';
import { resolveDefinitions } from '../../../src/config';
import { DefinitionsError, UsageError } from '../../../src/errors';

const definitions = resolveDefinitions([
  {
    file: 'definitions/warren.yaml',
    content: {
      queues: [{ name: 'for_task1' }],
      defaultQueue: 'for_task1',
      schedule: { 'from-file': { task: 'app.tick', every: '10s' } },
    },
  },
]);

describe('Schedules: file entries and runtime entries side by side', () => {
  let dir: string;
  let schedules: Schedules;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'warren-schedules-'));
    schedules = new Schedules(async () => definitions, new FileScheduleStore(join(dir, 'state.json')), 'warren schedule add');
  });

  afterEach(async () => {
    await schedules.store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('lists file entries first, then runtime entries, with their effective enabled flag', async () => {
    await schedules.add('nightly', { task: 'app.report', cron: '30 2 * * *', timezone: 'America/New_York' });
    await schedules.disable('from-file');
    const listed = await schedules.list();
    expect(listed.map((e) => [e.name, e.source, e.enabled])).toEqual([
      ['from-file', 'file', false],
      ['nightly', 'runtime', true],
    ]);
    expect(listed[1].input).toEqual({ task: 'app.report', cron: '30 2 * * *', timezone: 'America/New_York' });
  });

  test('a disabled file entry is handed to beat disabled, and enabled again on enable', async () => {
    await schedules.disable('from-file');
    expect((await schedules.entries({ includeDisabled: true })).map((e) => [e.name, e.enabled])).toEqual([['from-file', false]]);
    expect(await schedules.entries()).toEqual([]);
    await schedules.enable('from-file');
    expect((await schedules.entries()).map((e) => e.name)).toEqual(['from-file']);
  });

  test('a runtime entry is checked by the rules of the files, with every problem named', async () => {
    const error = await schedules.add('bad', { task: 'app.x', every: '10 parsecs' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DefinitionsError);
    expect((error as DefinitionsError).problems.map((p) => `${p.file}: ${p.path}: ${p.message}`)).toEqual([
      'warren schedule add: schedule.bad.every: "10 parsecs" is not a duration (expected a number of seconds or a string like 250ms, 10s, 1.5m, 2h)',
    ]);
    const unknownQueue = await schedules.add('elsewhere', { task: 'app.x', every: '10s', queue: 'nope' }).catch((e: unknown) => e);
    expect((unknownQueue as DefinitionsError).problems[0].message).toBe('queue "nope" is not declared (declared queues: for_task1)');
    expect(await schedules.list()).toHaveLength(1);
  });

  test('refuses a runtime entry named like a file entry, and removing or re-adding without replace', async () => {
    await expect(schedules.add('from-file', { task: 'app.x', every: '1s' })).rejects.toThrow(
      'schedule entry "from-file" is defined in definitions/warren.yaml; change it there, or pick another name',
    );
    await expect(schedules.remove('from-file')).rejects.toThrow(UsageError);
    await schedules.add('tick', { task: 'app.x', every: '1s' });
    await expect(schedules.add('tick', { task: 'app.x', every: '2s' })).rejects.toThrow('schedule entry "tick" already exists');
    await schedules.add('tick', { task: 'app.x', every: '2s' }, { replace: true });
    expect((await schedules.show('tick')).input.every).toBe('2s');
  });

  test('removing a runtime entry takes it out of what beat fires; unknown names list the known ones', async () => {
    await schedules.add('tick', { task: 'app.x', every: '1s' });
    await schedules.remove('tick');
    expect((await schedules.entries()).map((e) => e.name)).toEqual(['from-file']);
    await expect(schedules.remove('tick')).rejects.toThrow('no schedule entry named "tick" (entries: from-file)');
  });

  test('next lists the coming planned fire times', async () => {
    const from = new Date('2026-11-23T10:00:03Z');
    expect((await schedules.next('from-file', 3, from)).map((d) => d.toISOString())).toEqual([
      '2026-11-23T10:00:10.000Z',
      '2026-11-23T10:00:20.000Z',
      '2026-11-23T10:00:30.000Z',
    ]);
  });
});
