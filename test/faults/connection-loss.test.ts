import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createApp, createLogger, type App, type BeatEvents } from '../../src';
import { BrokerConnection, Publisher } from '../../src/transport';
import { testBrokerUrl } from '../support/broker-url';
import { maskUrl } from '../../src/util/mask-url';
import { BrokerProbe, exampleTopology, randomPrefix, waitFor, writeDefinitionsFile } from '../support/broker';
import { assertRestartsAllowed, brokerUp, rabbitmqctl } from '../support/rabbitmqctl';
import { startTestWorker, type WorkerProcess } from '../support/worker-process';

/** The test broker's URL as warren names it in errors (password masked). */
const maskedBroker = maskUrl(testBrokerUrl());
const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('connection loss', () => {
  // Not exampleSuite: its probe connection would not survive the restart.
  const prefix = randomPrefix('connection-loss');
  const topology = exampleTopology(prefix);
  const defs = writeDefinitionsFile(topology.definitions);
  const record = join(defs.dir, 'record.txt');
  const apps: App[] = [];
  const workers: WorkerProcess[] = [];

  const app = (publishTimeoutMs?: number): App => {
    const made = createApp({ definitions: defs.file, logger: createLogger({ level: 'silent' }), publishTimeoutMs });
    apps.push(made);
    return made;
  };
  const worker = (name: string, queues: readonly string[] = [topology.queues.default]): WorkerProcess => {
    const started = startTestWorker({ prefix, definitions: defs.file, queues, name, concurrency: 8, env: { WARREN_TEST_RECORD: record } });
    workers.push(started);
    return started;
  };
  /** Task ids of finished runs, one per run (the `record` task writes `done <id> <host>` before its ack). */
  const recorded = (): string[] =>
    existsSync(record)
      ? readFileSync(record, 'utf8')
          .split('\n')
          .filter((line) => line.startsWith('done '))
          .map((line) => line.split(' ')[1])
      : [];

  beforeAll(() => assertRestartsAllowed());

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop('SIGKILL')));
    await brokerUp();
    await Promise.all(apps.map((a) => a.close()));
    const probe = await BrokerProbe.open();
    await probe.cleanUp(Object.values(topology.queues), topology.exchanges);
    await probe.close();
    defs.remove();
  });

  test('a broker restart during 5,000 sendTask calls with two workers: every confirmed task is processed, every other one rejected to its caller', async () => {
    const workerA = worker('a@connection-loss');
    const workerB = worker('b@connection-loss');
    await Promise.all([workerA.ready, workerB.ready]);
    // Shorter than the broker's downtime (stop_app, 5 s, start_app), so that some sends run out
    // of time while it is down and must be reported to their callers. (With 2 s of sleep, a fast
    // start_app made the downtime shorter than this timeout, and no send was rejected.)
    const client = app(4000);
    await client.sendTask(`${prefix}.record`, [0], {}, { ignoreResult: true, taskId: 'warm-up' });

    const total = 5000;
    const confirmed = new Set<string>();
    const rejected = new Map<string, string>();
    const sends: Array<Promise<void>> = [];
    let restart: Promise<void> | undefined;
    for (let i = 0; i < total; i += 1) {
      const taskId = `${prefix}-${i}`;
      sends.push(
        client.sendTask(`${prefix}.record`, [0], {}, { ignoreResult: true, taskId }).then(
          () => void confirmed.add(taskId),
          (err: unknown) => void rejected.set(taskId, (err as { code?: string }).code ?? String(err)),
        ),
      );
      // About 10 s of sending; the broker goes down 2 s in.
      if (i % 10 === 9) await sleep(20);
      if (i === 1000) {
        restart = (async () => {
          await rabbitmqctl('stop_app');
          await sleep(5000);
          await brokerUp();
        })();
      }
    }
    await restart;
    await Promise.all(sends);

    await waitFor('every confirmed task to be processed', () => {
      const seen = new Set(recorded());
      return [...confirmed].every((id) => seen.has(id));
    }, 60_000, 250).catch(() => undefined);
    await sleep(2000); // stragglers and redeliveries
    const runs = recorded().filter((id) => id !== 'warm-up');
    const processed = new Set(runs);
    const lost = [...confirmed].filter((id) => !processed.has(id));
    const counts = {
      sent: total,
      confirmed: confirmed.size,
      rejected: rejected.size,
      processed: processed.size,
      processedUnconfirmed: [...rejected.keys()].filter((id) => processed.has(id)).length,
      duplicates: runs.length - processed.size,
      lost: lost.length,
    };
    process.stdout.write(`broker restart during sendTask: ${JSON.stringify(counts)}\n`);
    process.stdout.write(`rejection codes: ${JSON.stringify(countBy([...rejected.values()]))}\n`);

    expect(confirmed.size + rejected.size).toBe(total);
    expect(rejected.size).toBeGreaterThan(0);
    expect(lost).toEqual([]);
    expect(new Set(rejected.values())).toEqual(rejected.size > 0 ? new Set(['WARREN_BROKER_UNAVAILABLE']) : new Set());
    // Both workers came back: each logged the steps of its recovery once.
    for (const w of [workerA, workerB]) {
      expect(w.logLines('topology re-declared').length).toBeGreaterThanOrEqual(1);
      expect(w.logLines('consuming again').length).toBe(w.logLines('topology re-declared').length);
      expect(w.logLines('reconnected to broker').length).toBe(w.logLines('consuming again').length);
    }
  }, 180_000);

  test('after `rabbitmqctl close_all_connections` a worker consumes again and a client sends and gets results again', async () => {
    const consumer = worker('c@connection-loss', [topology.queues.task1]);
    await consumer.ready;
    const client = app();
    const before = await client.sendTask<string>(topology.tasks.deal1, ['before']);
    await expect(before.get({ timeout: 10_000 })).resolves.toBe('before=======');

    await rabbitmqctl('close_all_connections', 'test');
    await waitFor('the worker to consume again', () => consumer.logLines('consuming again').length === 1, 20_000);
    expect(consumer.logLines('disconnected from broker; reconnecting')).toHaveLength(1);
    expect(consumer.logLines('reconnected to broker')).toHaveLength(1);
    expect(consumer.logLines('topology re-declared')).toHaveLength(1);

    const after = await client.sendTask<string>(topology.tasks.deal1, ['after']);
    await expect(after.get({ timeout: 10_000 })).resolves.toBe('after=======');
    expect(after.worker).toBe('c@connection-loss');
  }, 60_000);

  test('a worker whose queue is deleted reports it, declares the queue again and consumes it', async () => {
    const consumer = worker('d@connection-loss', [topology.queues.task2]);
    await consumer.ready;
    const probe = await BrokerProbe.open();
    try {
      await probe.cleanUp([topology.queues.task2]);
      await waitFor('the worker to consume the queue again', () => consumer.logLines('consuming again').length === 1, 20_000);
      const cancelled = consumer.logLines('the broker cancelled the consumer (was the queue deleted?); declaring it again and consuming it');
      expect(cancelled).toHaveLength(1);
      expect(cancelled[0]).toMatchObject({ level: 50, queue: topology.queues.task2 });
      expect(await probe.consumerCount(topology.queues.task2)).toBe(1);
    } finally {
      await probe.close();
    }
    const client = app();
    const result = await client.sendTask<string>(topology.tasks.deal2, ['again']);
    await expect(result.get({ timeout: 10_000 })).resolves.toBe('again+++++++++');
  }, 60_000);

  test('a publish channel the broker closes (its exchange was deleted) is opened again: the next sendTask is confirmed at once', async () => {
    const client = app(5000);
    await client.sendTask(topology.tasks.deal1, ['first'], {}, { ignoreResult: true });
    const probe = await BrokerProbe.open();
    try {
      await probe.cleanUp([], [topology.queues.task1]); // the exchange of for_task1 (404 on the next publish)
      const error = await client.sendTask(topology.tasks.deal1, ['lost'], {}, { ignoreResult: true }).then(
        () => undefined,
        (err: unknown) => err as Error & { code?: string },
      );
      expect(error?.code).toBe('WARREN_BROKER_UNAVAILABLE');
      expect(error?.message).toMatch(/closed before it confirmed the message to exchange ".*for_task1".*NOT_FOUND/);
    } finally {
      await probe.close();
    }
    await client.declareTopology();
    const began = Date.now();
    await client.sendTask(topology.tasks.deal1, ['again'], {}, { ignoreResult: true });
    expect(Date.now() - began).toBeLessThan(1000);
  });

  test('while the broker is down, publishes beyond maxPending reject at once and the others after publishTimeoutMs, nothing unbounded', async () => {
    const connection = new BrokerConnection({ urls: [testBrokerUrl()], logger: createLogger({ level: 'silent' }) });
    await connection.start();
    const publisher = new Publisher(connection, { name: 'bounded', logger: createLogger({ level: 'silent' }), publishTimeoutMs: 1500, maxPending: 5 });
    await publisher.start();
    const publish = (): Promise<{ code?: string; message: string; ms: number } | undefined> => {
      const began = Date.now();
      return publisher
        .publish({ exchange: '', routingKey: topology.queues.default, body: Buffer.from('{}'), properties: {}, mandatory: false })
        .then(
          () => undefined,
          (err: Error & { code?: string }) => ({ code: err.code, message: err.message, ms: Date.now() - began }),
        );
    };
    await rabbitmqctl('stop_app');
    try {
      const waiting = [1, 2, 3, 4, 5].map(() => publish());
      const overflow = await publish();
      expect(overflow?.code).toBe('WARREN_BROKER_UNAVAILABLE');
      expect(overflow?.message).toBe(`5 publishes are already waiting for the broker at ${maskedBroker} (limit 5); it is not connected`);
      expect(overflow?.ms).toBeLessThan(50);
      const timedOut = await Promise.all(waiting);
      expect(timedOut.map((r) => r?.code)).toEqual(Array(5).fill('WARREN_BROKER_UNAVAILABLE'));
      expect(Math.min(...timedOut.map((r) => r!.ms))).toBeGreaterThanOrEqual(1400);
    } finally {
      await brokerUp();
      await publisher.close();
      await connection.close();
    }
  });

  test('while the broker is down, sendTask rejects after publishTimeoutMs with BrokerUnavailableError naming the broker', async () => {
    const client = app(1500);
    await client.sendTask(`${prefix}.record`, [0], {}, { ignoreResult: true });
    await rabbitmqctl('stop_app');
    try {
      const began = Date.now();
      const error = await client.sendTask(`${prefix}.record`, [0], {}, { ignoreResult: true }).then(
        () => undefined,
        (err: unknown) => err as Error & { code?: string },
      );
      const waited = Date.now() - began;
      expect(error?.code).toBe('WARREN_BROKER_UNAVAILABLE');
      expect(error?.message).toMatch(new RegExp(`^the broker at ${escapeRegExp(maskedBroker)} did not confirm the message to exchange ".*" within 1500 ms \\(waited \\d+ ms, disconnected\\)$`));
      expect(waited).toBeGreaterThanOrEqual(1400);
      expect(waited).toBeLessThan(3000);
    } finally {
      await brokerUp();
    }
    await waitFor('the client to reconnect', async () => {
      const sent = await client.sendTask(`${prefix}.record`, [0], {}, { ignoreResult: true }).then(() => true, () => false);
      return sent;
    }, 20_000, 500);
  }, 60_000);
});

