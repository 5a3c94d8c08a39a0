import { CronExpressionParser } from 'cron-parser';
import { lastFireBefore, nextEntryFireAfter, nextFireAfter, nextFires } from '../../../src/beat/schedule';
import type { ScheduleSpec } from '../../../src/config/types';
import { at, cron, date, entry, every, iso } from './entries';

/** The next `count` fire times of a spec after `from`, as ISO strings. */
function fires(spec: ScheduleSpec, from: string, count: number): string[] {
  const out: string[] = [];
  let cursor: Date | null = date(from);
  while (out.length < count && (cursor = nextFireAfter(spec, cursor)) !== null) out.push(cursor.toISOString());
  return out;
}

/** The same fire times found walking backwards from just after the last one. */
function firesBackwards(spec: ScheduleSpec, forwards: string[]): string[] {
  const out: string[] = [];
  let cursor: Date | null = new Date(date(forwards[forwards.length - 1]).getTime() + 1);
  while (out.length < forwards.length && (cursor = lastFireBefore(spec, cursor)) !== null) out.unshift(cursor.toISOString());
  return out;
}

describe('every', () => {
  it('fires at multiples of the interval counted from the Unix epoch', () => {
    expect(fires(every(10_000), '2026-01-01T10:00:03.250Z', 3)).toEqual([
      '2026-01-01T10:00:10.000Z',
      '2026-01-01T10:00:20.000Z',
      '2026-01-01T10:00:30.000Z',
    ]);
    expect(fires(every(3_600_000), '2026-01-01T10:59:59.999Z', 2)).toEqual(['2026-01-01T11:00:00.000Z', '2026-01-01T12:00:00.000Z']);
  });

  it('gives the slot after `after` when `after` is exactly a slot', () => {
    expect(iso(nextFireAfter(every(10_000), date('2026-01-01T10:00:10.000Z')))).toBe('2026-01-01T10:00:20.000Z');
    expect(iso(lastFireBefore(every(10_000), date('2026-01-01T10:00:10.000Z')))).toBe('2026-01-01T10:00:00.000Z');
  });

  it('counts from the anchor when one is given', () => {
    const anchor = date('2026-01-01T09:17:00Z');
    expect(iso(nextFireAfter(every(3_600_000), date('2026-01-01T10:00:00Z'), anchor))).toBe('2026-01-01T10:17:00.000Z');
    expect(iso(nextFireAfter(every(3_600_000), date('2026-01-01T08:00:00Z'), anchor))).toBe('2026-01-01T08:17:00.000Z');
    expect(iso(lastFireBefore(every(3_600_000), date('2026-01-01T10:00:00Z'), anchor))).toBe('2026-01-01T09:17:00.000Z');
  });

  it('keeps fractional intervals on whole milliseconds without drift', () => {
    // 1.5 ms: slots at 0, 1.5, 3, 4.5 ms... rounded up to 0, 2, 3, 5 ms.
    expect(fires(every(1.5), '1970-01-01T00:00:00.000Z', 4)).toEqual([
      '1970-01-01T00:00:00.002Z',
      '1970-01-01T00:00:00.003Z',
      '1970-01-01T00:00:00.005Z',
      '1970-01-01T00:00:00.006Z',
    ]);
  });

  it('refuses an interval that is not above zero', () => {
    expect(() => nextFireAfter(every(0), date('2026-01-01T00:00:00Z'))).toThrow('everyMs must be a number above 0 (got 0)');
  });
});

