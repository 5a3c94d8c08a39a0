import { randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ClosedError, ScheduleStoreError } from '../../errors';
import type { ScheduleEntryInput } from '../entry-input';
import { errorCode, FileLock, processExists } from './file-lock';
import type { EntryState, ScheduleStore, StoredEntry, StoredOverride } from './schedule-store';

export interface FileScheduleStoreOptions {
  /**
   * A lock file older than this is broken as abandoned (one whose process is gone, at once).
   * @defaultValue 5000
   */
  lockStaleMs?: number;
  /** How long a write waits for another process's lock. @defaultValue 15000 */
  lockTimeoutMs?: number;
}

/** The state file's path when none is given, relative to the working directory. */
export const DEFAULT_STATE_FILE = '.warren/beat-state.json';

const FORMAT = 'warren-beat-store';
const VERSION = 1;

/**
 * The file, in memory. Maps rather than objects, so an entry named `__proto__` is just a name.
 * `generation` and `revision` come first in the file so `changeToken` reads only its head.
 */
interface StoreDocument {
  generation: string;
  revision: number;
  entries: Map<string, { input: ScheduleEntryInput; updatedAt: string }>;
  overrides: Map<string, { enabled: boolean; updatedAt: string }>;
  state: Map<string, { lastPlanned: string }>;
}

/** What one change did to the document: entry changes bump the revision, state changes do not. */
type Touched = 'entries' | 'state' | 'nothing';

interface Mutation {
  readonly apply: (document: StoreDocument, now: string) => { touched: Touched; result: unknown };
  readonly resolve: (result: unknown) => void;
  readonly reject: (error: unknown) => void;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function emptyDocument(): StoreDocument {
  return { generation: randomUUID(), revision: 0, entries: new Map(), overrides: new Map(), state: new Map() };
}

function section<T>(file: string, raw: Record<string, unknown>, key: string, valid: (value: unknown) => value is T): Map<string, T> {
  const value = raw[key] ?? {};
  if (!isObject(value)) throw new ScheduleStoreError(`${file}: ${key} is not a mapping; is this warren's beat state file?`);
  const items = new Map<string, T>();
  for (const [name, item] of Object.entries(value)) {
    if (!valid(item)) throw new ScheduleStoreError(`${file}: ${key}[${JSON.stringify(name)}] is not a valid record`);
    items.set(name, item);
  }
  return items;
}

const isEntry = (value: unknown): value is { input: ScheduleEntryInput; updatedAt: string } =>
  isObject(value) && isObject(value.input) && typeof value.input.task === 'string' && typeof value.updatedAt === 'string';
const isOverride = (value: unknown): value is { enabled: boolean; updatedAt: string } =>
  isObject(value) && typeof value.enabled === 'boolean' && typeof value.updatedAt === 'string';
const isState = (value: unknown): value is { lastPlanned: string } => isObject(value) && typeof value.lastPlanned === 'string';

function parseDocument(file: string, text: string): StoreDocument {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ScheduleStoreError(`${file} is not JSON (${String(error)}); move it aside to start with an empty store`, error);
  }
  if (!isObject(raw) || raw.format !== FORMAT) throw new ScheduleStoreError(`${file} is not a warren beat state file (expected "format": "${FORMAT}")`);
  if (raw.version !== VERSION) throw new ScheduleStoreError(`${file} has version ${String(raw.version)} (expected ${VERSION})`);
  if (typeof raw.generation !== 'string' || typeof raw.revision !== 'number') {
    throw new ScheduleStoreError(`${file} has no generation or revision`);
  }
  return {
    generation: raw.generation,
    revision: raw.revision,
    entries: section(file, raw, 'entries', isEntry),
    overrides: section(file, raw, 'overrides', isOverride),
    state: section(file, raw, 'state', isState),
  };
}

function serializeDocument(document: StoreDocument): string {
  const { generation, revision } = document;
  const body = {
    format: FORMAT,
    version: VERSION,
    generation,
    revision,
    entries: Object.fromEntries(document.entries),
    overrides: Object.fromEntries(document.overrides),
    state: Object.fromEntries(document.state),
  };
  return `${JSON.stringify(body, null, 2)}\n`;
}

/** `"generation": "…", "revision": 12` near the start of the file, as `serializeDocument` writes it. */
const HEAD = /"generation":\s*"([^"]+)",\s*"revision":\s*(\d+)/;
const HEAD_BYTES = 256;

