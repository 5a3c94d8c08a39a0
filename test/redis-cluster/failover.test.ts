import { createApp, ResultTimeoutError, type App } from '../../src';
import { parseResultBackendUrl, type RedisBackendUrl } from '../../src/config';
import { RedisResultBackend } from '../../src/result';
import type { ResultRecord } from '../../src/worker/result-store';
import { BrokerProbe, randomPrefix, writeDefinitionsFile } from '../support/broker';
import { testBrokerUrl } from '../support/broker-url';
import { captureLogger } from '../support/capture-logger';
import { RedisCluster } from '../support/redis-cluster';

/**
 * The Redis Cluster result backend through a failover: three masters and three replicas on
 * loopback ports (started and stopped here), 2,000 tasks sent at a steady pace to a warren worker
 * storing its results in the cluster, one master SIGKILLed a few seconds in and its replica
 * promoted. Every get() must settle within its timeout, with the value or a clear error; none
 * hangs. Run once as is and once with `waitReplicas=1` (WAIT after each store); the figures of
 * both, and the cost of WAIT on a healthy cluster, are printed.
 */

/** 2,000 (WARREN_TEST_CLUSTER_TASKS sets another count, for a quicker look). */
const TASKS = Number(process.env.WARREN_TEST_CLUSTER_TASKS ?? 2000);
const GET_TIMEOUT_MS = 60_000;
/** Sent in batches of this many every 100 ms: 2,000 tasks over about ten seconds. */
const BATCH = 20;

interface Figures {
  label: string;
  /** Results that never came: their get() rejected (timed out, or a backend error). */
  lost: number;
  resolved: number;
  wrongValue: number;
  timedOut: number;
  otherErrors: string[];
  hung: number;
  slowestSettleMs: number;
  killAfterSent: number;
  promotionMs: number;
  /** From the kill until the dead node was back as the new master's replica, in sync. */
  rejoinedMs: number;
  storeFailures: number;
  /** The store errors the worker logged, each with how often. */
  storeErrors: Record<string, number>;
  runs: number;
}

function countBy(values: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}

