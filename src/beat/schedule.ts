/**
 * Schedule arithmetic: the planned fire times of an `every`, `cron` or `at` schedule. Pure:
 * no clock is read here, every instant is passed in and every answer is a `Date`.
 */
import { CronExpressionParser, type CronExpression } from 'cron-parser';
import type { ScheduleEntryDefinition, ScheduleSpec } from '../config/types';

const DAY_MS = 86_400_000;

/**
 * The first planned fire time of `spec` strictly after `after`, or null when there is none.
 *
 * - `every`: fire times are `anchor + k * everyMs` for every integer `k` (rounded up to the
 *   whole millisecond), so they never drift, however late each fire is handled. The anchor
 *   defaults to the Unix epoch: `every: 10s` fires at :00, :10, :20… wall-clock seconds and
 *   `every: 1h` on the hour (UTC), as Celery users expect and as BullMQ aligns repeat `every`.
 * - `cron`: the expression read as wall-clock time in `spec.timezone`. Daylight saving time:
 *   when the expression names specific hours, a wall time that does not exist (02:30 on a
 *   spring-forward day) fires once, at the first instant after the gap (03:00), and a wall time
 *   that happens twice (01:30 on a fall-back day) fires once, at its first occurrence. When the
 *   hour field matches every hour (`30 * * * *`, `0,15,30,45 * * * *`), the entry is periodic and
 *   follows the instants instead, as Vixie cron does: a slot in the skipped hour does not fire
 *   and a slot in the repeated hour fires in both of its occurrences, so an hourly job still
 *   runs every real hour.
 * - `at`: the instant itself if it is after `after`.
 *
 * `startAt` and `endAt` belong to the entry, not to the spec: see {@link nextEntryFireAfter}.
 *
 * @param anchor - Only for `every`: the instant the intervals count from. @defaultValue the Unix epoch
 */
export function nextFireAfter(spec: ScheduleSpec, after: Date, anchor?: Date): Date | null {
  const afterMs = after.getTime();
  switch (spec.kind) {
    case 'every':
      return new Date(nextIntervalFire(spec.everyMs, anchor?.getTime() ?? 0, afterMs));
    case 'cron':
      return nullableDate(nextCronFire(spec.expression, spec.timezone, afterMs));
    case 'at':
      return spec.at.getTime() > afterMs ? new Date(spec.at.getTime()) : null;
  }
}

/**
 * The last planned fire time of `spec` strictly before `before`, or null when there is none:
 * the mirror of {@link nextFireAfter}, with the same `anchor` and daylight saving rules.
 */
export function lastFireBefore(spec: ScheduleSpec, before: Date, anchor?: Date): Date | null {
  const beforeMs = before.getTime();
  switch (spec.kind) {
    case 'every':
      return new Date(lastIntervalFire(spec.everyMs, anchor?.getTime() ?? 0, beforeMs));
    case 'cron':
      return nullableDate(lastCronFire(spec.expression, spec.timezone, beforeMs));
    case 'at':
      return spec.at.getTime() < beforeMs ? new Date(spec.at.getTime()) : null;
  }
}

/**
 * The entry's first planned fire time strictly after `after`, within its `startAt`..`endAt`
 * window (both inclusive), or null when it will not fire again. An `every` entry with a
 * `startAt` counts its intervals from `startAt` (`every: 1h` from 09:17 fires at 09:17, 10:17…);
 * without one, from the Unix epoch. Whether the entry is enabled is not looked at.
 */
export function nextEntryFireAfter(entry: ScheduleEntryDefinition, after: Date): Date | null {
  const { schedule, startAt, endAt } = entry;
  const from = startAt !== undefined && after.getTime() < startAt.getTime() ? new Date(startAt.getTime() - 1) : after;
  const fire = nextFireAfter(schedule, from, entryAnchor(entry));
  if (fire === null || (endAt !== undefined && fire.getTime() > endAt.getTime())) return null;
  return fire;
}

/** The entry's last planned fire time strictly before `before`, within its `startAt`..`endAt` window. */
export function lastEntryFireBefore(entry: ScheduleEntryDefinition, before: Date): Date | null {
  const { schedule, startAt, endAt } = entry;
  const until = endAt !== undefined && before.getTime() > endAt.getTime() ? new Date(endAt.getTime() + 1) : before;
  const fire = lastFireBefore(schedule, until, entryAnchor(entry));
  if (fire === null || (startAt !== undefined && fire.getTime() < startAt.getTime())) return null;
  return fire;
}

/**
 * The entry's next `count` planned fire times strictly after `from`, in order, within its
 * `startAt`..`endAt` window; fewer when the schedule ends. What `warren schedule next` prints.
 */
export function nextFires(entry: ScheduleEntryDefinition, from: Date, count: number): Date[] {
  const fires: Date[] = [];
  let cursor: Date | null = from;
  while (fires.length < count) {
    cursor = nextEntryFireAfter(entry, cursor);
    if (cursor === null) break;
    fires.push(cursor);
  }
  return fires;
}

