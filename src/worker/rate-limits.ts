import type { Delivery } from './delivery';

/**
 * A task's rate limit in starts per second, from Celery's spellings: `'10/s'`, `'100/m'`,
 * `'1000/h'` (only the unit's first letter counts, so `'5/min'` and `'5/hour'` work), or a number
 * (per second). `0`, `'0'` and `''` mean no limit, and give 0.
 * @throws RangeError saying what was wrong, for anything else
 */
export function parseRateLimit(value: unknown): number {
  const fail = (): never => {
    throw new RangeError(`a rate limit is a number of tasks per second, or a string like '10/s', '100/m' or '1000/h' (got ${JSON.stringify(value)})`);
  };
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : fail();
  if (typeof value !== 'string') return fail();
  const text = value.trim();
  if (text === '') return 0;
  const [count, unit, ...rest] = text.split('/');
  if (rest.length > 0 || !/^\d+(\.\d+)?$/.test(count.trim())) return fail();
  const n = Number(count);
  if (unit === undefined) return n;
  const per = { s: 1, m: 60, h: 3600 }[unit.trim().charAt(0)];
  return per === undefined ? fail() : n / per;
}

/** One task's limit and the deliveries that wait for it, oldest first. */
interface Bucket {
  /** Milliseconds between two starts. */
  intervalMs: number;
  /** When the next start may be (ms since the epoch). */
  nextAt: number;
  readonly waiting: Delivery[];
  timer: NodeJS.Timeout | undefined;
}

/**
 * Celery's task rate limits, per worker: a task limited to N per second starts at most once every
 * 1/N s in this worker (a token bucket of one token, as Celery's). A delivery that comes sooner
 * waits here, in arrival order, outside the worker's slots: other tasks go on running beside it.
 * It stays unacknowledged while it waits, so it counts against the prefetch, as in Celery.
 */
export class RateLimits {
  private readonly buckets = new Map<string, Bucket>();
  /** Limits set by remote control (`rate_limit`), over the tasks' own; 0 lifts a task's limit. */
  private readonly overrides = new Map<string, number>();

  /**
   * @param limitOf a task's own limit, in starts per second (0 or undefined: none)
   * @param release takes a delivery whose turn came
   */
  constructor(
    private readonly limitOf: (taskName: string) => number | undefined,
    private readonly release: (delivery: Delivery) => void,
  ) {}

  /** The limit in force for a task, in starts per second; 0 when there is none. */
  limit(taskName: string): number {
    return this.overrides.get(taskName) ?? this.limitOf(taskName) ?? 0;
  }

  /**
   * True when `delivery` (of task `taskName`) must wait for its turn: it is kept, and given to
   * `release` when the turn comes. False when it may start now (its start is counted).
   */
  hold(delivery: Delivery, taskName: string): boolean {
    let bucket = this.buckets.get(taskName);
    if (bucket === undefined) {
      const perSecond = this.limit(taskName);
      if (perSecond <= 0) return false;
      bucket = { intervalMs: 1000 / perSecond, nextAt: 0, waiting: [], timer: undefined };
      this.buckets.set(taskName, bucket);
    }
    const now = Date.now();
    if (bucket.waiting.length === 0 && now >= bucket.nextAt) {
      bucket.nextAt = now + bucket.intervalMs;
      return false;
    }
    bucket.waiting.push(delivery);
    this.arm(bucket);
    return true;
  }

  /**
   * Sets a task's limit on this worker (remote control `rate_limit`); `perSecond` 0 lifts it.
   * What waits is released at the new pace (at once, when lifted).
   */
  set(taskName: string, perSecond: number): void {
    this.overrides.set(taskName, perSecond);
    const bucket = this.buckets.get(taskName);
    if (bucket === undefined) return;
    clearTimeout(bucket.timer);
    bucket.timer = undefined;
    if (perSecond <= 0) {
      this.buckets.delete(taskName);
      for (const delivery of bucket.waiting.splice(0)) this.release(delivery);
      return;
    }
    bucket.intervalMs = 1000 / perSecond;
    bucket.nextAt = Math.min(bucket.nextAt, Date.now() + bucket.intervalMs);
    this.arm(bucket);
  }

  /** The deliveries that wait, for `inspect reserved`. */
  waiting(): Delivery[] {
    return [...this.buckets.values()].flatMap((bucket) => bucket.waiting);
  }

  /** Takes out the waiting deliveries that `which` picks (all by default): stop, a closed channel. */
  take(which: (delivery: Delivery) => boolean = () => true): Delivery[] {
    const taken: Delivery[] = [];
    for (const bucket of this.buckets.values()) {
      for (let i = bucket.waiting.length - 1; i >= 0; i -= 1) {
        if (which(bucket.waiting[i])) taken.unshift(...bucket.waiting.splice(i, 1));
      }
      if (bucket.waiting.length === 0) {
        clearTimeout(bucket.timer);
        bucket.timer = undefined;
      }
    }
    return taken;
  }

  /** Releases the bucket's next delivery at its time, and so on while others wait. */
  private arm(bucket: Bucket): void {
    if (bucket.timer !== undefined || bucket.waiting.length === 0) return;
    bucket.timer = setTimeout(() => {
      bucket.timer = undefined;
      const next = bucket.waiting.shift();
      if (next === undefined) return;
      bucket.nextAt = Date.now() + bucket.intervalMs;
      this.arm(bucket);
      this.release(next);
    }, Math.max(0, bucket.nextAt - Date.now()));
  }
}
