/** Celery's `REVOKES_MAX`: revoked ids kept at most; past it the oldest go. */
export const REVOKES_MAX = 50_000;
/** Celery's `REVOKE_EXPIRES`: seconds a revoked id is kept. */
export const REVOKE_EXPIRES_SECONDS = 10_800;

/** Seconds on the machine's monotonic clock, the one Python's `time.monotonic()` reads on Linux. */
export function monotonicSeconds(): number {
  return Number(process.hrtime.bigint()) / 1e9;
}

/**
 * The ids of revoked tasks, bounded as Celery's `LimitedSet(maxlen=50000, expires=10800)`:
 * at most 50,000 ids, each kept three hours from when it was revoked. Times are seconds on the
 * monotonic clock, as Celery's, since mingle (`hello`) exchanges them with Python workers:
 * `{id: [time, id]}`, as Python's `LimitedSet._data` is sent.
 */
export class RevokedIds {
  /** Id -> when it was revoked (monotonic seconds). */
  private readonly ids = new Map<string, number>();

  constructor(
    private readonly maxlen = REVOKES_MAX,
    private readonly expiresSeconds = REVOKE_EXPIRES_SECONDS,
    private readonly now: () => number = monotonicSeconds,
  ) {}

  get size(): number {
    return this.ids.size;
  }

  has(id: string): boolean {
    const at = this.ids.get(id);
    if (at === undefined) return false;
    if (at + this.expiresSeconds <= this.now()) {
      this.ids.delete(id);
      return false;
    }
    return true;
  }

  /** Revokes `id` now (again: its three hours start anew), or at `at` (monotonic seconds). */
  add(id: string, at = this.now()): void {
    this.ids.delete(id);
    this.ids.set(id, at);
    if (this.ids.size > this.maxlen) this.purge();
  }

  /**
   * Takes in ids another worker sent (mingle): Python's `{id: [time, id]}` or `{id: time}`, or a
   * list of ids (revoked now). A time from another machine's monotonic clock means nothing
   * here (Celery takes it as it is): one later than now is taken as now, so it cannot outlive
   * its three hours here; one older than three hours is dropped. Returns how many were taken;
   * entries that are not of these shapes are skipped.
   */
  update(other: unknown): number {
    const now = this.now();
    let taken = 0;
    const take = (id: unknown, at: number): void => {
      if (typeof id !== 'string' || id === '' || !Number.isFinite(at) || at + this.expiresSeconds <= now) return;
      const known = this.ids.get(id);
      // A fresher local revoke wins over an older copy of the same id.
      if (known !== undefined && known >= at) return;
      this.add(id, Math.min(at, now));
      taken += 1;
    };
    if (Array.isArray(other)) {
      for (const id of other) take(id, now);
    } else if (typeof other === 'object' && other !== null) {
      for (const [id, value] of Object.entries(other)) {
        const at = Array.isArray(value) ? value[0] : value;
        if (typeof at === 'number') take(id, at);
      }
    }
    this.purge();
    return taken;
  }

  /** Drops expired ids, then the oldest ones past `maxlen`. */
  purge(): void {
    const now = this.now();
    for (const [id, at] of this.ids) if (at + this.expiresSeconds <= now) this.ids.delete(id);
    if (this.ids.size <= this.maxlen) return;
    // Ids taken from other workers carry their own times, so the oldest are not always first.
    const oldest = [...this.ids].sort((a, b) => a[1] - b[1]).slice(0, this.ids.size - this.maxlen);
    for (const [id] of oldest) this.ids.delete(id);
  }

  /** The ids, oldest first. */
  list(): string[] {
    this.purge();
    return [...this.ids].sort((a, b) => a[1] - b[1]).map(([id]) => id);
  }

  /**
   * Python's `LimitedSet._data` shape for `hello` replies: `{id: [time, id]}`. Each time is a
   * non-integer number, since Python's `LimitedSet.update` refuses anything but a float and
   * JSON writes a whole number without a fraction.
   */
  toMingle(): Record<string, [number, string]> {
    this.purge();
    const out: Record<string, [number, string]> = {};
    for (const [id, at] of this.ids) out[id] = [floatish(at), id];
    return out;
  }

  /** Entries with wall-clock times (ms since the epoch), for a state file that outlives a reboot. */
  toWallClock(wallNow = Date.now()): Array<[string, number]> {
    this.purge();
    const now = this.now();
    return [...this.ids].map(([id, at]) => [id, Math.round(wallNow - (now - at) * 1000)]);
  }

  /** Takes in entries written by {@link toWallClock}. */
  fromWallClock(entries: ReadonlyArray<readonly [string, number]>, wallNow = Date.now()): number {
    const now = this.now();
    const sorted = [...entries].filter(([id, at]) => typeof id === 'string' && Number.isFinite(at)).sort((a, b) => a[1] - b[1]);
    let taken = 0;
    for (const [id, at] of sorted) {
      const monotonic = now - (wallNow - at) / 1000;
      if (monotonic + this.expiresSeconds <= now) continue;
      this.add(id, Math.min(monotonic, now));
      taken += 1;
    }
    return taken;
  }
}

/** `n`, nudged off a whole number by a microsecond: JSON then writes it with a fraction, which Python reads as a float. */
export function floatish(n: number): number {
  return Number.isInteger(n) ? n + 1e-6 : n;
}
