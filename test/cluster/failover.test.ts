/**
 * A node of the cluster dies under load: SIGKILL of the node that holds the quorum queue's
 * leader, the publisher's connection and one of the two workers' connections, while one
 * long-lived app sends 20,000 tasks. Nothing confirmed may be lost, every `sendTask` made after
 * the kill must be confirmed within 10 s of it (the publisher is never restarted), and with
 * results requested every confirmed task's `get()` ends, with its value or a clear error.
 * Then the killed node comes back, rejoins, and new connections with `shuffle` spread over the
 * three nodes again.
 */
import { createApp, type App } from '../../src';
import { randomPrefix } from '../support/broker';
import {
  clusterForTests,
  fileLogger,
  nodeIndexOf,
  printFigures,
  scratch,
  sendAll,
  urlsOf,
  waitUntil,
  type Call,
  type ClusterFigures,
} from '../support/cluster-apps';

const TOTAL = 20_000;
const WINDOW = 100;
const KILL_AFTER_CONFIRMS = 5_000;
const TASK = 'cluster.index';

const cluster = clusterForTests();
const files = scratch('cluster-failover');
const apps: App[] = [];

afterAll(async () => {
  for (const app of apps.splice(0).reverse()) await app.close().catch(() => undefined);
  for (const node of cluster.nodes) if (!cluster.isUp(node.index)) await cluster.restart(node.index);
  files.remove();
});

/** Definitions for the run's exchange and quorum queue, with the broker URLs in `order`. */
function definitions(prefix: string, name: string, order: number[], failoverStrategy?: string): string {
  const broker = failoverStrategy === undefined ? { urls: urlsOf(cluster, ...order) } : { urls: urlsOf(cluster, ...order), failoverStrategy };
  return files.file(`${prefix}.${name}.json`, {
    broker,
    exchanges: [{ name: `${prefix}.x`, type: 'direct' }],
    queues: [{ name: `${prefix}.q`, exchange: `${prefix}.x`, routingKey: 'task', type: 'quorum' }],
    defaultQueue: `${prefix}.q`,
  });
}

function newApp(prefix: string, name: string, order: number[], extra: { failoverStrategy?: string; resultTimeoutMs?: number } = {}): App {
  const app = createApp({
    definitions: definitions(prefix, name, order, extra.failoverStrategy),
    logger: fileLogger(`${files.dir}/${prefix}.log`, name),
    resultTimeoutMs: extra.resultTimeoutMs,
  });
  apps.push(app);
  return app;
}

interface Run {
  prefix: string;
  calls: Call[];
  killAt: number;
  processed: Map<number, number>;
  publisher: App;
}

/**
 * Places the queue's leader on node 1, starts a worker on node 1 and one on node 2 (each `-c 16`)
 * and a publisher on node 1, sends TOTAL tasks and SIGKILLs node 1 after KILL_AFTER_CONFIRMS
 * confirms.
 */
async function runWithKill(label: string, results?: { timeoutMs: number }): Promise<Run> {
  const prefix = randomPrefix(label);
  expect(await cluster.declareQuorumQueue(`${prefix}.q`, { exchange: `${prefix}.x`, routingKey: 'task', leaderOn: 1 })).toBe(cluster.node(1).name);
  const processed = new Map<number, number>();
  for (const [name, order] of [
    ['worker-on-1', [1, 2, 3]],
    ['worker-on-2', [2, 3, 1]],
  ] as const) {
    const worker = newApp(prefix, name, [...order]);
    worker.task(TASK, async (index: number) => {
      processed.set(index, (processed.get(index) ?? 0) + 1);
      return index * 2;
    });
    await worker.startWorker({ concurrency: 16 });
    expect(nodeIndexOf(cluster, worker.connectedTo())).toBe(order[0]);
  }
  const publisher = newApp(prefix, 'publisher', [1, 2, 3], { resultTimeoutMs: results?.timeoutMs });
  await publisher.declareTopology();
  expect(nodeIndexOf(cluster, publisher.connectedTo())).toBe(1);

  let confirmed = 0;
  let killAt = 0;
  let killing: Promise<void> | undefined;
  const calls = await sendAll(publisher, TASK, {
    total: TOTAL,
    window: WINDOW,
    results,
    onSettled: (call) => {
      if (call.ok) confirmed += 1;
      if (killing === undefined && confirmed >= KILL_AFTER_CONFIRMS) {
        killAt = Date.now();
        killing = cluster.kill(1);
      }
    },
  });
  await killing;
  expect(killAt).toBeGreaterThan(0);
  // The same app, now on a surviving node.
  expect([2, 3]).toContain(nodeIndexOf(cluster, publisher.connectedTo()));
  return { prefix, calls, killAt, processed, publisher };
}

