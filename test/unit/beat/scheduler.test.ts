import { fireTaskId, Scheduler, type Fire, type SchedulerState } from '../../../src/beat/scheduler';
import type { MisfirePolicy } from '../../../src/config/types';
import { at, cron, date, entry, every } from './entries';

const SECOND = 1000;
const MINUTE = 60 * SECOND;

/** `name@planned` of each fire, the shape most assertions read best in. */
function planned(fires: readonly Fire[]): string[] {
  return fires.map((fire) => `${fire.entry.name}@${fire.planned.toISOString()}`);
}

/** Ticks at each instant from `from` to `to` in steps of `stepMs` and collects the fires. */
function tickThrough(scheduler: Scheduler, from: string, to: string, stepMs: number): Fire[] {
  const fires: Fire[] = [];
  for (let t = date(from).getTime(); t <= date(to).getTime(); t += stepMs) fires.push(...scheduler.tick(new Date(t)).due);
  return fires;
}

/** A deterministic pseudo-random sequence in [0, 1) (mulberry32). */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('interval entries', () => {
  it('fire at exact multiples of the interval with no drift over 1000 jittered ticks', () => {
    const scheduler = new Scheduler([entry('ten', every(10 * SECOND))]);
    const jitter = random(42);
    const fires: Fire[] = [];
    let now = date('2026-01-01T10:00:03.123Z').getTime();
    for (let i = 0; i < 1000; i += 1) {
      const { due, nextDelayMs } = scheduler.tick(new Date(now));
      fires.push(...due);
      for (const fire of due) expect(now - fire.planned.getTime()).toBeLessThan(300);
      now += nextDelayMs + Math.floor(jitter() * 250);
    }
    const times = fires.map((fire) => fire.planned.getTime());
    expect(times.length).toBeGreaterThan(100);
    expect(times.every((t) => t % (10 * SECOND) === 0)).toBe(true);
    expect(times.slice(1).map((t, i) => t - times[i])).toEqual(times.slice(1).map(() => 10 * SECOND));
    expect(fires[0].planned.toISOString()).toBe('2026-01-01T10:00:10.000Z');
  });

  it('do not fire at once when new: the first fire is the first slot after now', () => {
    const scheduler = new Scheduler([entry('ten', every(10 * SECOND))]);
    expect(scheduler.tick(date('2026-01-01T10:00:00.000Z')).due).toEqual([]);
    expect(scheduler.nextPlanned('ten')?.toISOString()).toBe('2026-01-01T10:00:10.000Z');
  });
});

describe('cron entries', () => {
  it('fire once per slot in Asia/Shanghai while the file time zone is UTC, never in a loop', () => {
    // The resolved entry carries its own time zone; 09:00 in Shanghai is 01:00 UTC.
    const shanghai = entry('morning', cron('0 9 * * *', 'Asia/Shanghai'));
    const scheduler = new Scheduler([shanghai]);
    expect(scheduler.tick(date('2026-06-01T00:59:59.500Z')).due).toEqual([]);
    expect(planned(scheduler.tick(date('2026-06-01T01:00:00.000Z')).due)).toEqual(['morning@2026-06-01T01:00:00.000Z']);
    for (const now of ['2026-06-01T01:00:00.000Z', '2026-06-01T01:00:00.000Z', '2026-06-01T01:00:00.400Z', '2026-06-01T01:00:05Z', '2026-06-01T09:00:00Z', '2026-06-02T00:59:59.999Z']) {
      expect(scheduler.tick(date(now)).due).toEqual([]);
    }
    expect(planned(scheduler.tick(date('2026-06-02T01:00:00.200Z')).due)).toEqual(['morning@2026-06-02T01:00:00.000Z']);

    // A restart from the persisted state does not fire the slot again either.
    const restarted = new Scheduler([shanghai], scheduler.state());
    expect(restarted.tick(date('2026-06-02T01:00:00.900Z')).due).toEqual([]);
    expect(restarted.tick(date('2026-06-02T01:30:00Z')).due).toEqual([]);
  });

  it('fire a daily 02:30 America/New_York entry exactly once on the spring-forward day, at 03:00 EDT', () => {
    const scheduler = new Scheduler([entry('nightly', cron('30 2 * * *', 'America/New_York'))]);
    const fires = tickThrough(scheduler, '2026-03-08T04:00:00Z', '2026-03-09T04:00:00Z', 30 * SECOND);
    expect(planned(fires)).toEqual(['nightly@2026-03-08T07:00:00.000Z']);
  });

  it('fire a daily 01:30 America/New_York entry exactly once on the fall-back day, at 01:30 EDT', () => {
    const scheduler = new Scheduler([entry('nightly', cron('30 1 * * *', 'America/New_York'))]);
    const fires = tickThrough(scheduler, '2026-11-01T04:00:00Z', '2026-11-02T04:00:00Z', 30 * SECOND);
    expect(planned(fires)).toEqual(['nightly@2026-11-01T05:30:00.000Z']);
  });
});

