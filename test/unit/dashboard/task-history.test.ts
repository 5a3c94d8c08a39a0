import type { CeleryEvent } from '../../../src/control';
import { DepthSeries, TaskHistory } from '../../../src/dashboard';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

/** A task event at `ms` after T0. */
function event(type: string, uuid: string, ms: number, fields: Record<string, unknown> = {}): CeleryEvent {
  return { type, uuid, hostname: 'w1@host', utcoffset: 0, pid: 1, clock: 1, timestamp: (T0 + ms) / 1000, ...fields };
}

describe('TaskHistory', () => {
  test('follows a task from sent to success, with its reprs, worker and runtime', () => {
    const history = new TaskHistory();
    history.add(event('task-sent', 'a', 0, { name: 'app.add', args: '(1, 2)', kwargs: '{}', queue: 'q1', hostname: 'gen1@client' }));
    expect(history.get('a')).toMatchObject({ state: 'PENDING', name: 'app.add', queue: 'q1', worker: undefined });
    history.add(event('task-received', 'a', 10, { name: 'app.add', args: '(1, 2)', kwargs: '{}', retries: 0 }));
    history.add(event('task-started', 'a', 20));
    history.add(event('task-succeeded', 'a', 30, { result: '3', runtime: 0.01 }));
    expect(history.get('a')).toMatchObject({ state: 'SUCCESS', worker: 'w1@host', args: '(1, 2)', result: '3', runtime: 0.01, received: T0 + 10, started: T0 + 20, finished: T0 + 30 });
    expect(history.workerCounts('w1@host')).toEqual({ succeeded: 1, failed: 0 });
  });

  test('events out of order: a late earlier stage never undoes a later one, nor anything a ready state', () => {
    const history = new TaskHistory();
    history.add(event('task-succeeded', 'a', 30, { result: '1' }));
    history.add(event('task-started', 'a', 20));
    history.add(event('task-received', 'a', 10, { name: 'x' }));
    expect(history.get('a')!.state).toBe('SUCCESS');
    history.add(event('task-started', 'b', 20));
    history.add(event('task-received', 'b', 10));
    expect(history.get('b')!.state).toBe('STARTED');
  });

  test('a retried task shows RETRY, then RECEIVED again when it comes back, then its outcome', () => {
    const history = new TaskHistory();
    history.add(event('task-received', 'a', 0, { name: 'x' }));
    history.add(event('task-started', 'a', 1));
    history.add(event('task-retried', 'a', 2, { exception: "ValueError('later')" }));
    expect(history.get('a')).toMatchObject({ state: 'RETRY', exception: "ValueError('later')" });
    history.add(event('task-received', 'a', 1000, { retries: 1 }));
    expect(history.get('a')).toMatchObject({ state: 'RECEIVED', retries: 1 });
    history.add(event('task-failed', 'a', 1010, { exception: "ValueError('no')", traceback: 'Traceback...' }));
    expect(history.get('a')).toMatchObject({ state: 'FAILURE', exception: "ValueError('no')", traceback: 'Traceback...' });
  });

  test('keeps at most maxTasks, forgetting the task first seen earliest, and its place among its parent\'s children', () => {
    const history = new TaskHistory({ maxTasks: 3 });
    history.add(event('task-received', 'parent', 0, { name: 'p' }));
    history.add(event('task-received', 'c1', 1, { name: 'c', parent_id: 'parent' }));
    history.add(event('task-received', 'c2', 2, { name: 'c', parent_id: 'parent' }));
    expect(history.childrenOf('parent')).toEqual(['c1', 'c2']);
    history.add(event('task-received', 'c3', 3, { name: 'c', parent_id: 'parent' }));
    expect(history.size).toBe(3);
    expect(history.evicted).toBe(1);
    expect(history.get('parent')).toBeUndefined();
    history.add(event('task-received', 'd', 4, { name: 'd' }));
    expect(history.get('c1')).toBeUndefined();
    expect(history.childrenOf('parent')).toEqual(['c2', 'c3']);
    // A later event of a kept task does not make it younger: first seen is what counts.
    history.add(event('task-succeeded', 'c2', 5));
    history.add(event('task-received', 'e', 6, { name: 'e' }));
    expect(history.get('c2')).toBeUndefined();
    expect(history.query().map((t) => t.uuid)).toEqual(['e', 'd', 'c3']);
    expect(() => new TaskHistory({ maxTasks: 0 })).toThrow('maxTasks must be a whole number of at least 1 (got 0)');
  });

  test('filters by name, state, worker and a part of the id, newest first, up to a limit', () => {
    const history = new TaskHistory();
    history.add(event('task-received', 'aaa-1', 0, { name: 'x' }));
    history.add(event('task-received', 'bbb-2', 1, { name: 'y', hostname: 'w2@host' }));
    history.add(event('task-received', 'aaa-3', 2, { name: 'x' }));
    history.add(event('task-failed', 'aaa-3', 3));
    expect(history.query({ name: 'x' }).map((t) => t.uuid)).toEqual(['aaa-3', 'aaa-1']);
    expect(history.query({ state: 'failure' }).map((t) => t.uuid)).toEqual(['aaa-3']);
    expect(history.query({ worker: 'w2@host' }).map((t) => t.uuid)).toEqual(['bbb-2']);
    expect(history.query({ id: 'AAA' }).map((t) => t.uuid)).toEqual(['aaa-3', 'aaa-1']);
    expect(history.query({ limit: 1 }).map((t) => t.uuid)).toEqual(['aaa-3']);
    expect(history.taskNames()).toEqual(['x', 'y']);
    expect(history.stateCounts()).toEqual({ RECEIVED: 2, FAILURE: 1 });
  });

  test('counts outcomes per name per minute over the last hour only, and bounds the names kept', () => {
    const history = new TaskHistory({ maxNames: 2 });
    const minute = 60_000;
    history.add(event('task-received', 'old', 0, { name: 'x' }), T0);
    history.add(event('task-succeeded', 'old', 1), T0);
    history.add(event('task-received', 'a', 0, { name: 'x' }), T0 + 59 * minute);
    history.add(event('task-failed', 'a', 1), T0 + 59 * minute);
    history.add(event('task-received', 'b', 0, { name: 'x' }), T0 + 61 * minute);
    history.add(event('task-succeeded', 'b', 1), T0 + 61 * minute);
    const [x] = history.nameStats(T0 + 61 * minute);
    expect(x).toMatchObject({ name: 'x', succeeded: 2, failed: 1 });
    expect(x.perMinute).toHaveLength(60);
    expect(x.perMinute[59]).toEqual([1, 0]);
    expect(x.perMinute[57]).toEqual([0, 1]);
    expect(x.perMinute.reduce((sum, [s, f]) => sum + s + f, 0)).toBe(2); // the success at T0 is over an hour old
    for (const name of ['y', 'z']) {
      history.add(event('task-received', name, 0, { name }));
      history.add(event('task-succeeded', name, 1));
    }
    expect(history.nameStats().map((n) => n.name)).toEqual(['y', 'z']);
  });

  test('tasks that inspect says a worker holds are there after a restart, without overwriting what events said', () => {
    const history = new TaskHistory();
    history.addHeld('w1@host', { id: 'run', name: 'slow', args: [1], kwargs: {}, time_start: T0 / 1000 }, 'STARTED', T0);
    history.addHeld('w1@host', { id: 'wait', name: 'slow', args: '(2,)', kwargs: '{}' }, 'RECEIVED', T0);
    expect(history.get('run')).toMatchObject({ state: 'STARTED', worker: 'w1@host', args: '[1]', started: T0 });
    expect(history.get('wait')).toMatchObject({ state: 'RECEIVED', args: '(2,)' });
    history.add(event('task-succeeded', 'run', 10));
    history.addHeld('w1@host', { id: 'run', name: 'slow' }, 'STARTED', T0);
    expect(history.get('run')!.state).toBe('SUCCESS');
  });

  test('ignores events that are not about a task', () => {
    const history = new TaskHistory();
    history.add({ type: 'worker-heartbeat', hostname: 'w', utcoffset: 0, pid: 1, clock: 1, timestamp: 1 });
    history.add({ type: 'task-received', hostname: 'w', utcoffset: 0, pid: 1, clock: 1, timestamp: 1 });
    expect(history.size).toBe(0);
    expect(history.version).toBe(0);
  });
});