function entryAnchor(entry: ScheduleEntryDefinition): Date | undefined {
  return entry.schedule.kind === 'every' ? entry.startAt : undefined;
}

function nullableDate(ms: number | null): Date | null {
  return ms === null ? null : new Date(ms);
}

// Intervals. Fire k is at ceil(anchor + k * every); `after` and `before` are whole milliseconds,
// so ceil(x) > after exactly when x > after. The loops only absorb floating-point rounding.

function intervalFire(everyMs: number, anchorMs: number, k: number): number {
  return Math.ceil(anchorMs + k * everyMs);
}

function checkInterval(everyMs: number): void {
  if (!(everyMs > 0) || !Number.isFinite(everyMs)) throw new RangeError(`everyMs must be a number above 0 (got ${everyMs})`);
}

function nextIntervalFire(everyMs: number, anchorMs: number, afterMs: number): number {
  checkInterval(everyMs);
  let k = Math.floor((afterMs - anchorMs) / everyMs) + 1;
  while (intervalFire(everyMs, anchorMs, k - 1) > afterMs) k -= 1;
  while (intervalFire(everyMs, anchorMs, k) <= afterMs) k += 1;
  return intervalFire(everyMs, anchorMs, k);
}

function lastIntervalFire(everyMs: number, anchorMs: number, beforeMs: number): number {
  checkInterval(everyMs);
  let k = Math.floor((beforeMs - 1 - anchorMs) / everyMs);
  while (intervalFire(everyMs, anchorMs, k + 1) < beforeMs) k += 1;
  while (intervalFire(everyMs, anchorMs, k) >= beforeMs) k -= 1;
  return intervalFire(everyMs, anchorMs, k);
}

// Cron. cron-parser matches the fields on "naive" wall-clock times (local fields stored as if
// they were UTC); turning wall times into instants is done here, because cron-parser's own
// time-zone handling moves a skipped wall time forward by the length of the gap (02:30 runs at
// 03:30, and `0,30 2 * * *` runs twice) instead of at the first instant after the gap.

const WEEK_MS = 7 * DAY_MS;

interface ParsedCron {
  readonly expression: CronExpression;
  /** The hour field matches all 24 hours: DST gaps and repeats follow the instants. */
  readonly periodic: boolean;
}

const PARSED_LIMIT = 10_000;
const parsedCrons = new Map<string, ParsedCron>();

/** One parsed expression per string, repositioned with `reset` for each question. */
function parsedCron(text: string): ParsedCron {
  let parsed = parsedCrons.get(text);
  if (parsed === undefined) {
    const expression = CronExpressionParser.parse(text, { tz: 'UTC' });
    parsed = { expression, periodic: expression.fields.hour.values.length === 24 };
    if (parsedCrons.size >= PARSED_LIMIT) parsedCrons.clear();
    parsedCrons.set(text, parsed);
  }
  return parsed;
}

/** cron-parser's message when it finds no matching time within its step limit. */
const NO_MATCH_MESSAGE = 'Invalid expression, loop limit exceeded';

/** The first matching naive wall time strictly after (`next`) or before (`prev`) `wallMs`, or null. */
function stepNaive(expression: CronExpression, wallMs: number, direction: 'next' | 'prev'): number | null {
  expression.reset(new Date(wallMs));
  try {
    return (direction === 'next' ? expression.next() : expression.prev()).getTime();
  } catch (error) {
    if (error instanceof Error && error.message === NO_MATCH_MESSAGE) return null;
    throw error;
  }
}

function nextCronFire(text: string, zone: string, afterMs: number): number | null {
  const { expression, periodic } = parsedCron(text);
  return periodic ? nextPeriodicFire(expression, zone, afterMs) : nextWallFire(expression, zone, afterMs);
}

function lastCronFire(text: string, zone: string, beforeMs: number): number | null {
  const { expression, periodic } = parsedCron(text);
  return periodic ? lastPeriodicFire(expression, zone, beforeMs) : lastWallFire(expression, zone, beforeMs);
}

/**
 * Specific hours: each matching wall time fires once, at {@link firstInstant}. That map is
 * monotone in the wall time, so the answer is the first matching wall time after a threshold:
 * the wall time of `after`, or, when `after` is the second occurrence of its wall time, the
 * end of the repeated range (every wall time before it fired before the clocks went back).
 */
function nextWallFire(expression: CronExpression, zone: string, afterMs: number): number | null {
  const wall = afterMs + offsetMs(zone, afterMs);
  const first = firstInstant(zone, wall);
  const threshold = first < afterMs ? repeatedRangeEnd(zone, first, afterMs) - 1 : wall;
  const fire = stepNaive(expression, threshold, 'next');
  return fire === null ? null : firstInstant(zone, fire);
}