describe('misfire policies after a 3-hour downtime (every 10 minutes, last fired 09:00, back at 12:05)', () => {
  const state: SchedulerState = { report: { lastPlanned: date('2026-01-01T09:00:00Z') } };
  const back = date('2026-01-01T12:05:00Z');
  const scheduler = (misfire: MisfirePolicy) => new Scheduler([entry('report', every(10 * MINUTE), { misfire })], state);

  it('run-once fires once, for the latest missed slot, then follows the schedule', () => {
    const beat = scheduler({ policy: 'run-once' });
    expect(planned(beat.tick(back).due)).toEqual(['report@2026-01-01T12:00:00.000Z']);
    expect(beat.tick(date('2026-01-01T12:05:01Z')).due).toEqual([]);
    expect(planned(beat.tick(date('2026-01-01T12:10:00Z')).due)).toEqual(['report@2026-01-01T12:10:00.000Z']);
  });

  it('skip fires nothing for the missed slots, then the next slot', () => {
    const beat = scheduler({ policy: 'skip' });
    expect(beat.tick(back).due).toEqual([]);
    expect(beat.state()).toEqual({ report: { lastPlanned: date('2026-01-01T12:00:00Z') } });
    expect(beat.tick(date('2026-01-01T12:09:59.999Z')).due).toEqual([]);
    expect(planned(beat.tick(date('2026-01-01T12:10:00.300Z')).due)).toEqual(['report@2026-01-01T12:10:00.000Z']);
  });

  it('catch-up with max 5 fires the 5 most recent missed slots, oldest first, once', () => {
    const beat = scheduler({ policy: 'catch-up', max: 5 });
    expect(planned(beat.tick(back).due)).toEqual([
      'report@2026-01-01T11:20:00.000Z',
      'report@2026-01-01T11:30:00.000Z',
      'report@2026-01-01T11:40:00.000Z',
      'report@2026-01-01T11:50:00.000Z',
      'report@2026-01-01T12:00:00.000Z',
    ]);
    expect(beat.tick(back).due).toEqual([]);
    expect(planned(beat.tick(date('2026-01-01T12:10:00Z')).due)).toEqual(['report@2026-01-01T12:10:00.000Z']);
  });

  it('catch-up fires every missed slot when fewer than max were missed', () => {
    const beat = scheduler({ policy: 'catch-up', max: 100 });
    const fires = beat.tick(back).due;
    expect(fires).toHaveLength(18);
    expect(fires[0].planned.toISOString()).toBe('2026-01-01T09:10:00.000Z');
    expect(fires[17].planned.toISOString()).toBe('2026-01-01T12:00:00.000Z');
  });

  it('counts a fire late by up to the grace as on time, and one later than that as missed', () => {
    const skip = { policy: 'skip' } as const;
    const onTime = new Scheduler([entry('report', every(10 * MINUTE), { misfire: skip })], { report: { lastPlanned: date('2026-01-01T11:50:00Z') } });
    expect(planned(onTime.tick(date('2026-01-01T12:00:01.000Z')).due)).toEqual(['report@2026-01-01T12:00:00.000Z']);
    const missed = new Scheduler([entry('report', every(10 * MINUTE), { misfire: skip })], { report: { lastPlanned: date('2026-01-01T11:50:00Z') } });
    expect(missed.tick(date('2026-01-01T12:00:01.001Z')).due).toEqual([]);
    const wideGrace = new Scheduler([entry('report', every(10 * MINUTE), { misfire: skip })], { report: { lastPlanned: date('2026-01-01T11:50:00Z') } }, { graceMs: 5000 });
    expect(planned(wideGrace.tick(date('2026-01-01T12:00:04Z')).due)).toEqual(['report@2026-01-01T12:00:00.000Z']);
  });
});

