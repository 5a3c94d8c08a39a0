import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { StateDbError } from '../errors';
import type { Logger } from '../logging/logger';
import type { LamportClock } from './lamport-clock';
import type { RevokedIds } from './revoked-ids';

/** What the file holds: warren's own JSON (Python's `--statedb` is a shelve of pickles, which Node cannot read). */
interface StateDocument {
  warren: 'worker-state';
  version: 1;
  /** Revoked task ids with when they were revoked, in ms since the epoch. */
  revoked: Array<[string, number]>;
  clock: number;
}

/** How long after a revoke the file is written (one write for a burst of revokes). */
const SAVE_DELAY_MS = 1000;

/**
 * `--statedb <file>`: keeps a worker's revoked task ids (and its logical clock) across
 * restarts, as Celery's `Persistent` does. Read when the worker starts; written a second after
 * revokes (and after a mingle that brought new ones) and when it stops, atomically (a
 * temporary file renamed over it), so a crash leaves the old state or the new, never half.
 * Times are stored as wall-clock times, so the three-hour expiry of each id holds across a
 * reboot.
 */
export class StateDb {
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    readonly path: string,
    private readonly revoked: RevokedIds,
    private readonly clock: LamportClock,
    private readonly logger: Logger,
  ) {}

  /**
   * Opens the file (a missing one is an empty state) and loads it into `revoked` and `clock`.
   * @throws StateDbError when it exists but is not a warren state file, or cannot be read.
   */
  static async open(path: string, revoked: RevokedIds, clock: LamportClock, logger: Logger): Promise<StateDb> {
    const db = new StateDb(path, revoked, clock, logger.child({ component: 'statedb' }));
    await db.load();
    return db;
  }

  private async load(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        this.logger.info({ path: this.path }, 'no worker state file yet; it is written when tasks are revoked');
        return;
      }
      throw new StateDbError(`cannot read the worker state file ${this.path}: ${(err as Error).message}`, err);
    }
    let document: Partial<StateDocument>;
    try {
      document = JSON.parse(text) as Partial<StateDocument>;
    } catch (err) {
      throw new StateDbError(`the worker state file ${this.path} is not warren's (not JSON: ${(err as Error).message}); a Python worker's --statedb cannot be shared`, err);
    }
    if (document?.warren !== 'worker-state' || document.version !== 1 || !Array.isArray(document.revoked)) {
      throw new StateDbError(`the worker state file ${this.path} is not warren's (expected {"warren": "worker-state", "version": 1, "revoked": [...]})`);
    }
    const taken = this.revoked.fromWallClock(document.revoked.filter((entry): entry is [string, number] => Array.isArray(entry)));
    this.clock.adjust(typeof document.clock === 'number' ? document.clock : 0);
    this.logger.info({ path: this.path, revoked: taken }, 'worker state loaded');
  }

  /** Writes the state a second from now (a burst of revokes is one write). */
  scheduleSave(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.save().catch((err: unknown) => this.logger.error({ path: this.path, err: (err as Error).message }, 'could not write the worker state file'));
    }, SAVE_DELAY_MS);
    this.timer.unref();
  }

  /** Writes the state now (after any write under way). */
  save(): Promise<void> {
    const document: StateDocument = { warren: 'worker-state', version: 1, revoked: this.revoked.toWallClock(), clock: this.clock.value };
    this.writing = this.writing.catch(() => undefined).then(() => this.write(document));
    return this.writing;
  }

  /** The last write, at stop. */
  async close(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.save();
  }

  private async write(document: StateDocument): Promise<void> {
    const temp = `${this.path}.${process.pid}.tmp`;
    try {
      await mkdir(dirname(this.path), { recursive: true });
      const handle = await open(temp, 'w');
      try {
        await handle.writeFile(JSON.stringify(document));
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, this.path);
    } catch (err) {
      await rm(temp, { force: true }).catch(() => undefined);
      throw new StateDbError(`cannot write the worker state file ${this.path}: ${(err as Error).message}`, err);
    }
  }
}