function lastWallFire(expression: CronExpression, zone: string, beforeMs: number): number | null {
  const wall = beforeMs + offsetMs(zone, beforeMs);
  const first = firstInstant(zone, wall);
  let limit = first < beforeMs ? repeatedRangeEnd(zone, first, beforeMs) : wall;
  for (;;) {
    const fire = stepNaive(expression, limit, 'prev');
    if (fire === null) return null;
    const instant = firstInstant(zone, fire);
    if (instant < beforeMs) return instant;
    // A wall time in a spring-forward gap that ends exactly at `before`: continue before the gap.
    limit = instant + offsetMs(zone, instant - 1);
  }
}

/** The wall time at which a repeated range ends: the transition between the two occurrences, read with the old offset. */
function repeatedRangeEnd(zone: string, firstOccurrence: number, secondOccurrence: number): number {
  const oldOffset = offsetMs(zone, firstOccurrence);
  return firstInstantWithNewOffset(zone, firstOccurrence, secondOccurrence, oldOffset) + oldOffset;
}

/**
 * Every hour: the fires are the instants whose wall time matches. Between two offset changes
 * wall time is instant + offset, so the search runs one span of constant offset at a time.
 */
function nextPeriodicFire(expression: CronExpression, zone: string, afterMs: number): number | null {
  for (let from = afterMs; ; ) {
    const offset = offsetMs(zone, from + 1);
    const wall = stepNaive(expression, from + offset, 'next');
    if (wall === null) return null;
    const candidate = wall - offset;
    const change = firstOffsetChange(zone, from + 1, candidate);
    if (change === null) return candidate;
    from = change - 1;
  }
}

function lastPeriodicFire(expression: CronExpression, zone: string, beforeMs: number): number | null {
  for (let before = beforeMs; ; ) {
    const offset = offsetMs(zone, before - 1);
    const wall = stepNaive(expression, before + offset, 'prev');
    if (wall === null) return null;
    const candidate = wall - offset;
    const spanStart = lastOffsetChange(zone, candidate, before - 1);
    if (spanStart === null) return candidate;
    before = spanStart;
  }
}

/** The first instant in (fromMs, toMs] whose offset differs from the offset at fromMs, or null. */
function firstOffsetChange(zone: string, fromMs: number, toMs: number): number | null {
  const offset = offsetMs(zone, fromMs);
  for (let low = fromMs; low < toMs; ) {
    const high = Math.min(low + WEEK_MS, toMs);
    if (offsetMs(zone, high) !== offset) return firstInstantWithNewOffset(zone, low, high, offset);
    low = high;
  }
  return null;
}

/** The start of the span of constant offset that holds toMs, if that start is in (fromMs, toMs]; else null. */
function lastOffsetChange(zone: string, fromMs: number, toMs: number): number | null {
  const offset = offsetMs(zone, toMs);
  for (let high = toMs; high > fromMs; ) {
    const low = Math.max(high - WEEK_MS, fromMs);
    const lowOffset = offsetMs(zone, low);
    if (lowOffset !== offset) return firstInstantWithNewOffset(zone, low, high, lowOffset);
    high = low;
  }
  return null;
}

/**
 * The instant a naive wall time fires at with specific hours: the wall time read in the zone;
 * its first occurrence when it happens twice (fall back); the first instant after the gap when
 * it does not exist (spring forward). Offsets are sampled a day either side, as the Temporal
 * polyfill does: at most one offset change lies between them.
 */
function firstInstant(zone: string, wallMs: number): number {
  const before = offsetMs(zone, wallMs - DAY_MS);
  const after = offsetMs(zone, wallMs + DAY_MS);
  if (before === after) return wallMs - before;
  const valid = [wallMs - before, wallMs - after].filter((instant, index) => offsetMs(zone, instant) === (index === 0 ? before : after));
  if (valid.length === 0) return firstInstantWithNewOffset(zone, wallMs - after, wallMs - before, before);
  return Math.min(...valid);
}

/** Binary search in (lowMs, highMs] for the first instant whose offset is no longer `oldOffset`. */
function firstInstantWithNewOffset(zone: string, lowMs: number, highMs: number, oldOffset: number): number {
  let low = lowMs;
  let high = highMs;
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2);
    if (offsetMs(zone, middle) === oldOffset) low = middle;
    else high = middle;
  }
  return high;
}

const wallClocks = new Map<string, Intl.DateTimeFormat>();

/** The zone's offset from UTC at an instant, in ms (wall time minus instant). */
function offsetMs(zone: string, instantMs: number): number {
  if (zone === 'UTC') return 0;
  let clock = wallClocks.get(zone);
  if (clock === undefined) {
    clock = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    wallClocks.set(zone, clock);
  }
  const field: Partial<Record<Intl.DateTimeFormatPartTypes, number>> = {};
  for (const part of clock.formatToParts(instantMs)) field[part.type] = Number(part.value);
  const wall = Date.UTC(field.year ?? 1970, (field.month ?? 1) - 1, field.day ?? 1, field.hour ?? 0, field.minute ?? 0, field.second ?? 0);
  const wholeSecond = instantMs - (((instantMs % 1000) + 1000) % 1000);
  return wall - wholeSecond;
}
