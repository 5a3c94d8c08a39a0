import { Beat, LeaderLock, Schedules, type Fire, type LockConnection } from '../../../src/beat';
import type { LockChannel } from '../../../src/beat/leader-lock';
import { resolveDefinitions } from '../../../src/config';
import { ListenerError, ScheduleStoreError, TopologyMismatchError, UnroutableError } from '../../../src/errors';
import { captureLogger } from '../../support/capture-logger';
import { FlakyStore } from './flaky-store';

const EVERY_MS = 100;

const definitions = resolveDefinitions([
  {
    file: 'definitions/warren.yaml',
    content: {
      queues: [{ name: 'beat' }],
      defaultQueue: 'beat',
      schedule: { tick: { task: 'app.tick', every: `${EVERY_MS}ms`, misfire: { policy: 'catch-up', max: 1000 } } },
    },
  },
]);

/** A broker-side lock channel that grants the lock, after refusing `refusals` declares with `code`. */
function lockConnection(refusals = 0, code = 406): LockConnection & { attempts: number } {
  const connection = {
    attempts: 0,
    async createChannel(): Promise<LockChannel> {
      connection.attempts += 1;
      const refuse = connection.attempts <= refusals;
      return {
        assertQueue: async () => {
          if (refuse) throw Object.assign(new Error(`Channel closed by server: ${code} (PRECONDITION-FAILED) with message "inequivalent arg 'x-expires'"`), { code });
          return {};
        },
        consume: async () => ({}),
        deleteQueue: async () => ({}),
        close: async () => undefined,
        on: () => undefined,
        removeListener: () => undefined,
      };
    },
  };
  return connection;
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

interface Harness {
  beat: Beat;
  store: FlakyStore;
  sent: Fire[];
  errors: Error[];
  lines: () => Array<Record<string, unknown>>;
}

function harness(options: { lock?: LockConnection; send?: (fire: Fire) => Promise<void> } = {}): Harness {
  const store = new FlakyStore();
  const { logger, lines } = captureLogger('info');
  const sent: Fire[] = [];
  const errors: Error[] = [];
  const beat = new Beat({
    schedules: new Schedules(async () => definitions, store),
    store,
    lock: new LeaderLock({ connection: options.lock ?? lockConnection(), suffix: 'unit' }),
    logger,
    pollMs: 20,
    lockRetryMs: 20,
    retryMs: 20,
    maxRetryMs: 80,
    send:
      options.send ??
      (async (fire) => {
        sent.push(fire);
      }),
  });
  beat.on('error', (error) => errors.push(error));
  return { beat, store, sent, errors, lines };
}

/** Planned times (ms) of the fires, each at most once and every slot between first and last. */
function expectEverySlotOnce(fires: readonly Fire[]): void {
  const ids = fires.map((f) => f.taskId);
  expect(new Set(ids).size).toBe(ids.length);
  const planned = fires.map((f) => f.planned.getTime()).sort((a, b) => a - b);
  expect(planned.map((p) => (p - planned[0]) / EVERY_MS)).toEqual(planned.map((_, i) => i));
}

describe('beat survives failures of its store, its lock and its listeners', () => {
  let running: Beat | undefined;
  afterEach(async () => {
    await running?.stop();
    running = undefined;
  });

  test('a store that fails for a while, then recovers: beat backs off, then fires every slot once from the store state', async () => {
    const { beat, store, sent, errors, lines } = harness();
    running = beat;
    await beat.start();
    await waitFor('three fires', () => sent.length >= 3);

    store.failing = () => true;
    await waitFor('four failed rounds', () => errors.length >= 4);
    const sentWhileFailing = sent.length;
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Nothing new fires while the store cannot record it (at most the fires of the round in which it began failing).
    expect(sent.length - sentWhileFailing).toBe(0);

    store.failing = () => false;
    await waitFor('three fires after the recovery', () => sent.length >= sentWhileFailing + 3);
    await beat.stop();

    expectEverySlotOnce(sent);
    expect(store.state.get('tick')?.getTime()).toBe(Math.max(...sent.map((f) => f.planned.getTime())));
    expect(errors.every((e) => e instanceof ScheduleStoreError)).toBe(true);
    expect(errors[0].message).toMatch(/^the schedule store at memory:\/\/flaky refused (changeToken|saveState|loadState): connection refused$/);
    const failed = lines().filter((line) => line.msg === 'beat round failed; retrying');
    // Once per distinct failure: the store's message names the call, so at most one line per method.
    expect(failed.length).toBeGreaterThanOrEqual(1);
    expect(failed.length).toBeLessThanOrEqual(new Set(store.failures).size);
    expect(lines().filter((line) => line.msg === 'beat recovered')).toHaveLength(1);
  });

  test('a fire the broker confirmed but the store did not record is recorded first when the store is back, and never fires again', async () => {
    const { beat, store, sent, errors } = harness();
    running = beat;
    await beat.start();
    await waitFor('two fires', () => sent.length >= 2);

    // Only saveState fails: the next fire goes out, and its record is refused.
    store.failing = (method) => method === 'saveState';
    await waitFor('a fire that the store did not record', () => store.failures.length >= 1);
    const unrecorded = sent[sent.length - 1];
    await waitFor('three failed rounds', () => errors.length >= 3);
    expect(store.state.get('tick')!.getTime()).toBeLessThan(unrecorded.planned.getTime());

    store.failing = () => false;
    await waitFor('the fire recorded late', () => (store.state.get('tick')?.getTime() ?? 0) >= unrecorded.planned.getTime());
    await waitFor('three more fires', () => sent.filter((f) => f.planned > unrecorded.planned).length >= 3);
    await beat.stop();

    expect(sent.filter((f) => f.taskId === unrecorded.taskId)).toHaveLength(1);
    expectEverySlotOnce(sent);
  });

  test('a lock the broker refuses with 406 is retried with backoff, emitted as error and logged once; beat leads once it is granted', async () => {
    const lock = lockConnection(4, 406);
    const { beat, sent, errors, lines } = harness({ lock });
    running = beat;
    const leaders: string[] = [];
    beat.on('leader', ({ queue }) => leaders.push(queue));
    await beat.start();
    await waitFor('two fires', () => sent.length >= 2);

    expect(lock.attempts).toBe(5);
    expect(errors).toHaveLength(4);
    expect(errors.every((e) => e instanceof TopologyMismatchError)).toBe(true);
    expect(errors[0].message).toBe(
      `queue "warren.beat.lock.unit" exists on the broker with other settings: Channel closed by server: 406 (PRECONDITION-FAILED) with message "inequivalent arg 'x-expires'"; the lock must be a queue only beats declare`,
    );
    expect(lines().filter((line) => line.msg === 'beat round failed; retrying')).toHaveLength(1);
    expect(leaders).toEqual(['warren.beat.lock.unit']);
  });

  test('a listener that throws changes nothing: fires go on and are recorded; the exception is emitted as error', async () => {
    const { beat, store, sent, errors } = harness();
    running = beat;
    beat.on('fired', () => {
      throw new Error('dashboard is down');
    });
    beat.on('leader', () => {
      throw new Error('leader listener bug');
    });
    await beat.start();
    await waitFor('three fires', () => sent.length >= 3);
    await waitFor('three recorded', () => (store.state.get('tick')?.getTime() ?? 0) >= sent[2].planned.getTime());
    expect(errors[0]).toBeInstanceOf(ListenerError);
    expect(errors.map((e) => e.message)).toContain('a listener of the "leader" event threw: Error: leader listener bug');
    expect(errors.map((e) => e.message)).toContain('a listener of the "fired" event threw: Error: dashboard is down');
    expectEverySlotOnce(sent);
  });

  test('with no error listener, a throwing listener is logged and beat keeps firing', async () => {
    const store = new FlakyStore();
    const { logger, lines } = captureLogger('info');
    const sent: Fire[] = [];
    const beat = new Beat({
      schedules: new Schedules(async () => definitions, store),
      store,
      lock: new LeaderLock({ connection: lockConnection(), suffix: 'unit' }),
      logger,
      pollMs: 20,
      send: async (fire) => {
        sent.push(fire);
      },
    });
    running = beat;
    beat.on('fired', () => {
      throw new Error('listener bug');
    });
    await beat.start();
    await waitFor('three fires', () => sent.length >= 3);
    const logged = lines().filter((line) => line.msg === 'a listener of the "fired" event threw; it was ignored');
    expect(logged.length).toBeGreaterThanOrEqual(2);
    expect(String(logged[0].err)).toContain('listener bug');
  });

  test('a fire dropped as unroutable is emitted as error and recorded, so it is not sent again', async () => {
    let calls = 0;
    const sent: Fire[] = [];
    const { beat, store, errors } = harness({
      send: async (fire) => {
        calls += 1;
        if (calls === 1) throw new UnroutableError('', 'beat', '312 NO_ROUTE');
        sent.push(fire);
      },
    });
    running = beat;
    await beat.start();
    await waitFor('two fires after the dropped one', () => sent.length >= 2);
    expect(errors.map((e) => e.message)).toEqual(['message to exchange "(default)" with routing key "beat" was returned unroutable by the broker (312 NO_ROUTE)']);
    expect(store.state.get('tick')!.getTime()).toBeGreaterThanOrEqual(sent[1].planned.getTime());
  });

  test('emits ready once after start() resolved, and closed once stopped', async () => {
    const { beat } = harness();
    const seen: string[] = [];
    await beat.start();
    beat.on('ready', () => seen.push('ready'));
    beat.on('closed', () => seen.push('closed'));
    await waitFor('ready', () => seen.length === 1);
    await Promise.all([beat.stop(), beat.stop()]);
    expect(seen).toEqual(['ready', 'closed']);
  });
});