describe('cron', () => {
  it('reads 5 fields as minutes and 6 fields as seconds first', () => {
    expect(fires(cron('30 7 * * 1'), '2026-01-01T00:00:00Z', 2)).toEqual(['2026-01-05T07:30:00.000Z', '2026-01-12T07:30:00.000Z']);
    expect(fires(cron('*/20 * * * * *'), '2026-01-01T00:00:00Z', 3)).toEqual([
      '2026-01-01T00:00:20.000Z',
      '2026-01-01T00:00:40.000Z',
      '2026-01-01T00:01:00.000Z',
    ]);
  });

  it('reads the expression in its own time zone', () => {
    // 09:00 in Shanghai (UTC+8, no DST) is 01:00 UTC.
    expect(fires(cron('0 9 * * *', 'Asia/Shanghai'), '2026-06-01T00:00:00Z', 2)).toEqual(['2026-06-01T01:00:00.000Z', '2026-06-02T01:00:00.000Z']);
  });

  it('gives the slot after `after` when `after` is exactly a slot, and the one before for lastFireBefore', () => {
    const spec = cron('0 9 * * *', 'Asia/Shanghai');
    expect(iso(nextFireAfter(spec, date('2026-06-01T01:00:00Z')))).toBe('2026-06-02T01:00:00.000Z');
    expect(iso(lastFireBefore(spec, date('2026-06-01T01:00:00Z')))).toBe('2026-05-31T01:00:00.000Z');
    expect(iso(lastFireBefore(spec, date('2026-06-01T01:00:00.001Z')))).toBe('2026-06-01T01:00:00.000Z');
  });

  describe('America/New_York spring forward (2026-03-08: 02:00 EST becomes 03:00 EDT at 07:00Z)', () => {
    const ny = (expression: string) => cron(expression, 'America/New_York');

    it('runs a wall time that does not exist (02:30) once, at the first instant after the gap (03:00 EDT)', () => {
      const daily = fires(ny('30 2 * * *'), '2026-03-07T00:00:00Z', 3);
      expect(daily).toEqual([
        '2026-03-07T07:30:00.000Z', // 02:30 EST
        '2026-03-08T07:00:00.000Z', // 03:00 EDT: the first instant after the gap
        '2026-03-09T06:30:00.000Z', // 02:30 EDT
      ]);
      expect(firesBackwards(ny('30 2 * * *'), daily)).toEqual(daily);
    });

    it('runs several missing wall times of the same day once, not once each', () => {
      expect(fires(ny('0,30 2 * * *'), '2026-03-07T12:00:00Z', 3)).toEqual([
        '2026-03-08T07:00:00.000Z',
        '2026-03-09T06:00:00.000Z',
        '2026-03-09T06:30:00.000Z',
      ]);
    });

    it('does the same for 6-field expressions', () => {
      expect(fires(ny('15 30 2 * * *'), '2026-03-07T12:00:00Z', 2)).toEqual(['2026-03-08T07:00:00.000Z', '2026-03-09T06:30:15.000Z']);
    });

    it('lets an expression that matches every hour follow real time: no fire for the skipped hour', () => {
      const hourly = fires(ny('30 * * * *'), '2026-03-08T05:00:00Z', 4);
      expect(hourly).toEqual([
        '2026-03-08T05:30:00.000Z', // 00:30 EST
        '2026-03-08T06:30:00.000Z', // 01:30 EST
        '2026-03-08T07:30:00.000Z', // 03:30 EDT, one real hour later
        '2026-03-08T08:30:00.000Z',
      ]);
      expect(firesBackwards(ny('30 * * * *'), hourly)).toEqual(hourly);
      expect(fires(ny('* * * * * *'), '2026-03-08T06:59:58Z', 3)).toEqual([
        '2026-03-08T06:59:59.000Z',
        '2026-03-08T07:00:00.000Z',
        '2026-03-08T07:00:01.000Z',
      ]);
    });
  });

  describe('America/New_York fall back (2026-11-01: 02:00 EDT becomes 01:00 EST at 06:00Z)', () => {
    const ny = (expression: string) => cron(expression, 'America/New_York');

    it('runs a wall time that happens twice (01:30) once, at its first occurrence (EDT)', () => {
      const daily = fires(ny('30 1 * * *'), '2026-10-31T00:00:00Z', 3);
      expect(daily).toEqual([
        '2026-10-31T05:30:00.000Z', // 01:30 EDT
        '2026-11-01T05:30:00.000Z', // 01:30 EDT, the first of the two 01:30s
        '2026-11-02T06:30:00.000Z', // 01:30 EST
      ]);
      expect(firesBackwards(ny('30 1 * * *'), daily)).toEqual(daily);
    });

    it('does not run the second occurrence even when asked from inside the repeated hour', () => {
      // 06:10Z is 01:10 EST, the second 01:10; the second 01:30 (06:30Z) is not a fire time.
      expect(iso(nextFireAfter(ny('30 1 * * *'), date('2026-11-01T06:10:00Z')))).toBe('2026-11-02T06:30:00.000Z');
      expect(fires(ny('*/30 1 * * *'), '2026-11-01T00:00:00Z', 3)).toEqual([
        '2026-11-01T05:00:00.000Z',
        '2026-11-01T05:30:00.000Z',
        '2026-11-02T06:00:00.000Z',
      ]);
    });

    it('lets an expression that matches every hour run in both occurrences of the repeated hour', () => {
      const halfHourly = fires(ny('*/30 * * * *'), '2026-11-01T04:50:00Z', 6);
      expect(halfHourly).toEqual([
        '2026-11-01T05:00:00.000Z', // 01:00 EDT
        '2026-11-01T05:30:00.000Z', // 01:30 EDT
        '2026-11-01T06:00:00.000Z', // 01:00 EST
        '2026-11-01T06:30:00.000Z', // 01:30 EST
        '2026-11-01T07:00:00.000Z', // 02:00 EST
        '2026-11-01T07:30:00.000Z',
      ]);
      expect(firesBackwards(ny('*/30 * * * *'), halfHourly)).toEqual(halfHourly);
      expect(iso(nextFireAfter(ny('0 * * * *'), date('2026-11-01T05:45:00Z')))).toBe('2026-11-01T06:00:00.000Z');
    });
  });

  it('runs a midnight that does not exist at the first instant after the gap (America/Santiago, 2026-09-06)', () => {
    // Clocks go from 00:00 -04 to 01:00 -03, at 04:00Z.
    expect(fires(cron('0 0 * * *', 'America/Santiago'), '2026-09-05T12:00:00Z', 2)).toEqual(['2026-09-06T04:00:00.000Z', '2026-09-07T03:00:00.000Z']);
  });
});