describe('restarts', () => {
  it('neither repeat nor silently skip a fire', () => {
    const ten = entry('ten', every(10 * SECOND));
    const first = new Scheduler([ten]);
    const fires = tickThrough(first, '2026-01-01T10:00:00Z', '2026-01-01T10:00:15Z', 500);
    expect(planned(fires)).toEqual(['ten@2026-01-01T10:00:10.000Z']);

    // Down from 10:00:15 to 10:00:25: the 10:00:20 slot was missed and runs once (run-once).
    const second = new Scheduler([ten], first.state());
    expect(planned(second.tick(date('2026-01-01T10:00:25Z')).due)).toEqual(['ten@2026-01-01T10:00:20.000Z']);
    const third = new Scheduler([ten], second.state());
    expect(third.tick(date('2026-01-01T10:00:25.500Z')).due).toEqual([]);
    expect(planned(third.tick(date('2026-01-01T10:00:30Z')).due)).toEqual(['ten@2026-01-01T10:00:30.000Z']);
  });

  it('honour a last planned time in the future (clock moved back): nothing at or before it fires', () => {
    const scheduler = new Scheduler([entry('ten', every(10 * SECOND))], { ten: { lastPlanned: date('2026-01-01T10:01:00Z') } });
    expect(tickThrough(scheduler, '2026-01-01T10:00:00Z', '2026-01-01T10:01:05Z', 500)).toEqual([]);
    expect(planned(scheduler.tick(date('2026-01-01T10:01:10Z')).due)).toEqual(['ten@2026-01-01T10:01:10.000Z']);
  });

  it('keep the state of entries that appear later through setEntries', () => {
    const scheduler = new Scheduler([], { later: { lastPlanned: date('2026-01-01T10:00:00Z') } });
    expect(scheduler.state()).toEqual({ later: { lastPlanned: date('2026-01-01T10:00:00Z') } });
    scheduler.setEntries([entry('later', every(10 * SECOND), { misfire: { policy: 'catch-up', max: 10 } })]);
    expect(planned(scheduler.tick(date('2026-01-01T10:00:30.500Z')).due)).toEqual([
      'later@2026-01-01T10:00:10.000Z',
      'later@2026-01-01T10:00:20.000Z',
      'later@2026-01-01T10:00:30.000Z',
    ]);
  });
});