/**
 * Waits until every confirmed task was processed, prints the figures, then asserts the calls'
 * fate around the kill: only calls in flight when the publisher saw its connection go may fail,
 * and only as "cut off, may or may not have it" (the channel fails them all at once, which is
 * when the publisher saw the loss); every call made after that is confirmed, within 10 s of the
 * kill (or of its own call, later on); nothing confirmed is lost.
 */
async function checkRun(label: string, run: Run, extra: () => Promise<Record<string, unknown>> = async () => ({})): Promise<ClusterFigures> {
  const { calls, killAt, processed } = run;
  const confirmed = calls.filter((call) => call.ok);
  await waitUntil('every confirmed task to be processed', () => confirmed.every((call) => processed.has(call.index)), 180_000, 500).catch(() => undefined);
  // Redeliveries of what the killed worker held come within moments; give them a little time.
  await new Promise((resolve) => setTimeout(resolve, 2000));

  const failed = calls.filter((call) => !call.ok);
  const rejected: Record<string, number> = {};
  for (const call of failed) rejected[call.code!] = (rejected[call.code!] ?? 0) + 1;
  const noticed = failed.length > 0 ? failed.reduce((first, call) => (call.settledSeq < first.settledSeq ? call : first)) : undefined;
  const noticedAt = noticed?.settledAt ?? killAt;
  const afterLoss = calls.filter((call) => (noticed ? call.calledSeq > noticed.settledSeq : call.calledAt > killAt));
  const slowest = Math.max(...afterLoss.map((call) => call.settledAt - Math.max(call.calledAt, killAt)));
  const firstAfterLoss = Math.min(...afterLoss.filter((call) => call.ok).map((call) => call.settledAt));
  const figures: ClusterFigures = {
    sent: calls.length,
    confirmed: confirmed.length,
    processed: confirmed.filter((call) => processed.has(call.index)).length,
    duplicates: [...processed.values()].reduce((sum, n) => sum + n - 1, 0),
    lost: confirmed.filter((call) => !processed.has(call.index)).length,
    rejected,
    recoverMs: firstAfterLoss - killAt,
  };
  printFigures(label, figures, { lossSeenMs: noticedAt - killAt, slowestAfterKillMs: slowest, ...(await extra()) });

  for (const call of failed) {
    expect({ index: call.index, code: call.code, calledBeforeTheLossWasSeen: call.calledSeq < noticed!.settledSeq }).toEqual({
      index: call.index,
      code: 'WARREN_BROKER_UNAVAILABLE',
      calledBeforeTheLossWasSeen: true,
    });
    expect(call.message).toMatch(
      /^the channel to the broker at amqp:\/\/guest:\*\*\*@127\.0\.0\.1:5681\/ closed before it confirmed the message to exchange "[^"]+" \(waited \d+ ms\); it may or may not have it$/,
    );
  }
  expect(afterLoss.length).toBeGreaterThan(0);
  expect(afterLoss.filter((call) => !call.ok)).toEqual([]);
  expect(slowest).toBeLessThanOrEqual(10_000);
  expect(figures.sent).toBe(TOTAL);
  expect(figures.confirmed + (rejected.WARREN_BROKER_UNAVAILABLE ?? 0)).toBe(TOTAL);
  expect(figures.lost).toBe(0);
  return figures;
}

