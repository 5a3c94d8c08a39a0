// The module object itself (not an import-star copy), so jest.spyOn can replace rename in it.
import fsPromises = require('node:fs/promises');
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClosedError } from '../../../../src/errors';
import { FileScheduleStore } from '../../../../src/beat/stores/file-schedule-store';
import { ScheduleStoreError } from '../../../../src/errors';
import { scheduleStoreContract, temporaryFileStores } from './schedule-store-contract';

let dir: string;
let file: string;
const opened: FileScheduleStore[] = [];

async function openStore(options: ConstructorParameters<typeof FileScheduleStore>[1] = {}): Promise<FileScheduleStore> {
  const store = new FileScheduleStore(file, options);
  await store.open();
  opened.push(store);
  return store;
}

/** A pid that is not running: far above any pid this machine hands out. */
const DEAD_PID = 2 ** 22 + 12345;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'warren-store-'));
  file = join(dir, 'state', 'beat-state.json');
});

afterEach(async () => {
  jest.restoreAllMocks();
  await Promise.all(opened.splice(0).map((store) => store.close()));
  rmSync(dir, { recursive: true, force: true });
});

describe('the ScheduleStore contract', () => {
  const stores = temporaryFileStores();
  afterAll(() => stores.remove());
  scheduleStoreContract(stores);
});

describe('entries, overrides and state', () => {
  test('treats an entry named __proto__ as a name like any other', async () => {
    const store = await openStore();
    await store.putEntry('__proto__', { task: 't', every: 1 });
    await store.saveState('__proto__', new Date(5000));
    expect((await store.listEntries()).map((entry) => entry.name)).toEqual(['__proto__']);
    expect(Object.keys(await store.loadState())).toEqual(['__proto__']);
  });

  test('starts empty when the file does not exist, creating only its folder', async () => {
    const store = await openStore();
    expect(existsSync(join(dir, 'state'))).toBe(true);
    expect(existsSync(file)).toBe(false);
    expect(await store.listEntries()).toEqual([]);
    expect(await store.listOverrides()).toEqual([]);
    expect({ ...(await store.loadState()) }).toEqual({});
  });
});

describe('change token', () => {
  test('changes when the file is deleted and written anew', async () => {
    const store = await openStore();
    await store.putEntry('a', { task: 't', every: 1 });
    const first = await store.changeToken();
    rmSync(file);
    expect(await store.changeToken()).toBe('empty:0');
    await store.putEntry('a', { task: 't', every: 1 });
    const second = await store.changeToken();
    expect(second).not.toBe(first);
    expect(second).toMatch(/:1$/);
  });

  test('is the generation and revision written at the head of the file', async () => {
    const store = await openStore();
    await store.putEntry('a', { task: 't', every: 1 });
    const document = JSON.parse(readFileSync(file, 'utf8')) as { generation: string; revision: number };
    expect(await store.changeToken()).toBe(`${document.generation}:${document.revision}`);
  });
});