describe('beat and connection loss', () => {
  const prefix = randomPrefix('beat-connection-loss');
  const queue = `${prefix}.beat`;
  const defs = writeDefinitionsFile({
    broker: { url: testBrokerUrl() },
    queues: [{ name: queue }],
    defaultQueue: queue,
    schedule: { tick: { task: 'beat.tick', every: '1s' } },
  });
  let app: App | undefined;

  beforeAll(() => assertRestartsAllowed());

  afterAll(async () => {
    await brokerUp();
    await app?.close();
    const probe = await BrokerProbe.open();
    await probe.cleanUp([queue]);
    await probe.close();
    defs.remove();
  });

  test('on `close_all_connections` the leading beat follows at once, fires nothing until it retakes the lock after the reconnect, and never fires a slot twice', async () => {
    app = createApp({ definitions: defs.file, scheduleStore: join(defs.dir, 'beat-state.json'), logger: createLogger({ level: 'silent' }) });
    const events: Array<{ at: number; kind: 'leader' | 'follower' | 'fired'; taskId?: string }> = [];
    const beat = await app.startBeat({ lockSuffix: prefix, lockRetryMs: 250 });
    beat.on('leader', () => events.push({ at: Date.now(), kind: 'leader' }));
    beat.on('follower', () => events.push({ at: Date.now(), kind: 'follower' }));
    beat.on('fired', (event: BeatEvents['fired']) => events.push({ at: Date.now(), kind: 'fired', taskId: event.fire.taskId }));
    await waitFor('two fires', () => events.filter((e) => e.kind === 'fired').length >= 2, 10_000);

    const dropped = Date.now();
    await rabbitmqctl('close_all_connections', 'test');
    await waitFor('the beat to follow', () => events.some((e) => e.kind === 'follower'), 5_000);
    const followed = events.find((e) => e.kind === 'follower')!.at;
    await waitFor('the beat to lead again', () => events.some((e) => e.kind === 'leader' && e.at > followed), 20_000);
    const ledAgain = events.find((e) => e.kind === 'leader' && e.at > followed)!.at;
    await waitFor('two fires after the reconnect', () => events.filter((e) => e.kind === 'fired' && e.at > ledAgain).length >= 2, 10_000);
    await app.close();
    app = undefined;
    process.stdout.write(`beat: follower ${followed - dropped} ms after the drop, leader again ${ledAgain - dropped} ms after it\n`);

    expect(followed - dropped).toBeLessThan(2000);
    expect(events.filter((e) => e.kind === 'fired' && e.at > followed && e.at < ledAgain)).toEqual([]);
    const probe = await BrokerProbe.open();
    const ids: string[] = [];
    try {
      for (;;) {
        const message = await probe.get(queue);
        if (message === false) break;
        ids.push(String(message.properties.headers?.id));
      }
    } finally {
      await probe.close();
    }
    expect(new Set(ids).size).toBe(ids.length);
    const fired = events.filter((e) => e.kind === 'fired').map((e) => e.taskId);
    expect(ids).toEqual(expect.arrayContaining(fired));
  }, 60_000);
});

function countBy(values: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}