describe('at', () => {
  it('fires at its instant only when that is after `after`', () => {
    const spec = at('2026-05-01T10:00:00Z');
    expect(iso(nextFireAfter(spec, date('2026-05-01T09:59:59.999Z')))).toBe('2026-05-01T10:00:00.000Z');
    expect(nextFireAfter(spec, date('2026-05-01T10:00:00Z'))).toBeNull();
    expect(iso(lastFireBefore(spec, date('2026-05-01T10:00:00.001Z')))).toBe('2026-05-01T10:00:00.000Z');
    expect(lastFireBefore(spec, date('2026-05-01T10:00:00Z'))).toBeNull();
  });
});

describe('entry fire times', () => {
  it('start at startAt (inclusive) and count `every` intervals from it', () => {
    const hourly = entry('hourly', every(3_600_000), { startAt: date('2026-01-01T09:17:00Z') });
    expect(iso(nextEntryFireAfter(hourly, date('2025-12-01T00:00:00Z')))).toBe('2026-01-01T09:17:00.000Z');
    expect(iso(nextEntryFireAfter(hourly, date('2026-01-01T09:17:00Z')))).toBe('2026-01-01T10:17:00.000Z');
  });

  it('end at endAt (inclusive)', () => {
    const ending = entry('ending', cron('0 * * * *'), { endAt: date('2026-01-01T12:00:00Z') });
    expect(iso(nextEntryFireAfter(ending, date('2026-01-01T11:30:00Z')))).toBe('2026-01-01T12:00:00.000Z');
    expect(nextEntryFireAfter(ending, date('2026-01-01T12:00:00Z'))).toBeNull();
  });

  it('lists the next fires for `warren schedule next`, fewer when the schedule ends', () => {
    const daily = entry('daily', cron('30 2 * * *', 'America/New_York'));
    expect(nextFires(daily, date('2026-03-07T00:00:00Z'), 3).map(iso)).toEqual([
      '2026-03-07T07:30:00.000Z',
      '2026-03-08T07:00:00.000Z',
      '2026-03-09T06:30:00.000Z',
    ]);
    const bounded = entry('bounded', every(10_000), { startAt: date('2026-01-01T10:00:05Z'), endAt: date('2026-01-01T10:00:25Z') });
    expect(nextFires(bounded, date('2026-01-01T00:00:00Z'), 5).map(iso)).toEqual([
      '2026-01-01T10:00:05.000Z',
      '2026-01-01T10:00:15.000Z',
      '2026-01-01T10:00:25.000Z',
    ]);
    expect(nextFires(entry('once', at('2026-05-01T10:00:00Z')), date('2026-05-01T11:00:00Z'), 3)).toEqual([]);
  });
});

