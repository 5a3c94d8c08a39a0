import { parseRateLimit, RateLimits } from '../../../src/worker/rate-limits';
import type { Delivery } from '../../../src/worker/delivery';
import { createApp } from '../../../src';
import { until } from '../../support/memory';
import { memoryApp, type MemoryApp } from '../../support/memory-app';

/** A stand-in delivery: RateLimits only keeps and hands back what it is given. */
function delivery(name: string): Delivery {
  return { name } as unknown as Delivery;
}

/** The name a stand-in delivery was made with. */
function nameOf(d: Delivery): string {
  return (d as unknown as { name: string }).name;
}

describe("Celery's rate limit strings", () => {
  test.each([
    ['10/s', 10],
    ['10/sec', 10],
    ['90/m', 1.5],
    ['5/minute', 5 / 60],
    ['7200/h', 2],
    ['2.5', 2.5],
    [' 4 / s ', 4],
    [3, 3],
    [0, 0],
    ['0', 0],
    ['', 0],
  ])('%j is %d per second', (given, perSecond) => {
    expect(parseRateLimit(given)).toBeCloseTo(perSecond, 10);
  });

  test.each([['10/d'], ['ten/s'], ['10/s/m'], [-1], [Infinity], [{}], ['-2/s']])('%j is refused, saying what a rate limit is', (given) => {
    expect(() => parseRateLimit(given)).toThrow(`a rate limit is a number of tasks per second, or a string like '10/s', '100/m' or '1000/h' (got ${JSON.stringify(given)})`);
  });

  test('a task registered with a bad rateLimit is refused at once, naming the task', () => {
    const app = createApp({ definitions: { exchanges: [], queues: [{ name: 'q' }], defaultQueue: 'q' } as never });
    expect(() => app.task('t', async () => 1, { rateLimit: '10/fortnight' })).toThrow('task "t"');
    expect(() => app.task('t', async () => 1, { rateLimit: '10/fortnight' })).toThrow("rateLimit: a rate limit is a number of tasks per second, or a string like '10/s', '100/m' or '1000/h' (got \"10/fortnight\")");
  });
});

describe('RateLimits: a token bucket of one per task, per worker', () => {
  beforeEach(() => jest.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => jest.useRealTimers());

  function limits(own: Record<string, number>): { limits: RateLimits; released: Array<[string, number]> } {
    const released: Array<[string, number]> = [];
    const made = new RateLimits(
      (name) => own[name],
      (d) => released.push([nameOf(d), Date.now() - 1_000_000]),
    );
    return { limits: made, released };
  }

  test('the first start is at once; the next ones wait 1/N s each, in arrival order; unlimited tasks never wait', () => {
    const { limits: l, released } = limits({ slow: 4 });
    expect(l.hold(delivery('a'), 'slow')).toBe(false);
    expect(l.hold(delivery('b'), 'slow')).toBe(true);
    expect(l.hold(delivery('c'), 'slow')).toBe(true);
    expect(l.hold(delivery('x'), 'fast')).toBe(false);
    expect(l.waiting().map(nameOf)).toEqual(['b', 'c']);
    jest.advanceTimersByTime(249);
    expect(released).toEqual([]);
    jest.advanceTimersByTime(1);
    expect(released).toEqual([['b', 250]]);
    jest.advanceTimersByTime(250);
    expect(released).toEqual([['b', 250], ['c', 500]]);
    // Idle for long enough: the next one starts at once again (one token, no burst saved up).
    jest.advanceTimersByTime(5000);
    expect(l.hold(delivery('d'), 'slow')).toBe(false);
    expect(l.hold(delivery('e'), 'slow')).toBe(true);
  });

  test('set (remote rate_limit) changes the pace of what waits; 0 releases it all at once and lifts the limit', () => {
    const { limits: l, released } = limits({ slow: 1 });
    l.hold(delivery('a'), 'slow');
    l.hold(delivery('b'), 'slow');
    l.hold(delivery('c'), 'slow');
    l.set('slow', 10);
    expect(l.limit('slow')).toBe(10);
    jest.advanceTimersByTime(100);
    expect(released.map(([name]) => name)).toEqual(['b']);
    l.set('slow', 0);
    expect(released.map(([name]) => name)).toEqual(['b', 'c']);
    expect(l.hold(delivery('d'), 'slow')).toBe(false);
    expect(l.hold(delivery('e'), 'slow')).toBe(false);
    // A limit set on a task that had none applies from its next delivery.
    l.set('fast', 2);
    expect(l.hold(delivery('f'), 'fast')).toBe(false);
    expect(l.hold(delivery('g'), 'fast')).toBe(true);
  });

  test('take hands back what waits (stop, a closed channel) and nothing is released afterwards', () => {
    const { limits: l, released } = limits({ slow: 1 });
    l.hold(delivery('a'), 'slow');
    l.hold(delivery('b'), 'slow');
    l.hold(delivery('c'), 'slow');
    expect(l.take((d) => nameOf(d) === 'c').map(nameOf)).toEqual(['c']);
    expect(l.take().map(nameOf)).toEqual(['b']);
    jest.advanceTimersByTime(10_000);
    expect(released).toEqual([]);
    expect(l.waiting()).toEqual([]);
  });
});

describe('a worker with a rate-limited task (memory broker)', () => {
  let env: MemoryApp | undefined;
  afterEach(async () => {
    await env?.close();
    env = undefined;
  });

  test('what waits for its turn shows as reserved and takes no slot; stop hands it back to the queue, none lost', async () => {
    env = memoryApp();
    const ran: string[] = [];
    env.app.task('slow', async (n: number) => void ran.push(`slow ${n}`), { rateLimit: '1/m' });
    env.app.task('other', async () => void ran.push('other'));
    const worker = await env.app.startWorker({ queues: ['jobs'], concurrency: 1, prefetchMultiplier: 4 });
    for (const n of [1, 2, 3]) await env.app.sendTask('slow', [n], {}, { ignoreResult: true });
    await env.app.sendTask('other', [], {}, { ignoreResult: true });
    await until(() => ran.length === 2, 'the first slow task and the other one');
    expect(ran).toEqual(['slow 1', 'other']);
    expect(worker.snapshot().reserved.map((t) => t.task.args)).toEqual([[2], [3]]);
    expect(worker.reservedCount).toBe(2);
    await worker.stop();
    expect(env.broker.queue('jobs')).toMatchObject({ messageCount: 2, unackedCount: 0 });
    expect(ran).toEqual(['slow 1', 'other']);
  });
});