/** Sorted by name in code point order, as PostgreSQL's `COLLATE "C"` sorts. */
function byName<T>(items: Array<[string, T]>): Array<[string, T]> {
  return items.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** A JSON-safe copy: what goes into the file is exactly what comes back out. */
function jsonCopy<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/**
 * The default store: one JSON file (`.warren/beat-state.json`), shared by the beat and
 * `warren schedule ...` on the same host.
 *
 * - Every write replaces the file atomically: a temp file in the same folder is written,
 *   fsynced and renamed over it, then the folder is fsynced. A crash leaves the old or the new
 *   document, never part of one; a temp file a crash left behind is removed by the next `open()`.
 * - Every read-modify-write holds a lock file (`<file>.lock`, see {@link FileLock}), so two
 *   processes never lose each other's changes. Changes made at once in one process share one
 *   write (group commit), so a beat saving many fires in one tick writes the file once.
 * - A missing file is an empty store.
 */
export class FileScheduleStore implements ScheduleStore {
  private readonly lock: FileLock;
  private readonly directory: string;
  private opening: Promise<void> | undefined;
  private closed = false;
  private pending: Mutation[] = [];
  private flushing: Promise<void> | undefined;

  constructor(
    /** The state file. */
    readonly path: string,
    options: FileScheduleStoreOptions = {},
  ) {
    this.directory = dirname(path);
    this.lock = new FileLock(`${path}.lock`, { staleMs: options.lockStaleMs, timeoutMs: options.lockTimeoutMs });
  }

  open(): Promise<void> {
    if (this.closed) return Promise.reject(new ClosedError(`the schedule store ${this.path} is closed`));
    this.opening ??= this.prepare().catch((error: unknown) => {
      this.opening = undefined;
      throw error;
    });
    return this.opening;
  }

  private async prepare(): Promise<void> {
    try {
      await mkdir(this.directory, { recursive: true });
    } catch (error) {
      throw new ScheduleStoreError(`cannot create folder ${this.directory} for ${this.path}: ${String(error)}`, error);
    }
    await this.removeAbandonedTempFiles();
    await this.read();
  }

  /** Temp files whose writer died between writing and renaming (the pid is in the name). */
  private async removeAbandonedTempFiles(): Promise<void> {
    const prefix = `.${basename(this.path)}.`;
    for (const name of await readdir(this.directory)) {
      const match = name.startsWith(prefix) ? /\.(\d+)\.[0-9a-f-]+\.tmp$/.exec(name) : null;
      if (match === null) continue;
      const file = join(this.directory, name);
      const ageMs = await stat(file).then((found) => Date.now() - found.mtimeMs, () => 0);
      if (!processExists(Number(match[1])) || ageMs > 60_000) await rm(file, { force: true });
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.flushing;
  }

  private requireOpen(): void {
    if (this.closed) throw new ClosedError(`the schedule store ${this.path} is closed`);
    if (this.opening === undefined) throw new ClosedError(`the schedule store ${this.path} is not open (call open() first)`);
  }

  private async read(): Promise<StoreDocument> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return emptyDocument();
      throw new ScheduleStoreError(`cannot read ${this.path}: ${String(error)}`, error);
    }
    return parseDocument(this.path, text);
  }

  private async write(document: StoreDocument): Promise<void> {
    const temp = join(this.directory, `.${basename(this.path)}.${process.pid}.${randomUUID()}.tmp`);
    try {
      const handle = await open(temp, 'wx', 0o644);
      try {
        await handle.writeFile(serializeDocument(document));
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, this.path);
    } catch (error) {
      await rm(temp, { force: true });
      throw new ScheduleStoreError(`cannot write ${this.path}: ${String(error)}`, error);
    }
    // The rename is durable once the folder is; not every file system lets a folder be fsynced.
    const folder = await open(this.directory, 'r').catch(() => undefined);
    if (folder !== undefined) await folder.sync().catch(() => undefined).finally(() => folder.close());
  }

  /** Queues a change; every change queued while a write is under way goes into the next one. */
  private async mutate<T>(apply: (document: StoreDocument, now: string) => { touched: Touched; result: T }): Promise<T> {
    this.requireOpen();
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ apply, resolve: resolve as (result: unknown) => void, reject });
      this.flushing ??= this.flush().finally(() => {
        this.flushing = undefined;
      });
    });
  }

  private async flush(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      try {
        const results = await this.lock.withLock(async () => {
          const document = await this.read();
          const now = new Date().toISOString();
          const applied = batch.map((mutation) => mutation.apply(document, now));
          if (applied.some((change) => change.touched === 'entries')) document.revision += 1;
          if (applied.some((change) => change.touched !== 'nothing')) await this.write(document);
          return applied.map((change) => change.result);
        });
        batch.forEach((mutation, index) => mutation.resolve(results[index]));
      } catch (error) {
        for (const mutation of batch) mutation.reject(error);
      }
    }
  }

  async listEntries(): Promise<StoredEntry[]> {
    this.requireOpen();
    const document = await this.read();
    return byName([...document.entries]).map(([name, stored]) => ({ name, input: stored.input, updatedAt: new Date(stored.updatedAt) }));
  }

  async getEntry(name: string): Promise<StoredEntry | undefined> {
    this.requireOpen();
    const stored = (await this.read()).entries.get(name);
    return stored === undefined ? undefined : { name, input: stored.input, updatedAt: new Date(stored.updatedAt) };
  }

  async putEntry(name: string, input: ScheduleEntryInput): Promise<void> {
    const copy = jsonCopy(input);
    return this.mutate((document, now) => {
      document.entries.set(name, { input: copy, updatedAt: now });
      return { touched: 'entries', result: undefined };
    });
  }

  async removeEntry(name: string): Promise<boolean> {
    return this.mutate((document) => {
      const removed = document.entries.delete(name);
      if (removed) document.state.delete(name);
      return { touched: removed ? 'entries' : 'nothing', result: removed };
    });
  }

  async setEnabled(name: string, enabled: boolean): Promise<boolean> {
    return this.mutate((document, now) => {
      const stored = document.entries.get(name);
      if (stored === undefined) return { touched: 'nothing', result: false };
      const input = { ...stored.input };
      if (enabled) delete input.enabled;
      else input.enabled = false;
      document.entries.set(name, { input, updatedAt: now });
      return { touched: 'entries', result: true };
    });
  }

  async setOverride(name: string, enabled: boolean): Promise<void> {
    return this.mutate((document, now) => {
      document.overrides.set(name, { enabled, updatedAt: now });
      return { touched: 'entries', result: undefined };
    });
  }

  async clearOverride(name: string): Promise<boolean> {
    return this.mutate((document) => {
      const removed = document.overrides.delete(name);
      return { touched: removed ? 'entries' : 'nothing', result: removed };
    });
  }

  async listOverrides(): Promise<StoredOverride[]> {
    this.requireOpen();
    const document = await this.read();
    return byName([...document.overrides]).map(([name, stored]) => ({ name, enabled: stored.enabled, updatedAt: new Date(stored.updatedAt) }));
  }

  async loadState(): Promise<Record<string, EntryState>> {
    this.requireOpen();
    const document = await this.read();
    const state: Record<string, EntryState> = Object.create(null) as Record<string, EntryState>;
    for (const [name, stored] of document.state) state[name] = { lastPlanned: new Date(stored.lastPlanned) };
    return state;
  }

  async saveState(name: string, lastPlanned: Date): Promise<void> {
    const planned = lastPlanned.toISOString();
    return this.mutate((document) => {
      const stored = document.state.get(name);
      if (stored !== undefined && new Date(stored.lastPlanned).getTime() >= lastPlanned.getTime()) return { touched: 'nothing', result: undefined };
      document.state.set(name, { lastPlanned: planned });
      return { touched: 'state', result: undefined };
    });
  }

  async forgetState(name: string): Promise<void> {
    return this.mutate((document) => ({ touched: document.state.delete(name) ? 'state' : 'nothing', result: undefined }));
  }

  /** `<generation>:<revision>`, read from the first bytes of the file; `empty:0` when there is no file. */
  async changeToken(): Promise<string> {
    this.requireOpen();
    let head: string;
    try {
      const handle = await open(this.path, 'r');
      try {
        const buffer = Buffer.alloc(HEAD_BYTES);
        const { bytesRead } = await handle.read(buffer, 0, HEAD_BYTES, 0);
        head = buffer.subarray(0, bytesRead).toString('utf8');
      } finally {
        await handle.close();
      }
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return 'empty:0';
      throw new ScheduleStoreError(`cannot read ${this.path}: ${String(error)}`, error);
    }
    const match = HEAD.exec(head);
    if (match !== null) return `${match[1]}:${match[2]}`;
    const document = await this.read();
    return `${document.generation}:${document.revision}`;
  }
}