/**
 * An independent oracle for the daylight saving rules: walk the zone's clock minute by minute
 * around each offset change of 2026 and read off the fires the rules promise.
 */
describe('cron around every 2026 offset change, checked minute by minute', () => {
  const MINUTE = 60_000;
  const HOUR = 60 * MINUTE;

  function wallClock(zone: string): (instant: number) => number {
    const format = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
    });
    return (instant) => {
      const part: Record<string, number> = {};
      for (const { type, value } of format.formatToParts(instant)) part[type] = Number(value);
      return Date.UTC(part.year, part.month - 1, part.day, part.hour, part.minute);
    };
  }

  function offsetChanges(zone: string): number[] {
    const wall = wallClock(zone);
    const changes: number[] = [];
    for (let t = Date.UTC(2026, 0, 1); t < Date.UTC(2027, 0, 1); t += HOUR) {
      if (wall(t + HOUR) - wall(t) !== HOUR) changes.push(t + HOUR);
    }
    return changes;
  }

  /** Each minute from 3 hours before `from` to `to`, with its wall time. */
  function minutes(zone: string, from: number, to: number): { instant: number; wall: number }[] {
    const wall = wallClock(zone);
    const out: { instant: number; wall: number }[] = [];
    for (let instant = from - 3 * HOUR; instant < to; instant += MINUTE) out.push({ instant, wall: wall(instant) });
    return out;
  }

  /** Fires from `from` on: periodic = every instant whose wall time matches; else first occurrences, and the gap's end once. */
  function oracle(expression: string, clock: { instant: number; wall: number }[], from: number): string[] {
    const matcher = CronExpressionParser.parse(expression, { tz: 'UTC' });
    const matches = (wallMs: number) => matcher.includesDate(new Date(wallMs));
    const periodic = matcher.fields.hour.values.length === 24;
    const seen = new Set<number>();
    const fires: number[] = [];
    for (let i = 1; i < clock.length; i += 1) {
      const { instant, wall } = clock[i];
      const skipped: number[] = [];
      for (let gap = clock[i - 1].wall + MINUTE; gap < wall; gap += MINUTE) skipped.push(gap);
      if (!periodic && skipped.some(matches)) fires.push(instant);
      if (matches(wall) && (periodic || !seen.has(wall))) fires.push(instant);
      seen.add(wall);
    }
    return [...new Set(fires)].filter((t) => t >= from).map((t) => new Date(t).toISOString());
  }

  const zones = ['America/New_York', 'Europe/London', 'Australia/Lord_Howe', 'America/Santiago', 'Asia/Shanghai'];
  const expressions = ['30 2 * * *', '0,30 1-3 * * *', '*/7 2 * * *', '15 1 * * *', '0 0 * * *', '45 23 * * *', '*/20 * * * *', '45 * * * *'];

  it.each(zones)('matches the oracle in %s', (zone) => {
    const changes = offsetChanges(zone);
    const windows = changes.length > 0 ? changes : [Date.UTC(2026, 5, 1)];
    for (const change of windows) {
      const from = change - 26 * HOUR;
      const to = change + 26 * HOUR;
      const clock = minutes(zone, from, to);
      for (const expression of expressions) {
        const spec = cron(expression, zone);
        const expected = oracle(expression, clock, from);
        const forwards = fires(spec, new Date(from - 1).toISOString(), expected.length + 1).filter((t) => date(t).getTime() < to);
        expect({ zone, expression, fires: forwards }).toEqual({ zone, expression, fires: expected });
        expect(firesBackwards(spec, forwards)).toEqual(forwards);
      }
    }
  });
});