describe('entries changed while the scheduler runs', () => {
  const a = entry('a', every(10 * SECOND));
  const b = entry('b', every(10 * SECOND));

  it('stop a disabled entry at once, restart it from now when re-enabled, and drop a deleted one', () => {
    const scheduler = new Scheduler([a, b]);
    expect(planned(tickThrough(scheduler, '2026-01-01T10:00:00Z', '2026-01-01T10:00:10Z', 500))).toEqual([
      'a@2026-01-01T10:00:10.000Z',
      'b@2026-01-01T10:00:10.000Z',
    ]);

    // Disabled at 10:00:20.4, before the tick that would fire its 10:00:20 slot.
    scheduler.setEntries([{ ...a, enabled: false }, b]);
    expect(planned(tickThrough(scheduler, '2026-01-01T10:00:20.400Z', '2026-01-01T10:00:45Z', 500))).toEqual([
      'b@2026-01-01T10:00:20.000Z',
      'b@2026-01-01T10:00:30.000Z',
      'b@2026-01-01T10:00:40.000Z',
    ]);
    expect(scheduler.nextPlanned('a')).toBeNull();

    // Re-enabled at 10:00:45: the slots of the disabled period never fire; the next one does.
    scheduler.setEntries([a, b]);
    expect(scheduler.tick(date('2026-01-01T10:00:45.200Z')).due).toEqual([]);

    // Deleted at 10:00:50.3, with its 10:00:50 slot due: it never fires again, and its state is gone.
    scheduler.setEntries([a]);
    expect(planned(tickThrough(scheduler, '2026-01-01T10:00:50.300Z', '2026-01-01T10:01:05Z', 500))).toEqual([
      'a@2026-01-01T10:00:50.000Z',
      'a@2026-01-01T10:01:00.000Z',
    ]);
    expect(Object.keys(scheduler.state())).toEqual(['a']);
  });

  it('start an entry added at runtime from now, with no instant fire', () => {
    const scheduler = new Scheduler([a]);
    scheduler.tick(date('2026-01-01T10:00:05Z'));
    scheduler.setEntries([a, entry('c', every(MINUTE))]);
    expect(scheduler.tick(date('2026-01-01T10:00:06Z')).due).toEqual([]);
    expect(scheduler.nextPlanned('c')?.toISOString()).toBe('2026-01-01T10:01:00.000Z');
  });

  it('continue a changed schedule from now without firing its past slots', () => {
    const hourly = entry('job', cron('0 * * * *'));
    const scheduler = new Scheduler([hourly]);
    scheduler.tick(date('2026-01-01T09:59:59Z'));
    expect(planned(scheduler.tick(date('2026-01-01T10:00:00Z')).due)).toEqual(['job@2026-01-01T10:00:00.000Z']);

    scheduler.setEntries([{ ...hourly, schedule: cron('*/5 * * * *', 'Asia/Shanghai') }]);
    expect(scheduler.tick(date('2026-01-01T10:12:30Z')).due).toEqual([]);
    expect(scheduler.tick(date('2026-01-01T10:12:30Z')).due).toEqual([]);
    expect(planned(tickThrough(scheduler, '2026-01-01T10:12:31Z', '2026-01-01T10:20:00Z', SECOND))).toEqual([
      'job@2026-01-01T10:15:00.000Z',
      'job@2026-01-01T10:20:00.000Z',
    ]);
  });

  it('apply a change of arguments to the next fire without moving it', () => {
    const scheduler = new Scheduler([a]);
    scheduler.tick(date('2026-01-01T10:00:05Z'));
    scheduler.setEntries([{ ...a, args: ['new'] }]);
    const [fire] = scheduler.tick(date('2026-01-01T10:00:10Z')).due;
    expect(fire.planned.toISOString()).toBe('2026-01-01T10:00:10.000Z');
    expect(fire.entry.args).toEqual(['new']);
  });
});

describe('fires', () => {
  it('carry a task id derived from the entry name and planned time', () => {
    const id = fireTaskId('report', date('2026-01-01T12:00:00Z'));
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(fireTaskId('report', date('2026-01-01T12:00:00Z'))).toBe(id);
    expect(fireTaskId('report', date('2026-01-01T12:00:00.001Z'))).not.toBe(id);
    expect(fireTaskId('report2', date('2026-01-01T12:00:00Z'))).not.toBe(id);
  });

  it('get the same task ids from two schedulers firing the same slots', () => {
    const entries = [entry('x', every(10 * SECOND)), entry('y', cron('* * * * * *'))];
    const one = tickThrough(new Scheduler(entries), '2026-01-01T10:00:00Z', '2026-01-01T10:00:30Z', 250);
    const two = tickThrough(new Scheduler(entries), '2026-01-01T10:00:00Z', '2026-01-01T10:00:30Z', 250);
    expect(one.map((fire) => fire.taskId)).toEqual(two.map((fire) => fire.taskId));
    expect(new Set(one.map((fire) => fire.taskId)).size).toBe(one.length);
    expect(one[0].taskId).toBe(fireTaskId(one[0].entry.name, one[0].planned));
  });

  it('expire `expires` seconds after their planned time, also when fired late', () => {
    const scheduler = new Scheduler([entry('report', every(10 * MINUTE), { expires: 30, misfire: { policy: 'catch-up', max: 2 } }), entry('plain', every(10 * MINUTE))], {
      report: { lastPlanned: date('2026-01-01T09:00:00Z') },
    });
    const fires = scheduler.tick(date('2026-01-01T09:25:00Z')).due;
    expect(fires.map((fire) => [fire.planned.toISOString(), fire.expiresAt?.toISOString()])).toEqual([
      ['2026-01-01T09:10:00.000Z', '2026-01-01T09:10:30.000Z'],
      ['2026-01-01T09:20:00.000Z', '2026-01-01T09:20:30.000Z'],
    ]);
    const [plain] = scheduler.tick(date('2026-01-01T09:30:00Z')).due.filter((fire) => fire.entry.name === 'plain');
    expect(plain.expiresAt).toBeNull();
  });

  it('come ordered by planned time, then entry name', () => {
    const scheduler = new Scheduler([entry('b', every(SECOND)), entry('a', every(SECOND))], {
      a: { lastPlanned: date('2026-01-01T10:00:00Z') },
      b: { lastPlanned: date('2026-01-01T10:00:00Z') },
    });
    expect(planned(scheduler.tick(date('2026-01-01T10:00:02Z')).due)).toEqual([
      'a@2026-01-01T10:00:01.000Z',
      'b@2026-01-01T10:00:01.000Z',
      'a@2026-01-01T10:00:02.000Z',
      'b@2026-01-01T10:00:02.000Z',
    ]);
  });
});