describe('a three-node cluster loses the node of the queue leader, the publisher and a worker (SIGKILL)', () => {
  test('20,000 tasks: lost 0, every sendTask after the kill confirmed within 10 s, the publisher never restarted', async () => {
    const run = await runWithKill('cluster-failover');
    await checkRun('kill the leader node, ignoreResult', run, async () => ({ leaderAfter: await cluster.leaderOf(`${run.prefix}.q`) }));
  });

  test('the killed node comes back and rejoins; new connections with shuffle spread over the three nodes again', async () => {
    const began = Date.now();
    await cluster.restart(1);
    const prefix = randomPrefix('cluster-rejoin');
    // A quorum queue declared now has a member on the node that came back, and it is online.
    await cluster.declareQuorumQueue(`${prefix}.q`, { exchange: `${prefix}.x`, routingKey: 'task', leaderOn: 2 });
    await waitUntil(
      'the quorum queue to have all three members online',
      async () => (await cluster.quorumQueues()).find((q) => q.name === `${prefix}.q`)?.online.length === 3,
      60_000,
      500,
    );
    const rejoinedMs = Date.now() - began;

    const spread = async (strategy: string | undefined, count: number): Promise<number[]> => {
      const counts = [0, 0, 0];
      for (let i = 0; i < count; i += 1) {
        const app = newApp(prefix, `${strategy ?? 'in-order'}-${i}`, [1, 2, 3], { failoverStrategy: strategy });
        await app.sendTask(TASK, [i], {}, { ignoreResult: true });
        counts[nodeIndexOf(cluster, app.connectedTo())! - 1] += 1;
        await app.close();
      }
      return counts;
    };
    const inOrder = await spread(undefined, 5);
    const shuffled = await spread('shuffle', 30);
    printFigures('rejoin', { sent: 35, confirmed: 35, processed: 0, duplicates: 0, lost: 0, rejected: {}, recoverMs: undefined }, {
      rejoinedMs,
      connectionsInOrder: inOrder.join('/'),
      connectionsShuffled: shuffled.join('/'),
    });
    expect(inOrder).toEqual([5, 0, 0]);
    // 30 draws over three nodes: each node gets some (the chance that one gets none is 1.6e-5).
    for (const count of shuffled) expect(count).toBeGreaterThan(0);
  });

  test('the same with results requested: every confirmed task gets its result or a clear error, none hangs', async () => {
    const resultTimeoutMs = 30_000;
    const run = await runWithKill('cluster-results', { timeoutMs: resultTimeoutMs });
    await checkRun('kill the leader node, results requested', run);
    const confirmed = run.calls.filter((call) => call.ok);
    // Every get() ends: its own timeout bounds it; a hang would outlast this.
    let hang: NodeJS.Timeout | undefined;
    const outcomes = await Promise.race([
      Promise.all(confirmed.map((call) => call.result!)),
      new Promise<never>((_, reject) => {
        hang = setTimeout(() => reject(new Error('a get() hung')), resultTimeoutMs + 60_000);
      }),
    ]).finally(() => clearTimeout(hang));
    const values = outcomes.filter((o) => o.ok).length;
    const errors: Record<string, number> = {};
    outcomes.forEach((outcome, i) => {
      if (outcome.ok) {
        expect(outcome.value).toBe(confirmed[i].index * 2);
        return;
      }
      errors[outcome.code] = (errors[outcome.code] ?? 0) + 1;
      // The one result a task can miss: its reply queue (on the killed node) was gone when the worker replied.
      expect({ code: outcome.code, message: outcome.message }).toEqual({
        code: 'WARREN_RESULT_TIMEOUT',
        message: expect.stringContaining('the reply queue was lost while it was pending and declared again at'),
      });
    });
    process.stdout.write(`[cluster] kill the leader node, results requested: results ${values} / result errors ${JSON.stringify(errors)}\n`);
    expect(values + Object.values(errors).reduce((a, b) => a + b, 0)).toBe(confirmed.length);
  });
});