describe('DepthSeries', () => {
  test('one point per slot, at most the window, at most maxPoints', () => {
    const series = new DepthSeries({ windowMs: 60_000, maxPoints: 6 }); // a slot is 10 s
    series.add('q', T0, 1);
    series.add('q', T0 + 5_000, 2); // same slot: replaces
    series.add('q', T0 + 10_000, 3);
    expect(series.points('q')).toEqual([
      [T0, 2],
      [T0 + 10_000, 3],
    ]);
    for (let s = 20; s <= 120; s += 10) series.add('q', T0 + s * 1000, s);
    const points = series.points('q');
    expect(points.length).toBeLessThanOrEqual(6);
    expect(points[0][0]).toBeGreaterThanOrEqual(T0 + 60_000);
    expect(points[points.length - 1]).toEqual([T0 + 120_000, 120]);
    expect(series.points('other')).toEqual([]);
  });

  test('growth: ready messages per second over the recent span', () => {
    const series = new DepthSeries({ windowMs: 3_600_000, maxPoints: 3600 });
    series.add('q', T0, 10);
    series.add('q', T0 + 10_000, 30);
    expect(series.growth('q', T0 + 10_000)).toBeCloseTo(2);
    expect(series.growth('q', T0 + 100_000)).toBe(0);
  });
});
