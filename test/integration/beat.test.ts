import { join } from 'node:path';
import { Client } from 'pg';
import { createApp, createLogger, type App, type Beat, type BeatEvents } from '../../src';
import { BrokerProbe, randomPrefix, waitFor, writeDefinitionsFile } from '../support/broker';
import { captureLogger } from '../support/capture-logger';
import { testBrokerUrl } from '../support/broker-url';
import { runCli, WorkerProcess } from '../support/worker-process';

const POSTGRES_URL = process.env.WARREN_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

interface Received {
  id: string;
  entry: string;
  planned: number;
}

/** Everything beat published to `queue` so far, in order. */
async function drain(probe: BrokerProbe, queue: string, into: Received[]): Promise<Received[]> {
  for (;;) {
    const message = await probe.get(queue);
    if (message === false) return into;
    const headers = message.properties.headers ?? {};
    into.push({ id: String(headers.id), entry: String(headers['x-warren-beat-entry']), planned: Date.parse(String(headers['x-warren-beat-planned'])) });
  }
}

function beatDefinitions(prefix: string, schedule: Record<string, unknown>): Record<string, unknown> {
  return { broker: { url: testBrokerUrl() }, queues: [{ name: `${prefix}.beat` }], defaultQueue: `${prefix}.beat`, schedule };
}