describe('atomic writes', () => {
  test('a write that fails before the rename leaves the previous document whole and no temp file', async () => {
    const store = await openStore();
    await store.putEntry('kept', { task: 't', every: 1 });
    const before = readFileSync(file, 'utf8');
    jest.spyOn(fsPromises, 'rename').mockRejectedValueOnce(Object.assign(new Error('EIO: simulated crash before rename'), { code: 'EIO' }));

    await expect(store.putEntry('lost', { task: 't', every: 2 })).rejects.toThrow(ScheduleStoreError);
    expect(readFileSync(file, 'utf8')).toBe(before);
    expect(readdirSync(join(dir, 'state')).filter((name) => name.endsWith('.tmp'))).toEqual([]);
    expect((await store.listEntries()).map((entry) => entry.name)).toEqual(['kept']);
  });

  test('ignores a half-written temp file a crashed writer left, and the next open removes it', async () => {
    const store = await openStore();
    await store.putEntry('kept', { task: 't', every: 1 });
    const abandoned = join(dir, 'state', `.beat-state.json.${DEAD_PID}.0f0f0f0f-0000-4000-8000-000000000000.tmp`);
    writeFileSync(abandoned, '{"format":"warren-beat-store","version":1,"generation":"x","revision":9,"entr');

    expect((await store.listEntries()).map((entry) => entry.name)).toEqual(['kept']);
    await openStore();
    expect(existsSync(abandoned)).toBe(false);
  });

  test('writes through a temp file in the same folder, renamed over the document', async () => {
    const store = await openStore();
    const rename = jest.spyOn(fsPromises, 'rename');
    await store.putEntry('a', { task: 't', every: 1 });
    expect(rename).toHaveBeenCalledTimes(1);
    const [from, to] = rename.mock.calls[0];
    expect(to).toBe(file);
    expect(String(from)).toMatch(new RegExp(`^${join(dir, 'state')}/\\.beat-state\\.json\\.${process.pid}\\.[0-9a-f-]+\\.tmp$`));
  });

  test('refuses a file that is not warren\'s, naming it', async () => {
    writeFileSync(join(dir, 'other.json'), '{"hello": 1}');
    file = join(dir, 'other.json');
    await expect(openStore()).rejects.toThrow(`${file} is not a warren beat state file (expected "format": "warren-beat-store")`);
    writeFileSync(file, '{ not json');
    await expect(openStore()).rejects.toThrow(ScheduleStoreError);
  });
});

describe('several writers', () => {
  test('changes made at once in one process share one write', async () => {
    const store = await openStore();
    await store.putEntry('a', { task: 't', every: 1 });
    const rename = jest.spyOn(fsPromises, 'rename');
    await Promise.all([...Array(100).keys()].map((index) => store.saveState(`entry-${index}`, new Date(index * 1000 + 1))));
    expect(Object.keys(await store.loadState())).toHaveLength(100);
    expect(rename.mock.calls.length).toBeLessThanOrEqual(2);
  });

  test('breaks a lock file whose process is gone at once', async () => {
    const store = await openStore({ lockStaleMs: 60_000, lockTimeoutMs: 1000 });
    writeFileSync(`${file}.lock`, JSON.stringify({ pid: DEAD_PID, host: hostname(), nonce: 'dead' }));
    await store.putEntry('a', { task: 't', every: 1 });
    expect((await store.getEntry('a'))?.input).toEqual({ task: 't', every: 1 });
    expect(existsSync(`${file}.lock`)).toBe(false);
  });

  test('waits for a live lock, and breaks it once it is older than lockStaleMs', async () => {
    const store = await openStore({ lockStaleMs: 300 });
    writeFileSync(`${file}.lock`, JSON.stringify({ pid: process.pid, host: hostname(), nonce: 'someone-else' }));
    const started = Date.now();
    await store.putEntry('a', { task: 't', every: 1 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(await store.getEntry('a')).toBeDefined();
  });

  test('fails a write with the holder named when a live lock outlasts lockTimeoutMs', async () => {
    const store = await openStore({ lockStaleMs: 60_000, lockTimeoutMs: 200 });
    writeFileSync(`${file}.lock`, JSON.stringify({ pid: process.pid, host: hostname(), nonce: 'someone-else' }));
    const now = new Date();
    utimesSync(`${file}.lock`, now, now);
    await expect(store.putEntry('a', { task: 't', every: 1 })).rejects.toThrow(
      `lock file ${file}.lock is held by process ${process.pid} on ${hostname()} for more than 200 ms`,
    );
    expect(readFileSync(`${file}.lock`, 'utf8')).toContain('someone-else');
  });
});

describe('lifecycle', () => {
  test('refuses calls before open and after close', async () => {
    const store = new FileScheduleStore(file);
    await expect(store.listEntries()).rejects.toThrow(ClosedError);
    await expect(store.putEntry('a', { task: 't', every: 1 })).rejects.toThrow('is not open (call open() first)');
    await store.open();
    await store.close();
    await expect(store.changeToken()).rejects.toThrow(ClosedError);
  });

  test('does not touch the disk before open', () => {
    new FileScheduleStore(file);
    expect(existsSync(join(dir, 'state'))).toBe(false);
  });
});
