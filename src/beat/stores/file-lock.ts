import { randomUUID } from 'node:crypto';
import { link, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { ScheduleStoreError } from '../../errors';

export interface FileLockOptions {
  /**
   * A lock file older than this is taken to belong to a holder that died or hung, and is
   * broken. One whose holder is a process on this host that no longer exists is broken at once.
   * @defaultValue 5000
   */
  staleMs?: number;
  /** How long `withLock` waits for a live holder before it fails. @defaultValue 15000 */
  timeoutMs?: number;
}

/** What a lock file says about its holder. */
interface Holder {
  readonly pid: number;
  readonly host: string;
  readonly nonce: string;
}

/** The `code` of a Node system error (`ENOENT`). Not `instanceof Error`: Jest's sandbox gives core errors another realm's Error. */
export function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}

function parseHolder(text: string): Holder | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const { pid, host, nonce } = parsed as Record<string, unknown>;
    if (typeof pid !== 'number' || typeof host !== 'string' || typeof nonce !== 'string') return undefined;
    return { pid, host, nonce };
  } catch {
    return undefined;
  }
}

/** Whether process `pid` exists on this host (EPERM: it exists but is not ours). */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errorCode(error) === 'EPERM';
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * A lock between processes on one host (or one shared folder): a file created with
 * `O_CREAT | O_EXCL` is held, deleting it releases. Holds are meant to be short (a
 * read-modify-write of a small file), so a lock file older than `staleMs`, or one whose holder
 * process is gone, is broken.
 *
 * Breaking renames the stale file aside and checks it was the one judged stale; if another
 * breaker replaced it in between, the fresh lock is put back.
 */
export class FileLock {
  private readonly staleMs: number;
  private readonly timeoutMs: number;

  constructor(
    readonly path: string,
    options: FileLockOptions = {},
  ) {
    this.staleMs = options.staleMs ?? 5000;
    this.timeoutMs = options.timeoutMs ?? 15_000;
  }

  /** Runs `work` while holding the lock; releases it whether `work` succeeds or not. */
  async withLock<T>(work: () => Promise<T>): Promise<T> {
    const nonce = await this.acquire();
    try {
      return await work();
    } finally {
      await this.release(nonce);
    }
  }

  private async acquire(): Promise<string> {
    const holder: Holder = { pid: process.pid, host: hostname(), nonce: randomUUID() };
    const deadline = Date.now() + this.timeoutMs;
    for (let attempt = 0; ; attempt += 1) {
      try {
        const handle = await open(this.path, 'wx');
        try {
          await handle.writeFile(JSON.stringify(holder));
        } finally {
          await handle.close();
        }
        return holder.nonce;
      } catch (error) {
        if (errorCode(error) !== 'EEXIST') throw new ScheduleStoreError(`cannot create lock file ${this.path}: ${String(error)}`, error);
      }
      if (await this.breakIfStale()) continue;
      if (Date.now() > deadline) {
        const current = parseHolder(await readFile(this.path, 'utf8').catch(() => ''));
        const by = current === undefined ? '' : ` by process ${current.pid} on ${current.host}`;
        throw new ScheduleStoreError(`lock file ${this.path} is held${by} for more than ${this.timeoutMs} ms`);
      }
      // Short holds: poll fast first, then back off a little, with jitter so two waiters interleave.
      await sleep(Math.min(2 + attempt, 25) * (0.5 + Math.random()));
    }
  }

  private async release(nonce: string): Promise<void> {
    const current = parseHolder(await readFile(this.path, 'utf8').catch(() => ''));
    // Someone broke our lock as stale and holds their own now: theirs is not ours to delete.
    if (current?.nonce !== nonce) return;
    await unlink(this.path).catch(() => undefined);
  }

  /** Breaks the lock if it is stale; true if it is gone (broken here or released meanwhile). */
  private async breakIfStale(): Promise<boolean> {
    let text: string;
    let modifiedMs: number;
    try {
      [text, modifiedMs] = await Promise.all([readFile(this.path, 'utf8'), stat(this.path).then((found) => found.mtimeMs)]);
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return true;
      throw new ScheduleStoreError(`cannot read lock file ${this.path}: ${String(error)}`, error);
    }
    const holder = parseHolder(text);
    const holderGone = holder !== undefined && holder.host === hostname() && !processExists(holder.pid);
    if (!holderGone && Date.now() - modifiedMs < this.staleMs) return false;
    const aside = `${this.path}.stale-${randomUUID()}`;
    try {
      await rename(this.path, aside);
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return true;
      throw new ScheduleStoreError(`cannot break stale lock file ${this.path}: ${String(error)}`, error);
    }
    const moved = await readFile(aside, 'utf8').catch(() => '');
    if (moved !== text) await link(aside, this.path).catch(() => undefined);
    await unlink(aside).catch(() => undefined);
    return true;
  }
}