describe('Redis Cluster result backend: a master killed while 2,000 tasks store results', () => {
  const prefix = randomPrefix('rcluster');
  const queue = `${prefix}.q`;
  const defs = writeDefinitionsFile({
    broker: { url: testBrokerUrl() },
    exchanges: [{ name: queue, type: 'direct' }],
    queues: [{ name: queue, exchange: queue, routingKey: queue }],
    defaultQueue: queue,
  });
  let cluster: RedisCluster;
  const figures: Array<Record<string, unknown>> = [];

  beforeAll(async () => {
    const started = Date.now();
    cluster = await RedisCluster.start();
    console.log(`Redis Cluster of ${cluster.ports.length} nodes on ports ${cluster.ports.join(', ')} ready in ${Date.now() - started} ms`);
  });

  afterAll(async () => {
    await cluster?.stop();
    const probe = await BrokerProbe.open();
    await probe.cleanUp([queue], [queue]);
    await probe.close();
    defs.remove();
    if (figures.length > 0) console.log(['failover figures:', ...figures.map((f) => JSON.stringify(f))].join('\n'));
  });

  /** SIGKILLs a master and waits until its replica is promoted and the cluster is ok. */
  /**
   * SIGKILLs a master, waits until its replica is promoted, then starts the dead node again, as
   * its supervisor would: it rejoins as the new master's replica.
   */
  async function killAMaster(): Promise<{ promotionMs: number; rejoinedMs: number }> {
    const nodes = await cluster.nodes();
    const victim = nodes.find((node) => node.role === 'master' && !node.failed) as (typeof nodes)[number];
    const replica = nodes.find((node) => node.masterId === victim.id) as (typeof nodes)[number];
    const killedAt = Date.now();
    cluster.kill(victim.port);
    await cluster.waitForPromotion(victim.id, replica.port);
    const promotionMs = Date.now() - killedAt;
    await cluster.rejoin(victim.port);
    return { promotionMs, rejoinedMs: Date.now() - killedAt };
  }

  async function scenario(label: string, query: string): Promise<Figures> {
    const url = cluster.url(query);
    const worker = captureLogger('warn');
    const workerApp: App = createApp({ definitions: defs.file, logger: worker.logger, resultBackend: url });
    let runs = 0;
    workerApp.task(`${prefix}.double`, async (n: number) => {
      runs += 1;
      await new Promise((resolve) => setTimeout(resolve, 5));
      return n * 2;
    });
    const client = createApp({ definitions: defs.file, logger: captureLogger('error').logger, resultBackend: url });
    try {
      await workerApp.startWorker({ queues: [queue], concurrency: 20 });
      const outcomes: Array<Promise<{ ok: boolean; value?: unknown; error?: unknown; ms: number }>> = [];
      let killing: Promise<{ promotionMs: number; rejoinedMs: number }> | undefined;
      let killAfterSent = 0;
      for (let sent = 0; sent < TASKS; sent += BATCH) {
        const batch = await Promise.all(Array.from({ length: BATCH }, (_, i) => client.sendTask<number>(`${prefix}.double`, [sent + i])));
        for (const [i, result] of batch.entries()) {
          const began = Date.now();
          const settled = result.get({ timeout: GET_TIMEOUT_MS }).then(
            (value) => ({ ok: value === (sent + i) * 2, value, ms: Date.now() - began }),
            (error: unknown) => ({ ok: false, error, ms: Date.now() - began }),
          );
          outcomes.push(settled);
        }
        if (!killing && sent >= TASKS / 4) {
          killAfterSent = sent + BATCH;
          killing = killAMaster();
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      // A get() that has not settled 10 s past its own timeout counts as hung.
      let hangTimer: NodeJS.Timeout | undefined;
      const hangGuard = new Promise<'hung'>((resolve) => (hangTimer = setTimeout(() => resolve('hung'), GET_TIMEOUT_MS + 10_000)));
      const settled = await Promise.all(outcomes.map((outcome) => Promise.race([outcome, hangGuard])));
      clearTimeout(hangTimer);
      const killed = await killing!;
      const done = settled.filter((s): s is Exclude<typeof s, 'hung'> => s !== 'hung');
      const errors = done.filter((s) => s.error !== undefined).map((s) => s.error);
      return {
        label,
        lost: errors.length,
        resolved: done.filter((s) => s.ok).length,
        wrongValue: done.filter((s) => s.error === undefined && !s.ok).length,
        timedOut: errors.filter((e) => e instanceof ResultTimeoutError).length,
        otherErrors: errors.filter((e) => !(e instanceof ResultTimeoutError)).map((e) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e))),
        hung: settled.length - done.length,
        slowestSettleMs: Math.max(...done.map((s) => s.ms)),
        killAfterSent,
        promotionMs: killed.promotionMs,
        rejoinedMs: killed.rejoinedMs,
        storeFailures: worker.lines().filter((line) => line.msg === 'could not store the result; the message goes back to the queue').length,
        storeErrors: countBy(worker.lines().filter((line) => line.msg === 'could not store the result; the message goes back to the queue').map((line) => String(line.err).replace(/[0-9a-f-]{36}/g, '<id>'))),
        runs,
      };
    } finally {
      await client.close();
      await workerApp.close();
    }
  }

  test.each([
    ['no WAIT', ''],
    ['waitReplicas=1', '?waitReplicas=1&waitTimeoutMs=1000'],
  ])('every get() settles within its timeout, with the value or a clear error (%s)', async (label, query) => {
    const result = await scenario(label, query);
    figures.push({ ...result });
    console.log(`${label}: ${JSON.stringify(result)}`);
    expect(result.hung).toBe(0);
    expect(result.wrongValue).toBe(0);
    expect(result.slowestSettleMs).toBeLessThan(GET_TIMEOUT_MS + 2000);
    expect(result.resolved + result.timedOut + result.otherErrors.length).toBe(TASKS);
    for (const message of result.otherErrors) expect(message).toMatch(/^(ResultBackendError|InvalidMessageError): /);
    // With WAIT, a result is on the replica before its task's message is acked: the promoted replica has it.
    if (query.includes('waitReplicas')) expect(result.lost).toBe(0);
  });

  test('the cost of WAIT on a healthy cluster: stores one after the other, and 20 at a time', async () => {
    const logger = captureLogger('error').logger;
    const measure = async (query: string): Promise<{ sequentialMsPerStore: number; concurrentStoresPerSecond: number }> => {
      const backend = new RedisResultBackend(parseResultBackendUrl(cluster.url(query)) as RedisBackendUrl, logger, { resultExpires: 60 });
      try {
        const record = (id: string): ResultRecord => ({
          taskId: id,
          status: 'SUCCESS',
          result: 42,
          traceback: null,
          replyTo: null,
          correlationId: id,
          parentId: null,
          groupId: null,
          extended: { name: `${prefix}.double`, args: [21], kwargs: {}, worker: 'bench', retries: 0, queue },
        });
        await backend.store(backend.encode(record(`${prefix}-warmup`)));
        const sequential = 500;
        let began = performance.now();
        for (let i = 0; i < sequential; i += 1) await backend.store(backend.encode(record(`${prefix}-seq-${query.length}-${i}`)));
        const sequentialMsPerStore = (performance.now() - began) / sequential;
        const concurrent = 2000;
        began = performance.now();
        for (let i = 0; i < concurrent; i += 20) {
          await Promise.all(Array.from({ length: 20 }, (_, j) => backend.store(backend.encode(record(`${prefix}-con-${query.length}-${i + j}`)))));
        }
        const concurrentStoresPerSecond = concurrent / ((performance.now() - began) / 1000);
        return { sequentialMsPerStore: Math.round(sequentialMsPerStore * 1000) / 1000, concurrentStoresPerSecond: Math.round(concurrentStoresPerSecond) };
      } finally {
        await backend.close();
      }
    };
    const plain = await measure('');
    const waited = await measure('?waitReplicas=1&waitTimeoutMs=1000');
    console.log(`WAIT cost on a healthy cluster (loopback, this machine): without ${JSON.stringify(plain)}; with waitReplicas=1 ${JSON.stringify(waited)}`);
    figures.push({ label: 'WAIT cost', plain, waited });
    expect(plain.sequentialMsPerStore).toBeGreaterThan(0);
    expect(waited.sequentialMsPerStore).toBeGreaterThan(0);
  });
});

