/**
 * The behaviour every ScheduleStore shares, as tests. The file store's unit tests and the
 * integration tests (file and PostgreSQL) run the same ones.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileScheduleStore } from '../../../../src/beat/stores/file-schedule-store';
import type { ScheduleStore } from '../../../../src/beat/stores/schedule-store';

/** One kind of store under test. */
export interface StoreKind {
  readonly name: string;
  /** A store on the same data as every other store this kind made in the current test. */
  make(): ScheduleStore;
  /** Empties the data before each test. */
  reset(): Promise<void>;
}

/** File stores on one file in a temporary folder, made on first use; `remove()` deletes the folder. */
export function temporaryFileStores(): StoreKind & { remove(): void } {
  let folder: string | undefined;
  const file = () => join((folder ??= mkdtempSync(join(tmpdir(), 'warren-store-contract-'))), 'beat-state.json');
  return {
    name: 'file',
    make: () => new FileScheduleStore(file()),
    reset: async () => rmSync(file(), { force: true }),
    remove: () => {
      if (folder !== undefined) rmSync(folder, { recursive: true, force: true });
    },
  };
}

/** Defines the contract tests in the enclosing `describe`, against stores of `kind`. */
export function scheduleStoreContract(kind: StoreKind): void {
  const opened: ScheduleStore[] = [];

  async function openStore(): Promise<ScheduleStore> {
    const store = kind.make();
    await store.open();
    opened.push(store);
    return store;
  }

  beforeEach(() => kind.reset());
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((store) => store.close()));
  });

  test('opens twice at once, and again later, without harm', async () => {
    const store = kind.make();
    opened.push(store);
    await Promise.all([store.open(), store.open(), openStore()]);
    await store.open();
    expect(await store.listEntries()).toEqual([]);
  });

  test('round-trips runtime entries exactly as given, sorted by name', async () => {
    const store = await openStore();
    const deal = { task: 'app1.tasks1.deal1', every: '30s', args: ['hello', { nested: [1.5, null, true] }], kwargs: { zeta: 1, alpha: 'ü' } };
    await store.putEntry('deal', deal);
    await store.putEntry('Bravo', { task: 't', cron: '30 7 * * 1', timezone: 'Asia/Shanghai' });
    await store.putEntry('alpha', { task: 't', at: '2026-12-01T08:00:00+08:00' });

    const entries = await (await openStore()).listEntries();
    expect(entries.map((entry) => entry.name)).toEqual(['Bravo', 'alpha', 'deal']);
    const stored = entries[2];
    expect(JSON.stringify(stored.input)).toBe(JSON.stringify(deal));
    expect(stored.updatedAt.getTime()).toBeGreaterThan(Date.now() - 60_000);
    expect(await store.getEntry('nope')).toBeUndefined();
  });

  test('replaces an entry on a second put and keeps its state', async () => {
    const store = await openStore();
    await store.putEntry('tick', { task: 't', every: 1 });
    await store.saveState('tick', new Date('2026-03-01T10:00:00.123Z'));
    await store.putEntry('tick', { task: 't', every: 5 });
    expect((await store.getEntry('tick'))?.input).toEqual({ task: 't', every: 5 });
    expect((await store.loadState()).tick.lastPlanned).toEqual(new Date('2026-03-01T10:00:00.123Z'));
  });

  test('removes an entry with its state; false for a name with no runtime entry', async () => {
    const store = await openStore();
    await store.putEntry('tick', { task: 't', every: 1 });
    await store.saveState('tick', new Date(1_000));
    await store.saveState('from-file', new Date(2_000));
    expect(await store.removeEntry('tick')).toBe(true);
    expect(await store.removeEntry('tick')).toBe(false);
    expect(await store.listEntries()).toEqual([]);
    expect({ ...(await store.loadState()) }).toEqual({ 'from-file': { lastPlanned: new Date(2_000) } });
  });

  test('disables a runtime entry in its input, and overrides a file entry separately', async () => {
    const store = await openStore();
    await store.putEntry('runtime', { task: 't', every: 1 });
    expect(await store.setEnabled('runtime', false)).toBe(true);
    expect((await store.getEntry('runtime'))?.input).toEqual({ task: 't', every: 1, enabled: false });
    expect(await store.setEnabled('runtime', true)).toBe(true);
    expect((await store.getEntry('runtime'))?.input).toEqual({ task: 't', every: 1 });
    expect(await store.setEnabled('from-file', false)).toBe(false);

    await store.setOverride('from-file', false);
    await store.setOverride('another', true);
    await store.setOverride('from-file', true);
    expect((await store.listOverrides()).map(({ name, enabled }) => [name, enabled])).toEqual([
      ['another', true],
      ['from-file', true],
    ]);
    expect(await store.clearOverride('another')).toBe(true);
    expect(await store.clearOverride('another')).toBe(false);
    expect((await store.listOverrides()).map(({ name }) => name)).toEqual(['from-file']);
  });

  test('keeps the latest planned time per entry, to the millisecond, and forgets it on request', async () => {
    const store = await openStore();
    await store.saveState('a', new Date('2026-03-08T07:00:00.001Z'));
    await store.saveState('a', new Date('2026-03-08T06:59:59.999Z'));
    await store.saveState('b', new Date('2026-03-08T07:00:00.250Z'));
    expect({ ...(await (await openStore()).loadState()) }).toEqual({
      a: { lastPlanned: new Date('2026-03-08T07:00:00.001Z') },
      b: { lastPlanned: new Date('2026-03-08T07:00:00.250Z') },
    });
    await store.forgetState('a');
    expect(Object.keys(await store.loadState())).toEqual(['b']);
  });

  test('changes its token on every change to entries or overrides, seen from another instance, and not on state saves', async () => {
    const writer = await openStore();
    const watcher = await openStore();
    const tokens = [await watcher.changeToken()];
    const changes: Array<() => Promise<unknown>> = [
      () => writer.putEntry('a', { task: 't', every: 1 }),
      () => writer.putEntry('a', { task: 't', every: 2 }),
      () => writer.setEnabled('a', false),
      () => writer.setOverride('f', false),
      () => writer.setOverride('f', true),
      () => writer.clearOverride('f'),
      () => writer.removeEntry('a'),
    ];
    for (const change of changes) {
      await change();
      tokens.push(await watcher.changeToken());
    }
    expect(new Set(tokens).size).toBe(changes.length + 1);

    const settled = await watcher.changeToken();
    await writer.saveState('a', new Date());
    await writer.forgetState('a');
    await writer.removeEntry('not-there');
    await writer.clearOverride('not-there');
    expect(await watcher.changeToken()).toBe(settled);
  });

  test('two instances interleaving 50 puts each lose none', async () => {
    const first = await openStore();
    const second = await openStore();
    const puts: Array<Promise<void>> = [];
    for (let index = 0; index < 50; index += 1) {
      puts.push(first.putEntry(`first-${index}`, { task: 't', every: index + 1 }));
      puts.push(second.putEntry(`second-${index}`, { task: 't', every: index + 1 }));
      if (index % 10 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(puts);
    const entries = await (await openStore()).listEntries();
    expect(entries).toHaveLength(100);
    expect(entries.find((entry) => entry.name === 'second-49')?.input).toEqual({ task: 't', every: 50 });
  });

  test('answers changeToken in a few milliseconds with 1,000 entries', async () => {
    const store = await openStore();
    await Promise.all([...Array(1000).keys()].map((index) => store.putEntry(`entry-${index}`, { task: 't', every: index + 1, args: ['x'.repeat(50)] })));
    await store.changeToken();
    const started = process.hrtime.bigint();
    for (let round = 0; round < 20; round += 1) await store.changeToken();
    const averageMs = Number(process.hrtime.bigint() - started) / 1e6 / 20;
    expect(averageMs).toBeLessThan(20);
  });
}
