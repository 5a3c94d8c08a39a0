import { floatish, RevokedIds } from '../../../src/control/revoked-ids';

describe('RevokedIds (Celery LimitedSet(maxlen=50000, expires=10800))', () => {
  let now = 1000;
  const clock = (): number => now;

  beforeEach(() => {
    now = 1000;
  });

  test('an id is revoked for three hours from when it was revoked, then forgotten', () => {
    const ids = new RevokedIds(50_000, 10_800, clock);
    ids.add('a');
    now += 10_799;
    expect(ids.has('a')).toBe(true);
    now += 1;
    expect(ids.has('a')).toBe(false);
    expect(ids.list()).toEqual([]);
  });

  test('past maxlen the oldest ids go first', () => {
    const ids = new RevokedIds(3, 10_800, clock);
    for (const id of ['a', 'b', 'c', 'd']) {
      ids.add(id);
      now += 1;
    }
    expect(ids.list()).toEqual(['b', 'c', 'd']);
  });

  test("takes Python's hello shapes: {id: [time, id]}, {id: time} and a list; a time later than now counts as now", () => {
    const ids = new RevokedIds(50_000, 10_800, clock);
    expect(ids.update({ a: [990.5, 'a'], b: 995.25, future: [99_999.5, 'future'], stale: [-20_000.5, 'stale'], bad: 'x' })).toBe(3);
    expect(ids.update(['c'])).toBe(1);
    expect(ids.list()).toEqual(['a', 'b', 'future', 'c']);
    now += 10_800;
    expect(ids.has('future')).toBe(false); // clamped to "now" when it came, so it expired on time
  });

  test('toMingle sends times that JSON writes as floats (Python refuses ints)', () => {
    const ids = new RevokedIds(50_000, 10_800, clock);
    ids.add('a', 1000);
    expect(JSON.stringify(ids.toMingle())).toBe('{"a":[1000.000001,"a"]}');
    expect(floatish(2.5)).toBe(2.5);
  });

  test('wall-clock entries for a state file keep each id\'s remaining time across a reboot', () => {
    const ids = new RevokedIds(50_000, 10_800, clock);
    ids.add('a', 900); // revoked 100 s ago
    const saved = ids.toWallClock(5_000_000);
    expect(saved).toEqual([['a', 4_900_000]]);
    now = 3; // after a reboot, the monotonic clock starts again
    const restored = new RevokedIds(50_000, 10_800, clock);
    expect(restored.fromWallClock(saved, 5_000_000 + 60_000)).toBe(1);
    now += 10_800 - 160 - 1;
    expect(restored.has('a')).toBe(true);
    now += 1;
    expect(restored.has('a')).toBe(false);
  });
});