describe('beat on a real broker and real time', () => {
  let probe: BrokerProbe;
  const cleanUp: Array<() => Promise<void> | void> = [];

  beforeAll(async () => {
    probe = await BrokerProbe.open();
  });

  afterAll(async () => {
    for (const step of cleanUp.reverse()) await step();
    await probe.close();
  });

  function setUp(label: string, schedule: Record<string, unknown>) {
    const prefix = randomPrefix(label);
    const defs = writeDefinitionsFile(beatDefinitions(prefix, schedule));
    const store = join(defs.dir, 'beat-state.json');
    cleanUp.push(async () => {
      await probe.cleanUp([`${prefix}.beat`]);
      defs.remove();
    });
    return { prefix, queue: `${prefix}.beat`, defs, store };
  }

  test('an entry every second fires 10 times in 10 seconds with planned times one second apart', async () => {
    const { prefix, queue, defs, store } = setUp('beat-every', { tick: { task: 'beat.tick', every: '1s', args: ['hello'] } });
    const app = createApp({ definitions: defs.file, scheduleStore: store, logger: createLogger({ level: 'silent' }) });
    cleanUp.push(() => app.close());
    const fired: Array<BeatEvents['fired']> = [];
    const beat = await app.startBeat({ lockSuffix: prefix });
    beat.on('fired', (event) => fired.push(event));

    await waitFor('ten fires', () => fired.length >= 10, 12_000);
    await app.close();

    const received = await drain(probe, queue, []);
    const first10 = received.slice(0, 10);
    expect(first10.map((r) => r.planned - first10[0].planned)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((s) => s * 1000));
    expect(first10[0].planned % 1000).toBe(0);
    expect(new Set(received.map((r) => r.id)).size).toBe(received.length);
    expect(fired.slice(0, 10).map((f) => f.fire.taskId)).toEqual(first10.map((r) => r.id));
    const lags = fired.map((f) => f.lagMs).sort((a, b) => a - b);
    console.log(`every-1s fire lag over ${lags.length} fires: p50 ${lags[Math.floor(lags.length / 2)]} ms, max ${lags[lags.length - 1]} ms`);
    expect(lags[lags.length - 1]).toBeLessThan(1000);
  }, 20_000);

  test('two beats run together: one fires, the other stands by, no task id twice; SIGKILL the leader and the other continues within 5 s', async () => {
    const { prefix, queue, defs, store } = setUp('beat-pair', {
      tick: { task: 'beat.tick', every: '1s', misfire: { policy: 'catch-up', max: 30 } },
    });
    const args = ['--definitions', defs.file, '--store', store, '--lock-suffix', prefix, '-l', 'info'];
    const a = new WorkerProcess(args, {}, 'beat');
    const b = new WorkerProcess(args, {}, 'beat');
    cleanUp.push(async () => {
      await a.stop('SIGKILL');
      await b.stop('SIGKILL');
    });
    await Promise.all([a.ready, b.ready]);
    await waitFor('a leader', () => a.logLines('leading: firing the schedule').length + b.logLines('leading: firing the schedule').length === 1, 5000);
    const [leader, follower] = a.logLines('leading: firing the schedule').length === 1 ? [a, b] : [b, a];

    await new Promise((resolve) => setTimeout(resolve, 3500));
    expect(follower.logLines('fired')).toEqual([]);
    expect(leader.logLines('fired').length).toBeGreaterThanOrEqual(3);

    await leader.stop('SIGKILL');
    const killedAt = Date.now();
    await waitFor('the follower to lead', () => follower.logLines('leading: firing the schedule').length === 1, 5000);
    await waitFor('the follower to fire', () => follower.logLines('fired').length >= 3, 8000);
    const firstFire = follower.logLines('fired')[0];
    expect(Number(firstFire.time) - killedAt).toBeLessThan(5000);
    await follower.stop('SIGTERM');

    // Catch-up policy: every planned second from the first fire to the last appears exactly once.
    const received = await drain(probe, queue, []);
    const ids = received.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    const planned = received.map((r) => r.planned).sort((x, y) => x - y);
    expect(planned.map((p) => (p - planned[0]) / 1000)).toEqual(planned.map((_, i) => i));
    console.log(`takeover: ${received.length} fires, follower's first fire ${Number(firstFire.time) - killedAt} ms after SIGKILL`);
  }, 30_000);

  test('an entry that cannot be routed is logged and skipped; the rest of the schedule keeps firing', async () => {
    const prefix = randomPrefix('beat-unroutable');
    const defs = writeDefinitionsFile({
      broker: { url: testBrokerUrl() },
      exchanges: [{ name: `${prefix}.x`, type: 'direct' }],
      queues: [{ name: `${prefix}.beat`, exchange: `${prefix}.x`, routingKey: 'good' }],
      defaultQueue: `${prefix}.beat`,
      schedule: {
        good: { task: 'beat.good', every: '1s' },
        lost: { task: 'beat.lost', every: '1s', exchange: `${prefix}.x`, routingKey: 'nowhere' },
      },
    });
    cleanUp.push(async () => {
      await probe.cleanUp([`${prefix}.beat`], [`${prefix}.x`]);
      defs.remove();
    });
    const logs = captureLogger('info');
    const app = createApp({ definitions: defs.file, scheduleStore: join(defs.dir, 'state.json'), logger: logs.logger });
    cleanUp.push(() => app.close());
    const fired: string[] = [];
    const beat = await app.startBeat({ lockSuffix: prefix });
    beat.on('fired', ({ fire }) => fired.push(fire.entry.name));

    await waitFor('three good fires', () => fired.filter((name) => name === 'good').length >= 3, 6000);
    await app.close();
    expect(fired.every((name) => name === 'good')).toBe(true);
    const failures = logs.lines().filter((line) => line.msg === 'fire failed and is dropped');
    expect(failures.length).toBeGreaterThanOrEqual(2);
    expect(failures.every((line) => line.entry === 'lost' && String(line.err).includes('routing key "nowhere"'))).toBe(true);
    const received = await drain(probe, `${prefix}.beat`, []);
    expect(received.map((r) => r.entry)).toEqual(fired);
  }, 20_000);

  const stores: Array<[string, () => Promise<{ where: string; drop: () => Promise<void> }>]> = [
    ['file', async () => ({ where: join(writeDefinitionsFile('{}').dir, 'state.json'), drop: async () => undefined })],
    [
      'postgres',
      async () => {
        const database = `warren_test_${randomPrefix('db').split('.').pop()}`;
        const admin = new Client({ connectionString: POSTGRES_URL });
        await admin.connect().catch((err: Error) => {
          throw new Error(`integration tests need PostgreSQL at ${POSTGRES_URL} (${err.message}); start it (pg_ctlcluster 15 main start) or set WARREN_TEST_POSTGRES_URL`);
        });
        await admin.query(`CREATE DATABASE ${database}`);
        await admin.end();
        const url = new URL(POSTGRES_URL);
        url.pathname = `/${database}`;
        return {
          where: url.toString(),
          drop: async () => {
            const dropper = new Client({ connectionString: POSTGRES_URL });
            await dropper.connect();
            await dropper.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
            await dropper.end();
          },
        };
      },
    ],
  ];

  test.each(stores)('runtime changes through the CLI reach a running beat within a second (%s store)', async (_kind, makeStore) => {
    const { prefix, queue, defs } = setUp('beat-runtime', {});
    const { where, drop } = await makeStore();
    cleanUp.push(drop);
    const app: App = createApp({ definitions: defs.file, scheduleStore: where, logger: createLogger({ level: 'silent' }) });
    cleanUp.push(() => app.close());
    const beat: Beat = await app.startBeat({ lockSuffix: prefix });
    await waitFor('leadership', () => beat.isLeader, 5000);
    const reloads: number[] = [];
    const fires: Array<BeatEvents['fired']> = [];
    beat.on('reloaded', () => reloads.push(Date.now()));
    beat.on('fired', (event) => fires.push(event));
    const cli = (...args: string[]) => runCli(['schedule', ...args, '--definitions', defs.file, '--store', where]);

    const add = await cli('add', 'rt', '--task', 'beat.runtime', '--every', '1s', '--args', '["x"]');
    expect(add.stderr).toBe('');
    expect(add.code).toBe(0);
    const added = Date.now();
    await waitFor('the beat to see the new entry', () => reloads.length === 1, 2000);
    expect(reloads[0] - added).toBeLessThan(1000);
    await waitFor('two fires of the new entry', () => fires.length >= 2, 4000);

    const disable = await cli('disable', 'rt');
    expect(disable.code).toBe(0);
    const disabled = Date.now();
    await waitFor('the beat to see the disable', () => reloads.length === 2, 2000);
    expect(reloads[1] - disabled).toBeLessThan(1000);
    const firesWhenDisabled = fires.length;
    await new Promise((resolve) => setTimeout(resolve, 2200));
    expect(fires.length).toBe(firesWhenDisabled);

    const list = await cli('list');
    expect(list.stdout).toMatch(/^rt\s+runtime\s+no\s+every 1s\s+beat\.runtime\s+\d{4}-/m);
    const remove = await cli('remove', 'rt');
    expect(remove.stdout).toBe('removed rt\n');
    await waitFor('the beat to see the removal', () => reloads.length === 3, 2000);
    expect((await cli('show', 'rt')).code).toBe(2);

    const received = await drain(probe, queue, []);
    expect(received.length).toBe(firesWhenDisabled);
    expect(received.every((r) => r.entry === 'rt')).toBe(true);
  }, 30_000);
});