describe('startAt, endAt and one-off entries', () => {
  it('fire nothing before startAt or after endAt', () => {
    const bounded = entry('bounded', every(10 * SECOND), { startAt: date('2026-01-01T10:00:05Z'), endAt: date('2026-01-01T10:00:35Z') });
    const scheduler = new Scheduler([bounded]);
    expect(planned(tickThrough(scheduler, '2026-01-01T10:00:00Z', '2026-01-01T10:01:00Z', 500))).toEqual([
      'bounded@2026-01-01T10:00:05.000Z',
      'bounded@2026-01-01T10:00:15.000Z',
      'bounded@2026-01-01T10:00:25.000Z',
      'bounded@2026-01-01T10:00:35.000Z',
    ]);
    expect(scheduler.nextPlanned('bounded')).toBeNull();
    expect(scheduler.tick(date('2026-01-01T10:01:00Z')).nextDelayMs).toBe(1000);
  });

  it('fire a one-off `at` entry once', () => {
    const once = entry('once', at('2026-01-01T10:00:30Z'));
    const scheduler = new Scheduler([once]);
    expect(planned(tickThrough(scheduler, '2026-01-01T10:00:00Z', '2026-01-01T10:02:00Z', 500))).toEqual(['once@2026-01-01T10:00:30.000Z']);
    expect(new Scheduler([once], scheduler.state()).tick(date('2026-01-01T10:03:00Z')).due).toEqual([]);
  });

  it('treat a new one-off whose time has passed as a missed fire', () => {
    const late = date('2026-01-01T10:05:00Z');
    expect(planned(new Scheduler([entry('once', at('2026-01-01T10:00:30Z'))]).tick(late).due)).toEqual(['once@2026-01-01T10:00:30.000Z']);
    expect(new Scheduler([entry('once', at('2026-01-01T10:00:30Z'), { misfire: { policy: 'skip' } })]).tick(late).due).toEqual([]);
  });
});

describe('nextDelayMs', () => {
  it('is the time until the earliest next fire, capped at maxDelayMs', () => {
    const scheduler = new Scheduler([entry('ten', every(10 * SECOND)), entry('hour', every(60 * MINUTE))]);
    expect(scheduler.tick(date('2026-01-01T10:00:03.250Z')).nextDelayMs).toBe(1000);
    expect(scheduler.tick(date('2026-01-01T10:00:09.600Z')).nextDelayMs).toBe(400);
    expect(scheduler.tick(date('2026-01-01T10:00:10.000Z')).nextDelayMs).toBe(1000);

    const relaxed = new Scheduler([entry('ten', every(10 * SECOND))], {}, { maxDelayMs: 30_000 });
    expect(relaxed.tick(date('2026-01-01T10:00:03.250Z')).nextDelayMs).toBe(6750);
  });

  it('is maxDelayMs when nothing is scheduled', () => {
    expect(new Scheduler([]).tick(date('2026-01-01T10:00:00Z')).nextDelayMs).toBe(1000);
    expect(new Scheduler([entry('off', every(SECOND), { enabled: false })], {}, { maxDelayMs: 250 }).tick(date('2026-01-01T10:00:00Z')).nextDelayMs).toBe(250);
  });

  it('refuses a cap or grace that would make beat spin or misbehave', () => {
    expect(() => new Scheduler([], {}, { maxDelayMs: 0 })).toThrow('maxDelayMs must be a number above 0 (got 0)');
    expect(() => new Scheduler([], {}, { graceMs: -1 })).toThrow('graceMs must be a number of 0 or more (got -1)');
  });
});
