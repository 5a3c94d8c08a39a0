/**
 * Beat on a cluster: the leader lock is an exclusive queue on the node of its holder's
 * connection. SIGKILL that node: the holder loses its connection and with it the lock, the
 * cluster deletes the dead node's exclusive queues, and a beat on a surviving node takes over
 * within its failover time (the follower's lock retry, a second), with no slot fired twice.
 */
import { join } from 'node:path';
import { connect } from 'amqplib';
import { createApp, type App, type Beat } from '../../src';
import { randomPrefix } from '../support/broker';
import { clusterForTests, fileLogger, nodeIndexOf, scratch, urlsOf, waitUntil } from '../support/cluster-apps';

const cluster = clusterForTests();
const files = scratch('cluster-beat');
const apps: App[] = [];

afterAll(async () => {
  for (const app of apps.splice(0)) await app.close().catch(() => undefined);
  for (const node of cluster.nodes) if (!cluster.isUp(node.index)) await cluster.restart(node.index);
  files.remove();
});

interface Fired {
  beat: 'A' | 'B';
  taskId: string;
  planned: number;
  at: number;
}

/** Every message in `queue`, read through node `via`: the fires, by task id and planned time. */
async function drain(queue: string, via: number): Promise<Array<{ id: string; planned: number }>> {
  const model = await connect(cluster.node(via).url);
  try {
    const channel = await model.createChannel();
    const fires: Array<{ id: string; planned: number }> = [];
    for (let message = await channel.get(queue, { noAck: true }); message !== false; message = await channel.get(queue, { noAck: true })) {
      const headers = message.properties.headers ?? {};
      fires.push({ id: String(headers.id), planned: Date.parse(String(headers['x-warren-beat-planned'])) });
    }
    return fires;
  } finally {
    await model.close().catch(() => undefined);
  }
}

test('the node holding the beat lock dies: another beat leads within its failover time, no slot fired twice', async () => {
  const prefix = randomPrefix('cluster-beat');
  const queue = `${prefix}.fires`;
  const lockRetryMs = 1000;
  // The fires' queue leads on node 2, so it keeps working when node 1 dies.
  await cluster.declareQuorumQueue(queue, { exchange: `${prefix}.x`, routingKey: 'tick', leaderOn: 2 });
  const store = join(files.dir, 'beat-state.json');
  const definitions = (name: string, order: number[]): string =>
    files.file(`${name}.json`, {
      broker: { urls: urlsOf(cluster, ...order) },
      exchanges: [{ name: `${prefix}.x`, type: 'direct' }],
      queues: [{ name: queue, exchange: `${prefix}.x`, routingKey: 'tick', type: 'quorum' }],
      defaultQueue: queue,
      // Catch-up: every planned second fires once, whoever leads, so a gap or a repeat shows.
      schedule: { tick: { task: 'beat.tick', every: '1s', misfire: { policy: 'catch-up', max: 60 } } },
    });
  const fired: Fired[] = [];
  const leads: Array<{ beat: 'A' | 'B'; at: number }> = [];
  const start = async (name: 'A' | 'B', order: number[]): Promise<Beat> => {
    const app = createApp({ definitions: definitions(name, order), scheduleStore: store, logger: fileLogger(join(files.dir, 'beat.log'), name) });
    apps.push(app);
    const beat = await app.startBeat({ lockSuffix: prefix, lockRetryMs });
    beat.on('fired', ({ fire }) => fired.push({ beat: name, taskId: fire.taskId, planned: fire.planned.getTime(), at: Date.now() }));
    beat.on('leader', () => leads.push({ beat: name, at: Date.now() }));
    expect(nodeIndexOf(cluster, app.connectedTo())).toBe(order[0]);
    return beat;
  };

  const a = await start('A', [1, 2, 3]);
  await waitUntil('beat A to lead', () => a.isLeader, 10_000);
  const b = await start('B', [2, 3, 1]);
  // The lock is an exclusive queue on the node of A's connection.
  expect(await cluster.queuesOn(1)).toContain(`warren.beat.lock.${prefix}`);
  await waitUntil('three fires', () => fired.length >= 3, 10_000);
  expect(b.isLeader).toBe(false);

  const killAt = Date.now();
  await cluster.kill(1);
  await waitUntil('a beat to lead again', () => leads.some((lead) => lead.at > killAt), 15_000);
  await waitUntil('three fires after the kill', () => fired.filter((f) => f.at > killAt).length >= 3, 15_000);
  const takeover = leads.find((lead) => lead.at > killAt)!;
  const firstFire = fired.find((f) => f.at > killAt)!;
  for (const app of apps.splice(0)) await app.close();

  const received = await drain(queue, 2);
  const ids = received.map((r) => r.id);
  const planned = [...new Set(received.map((r) => r.planned))].sort((x, y) => x - y);
  process.stdout.write(
    `[cluster] beat lock on the killed node: ${received.length} fires, ${new Set(ids).size} distinct; ` +
      `beat ${takeover.beat} led ${takeover.at - killAt} ms after the SIGKILL and fired ${firstFire.at - killAt} ms after it ` +
      `(lock retry ${lockRetryMs} ms); fires by A ${fired.filter((f) => f.beat === 'A').length}, by B ${fired.filter((f) => f.beat === 'B').length}\n`,
  );
  // No slot twice, none missed between the first and the last.
  expect(new Set(ids).size).toBe(ids.length);
  expect(planned.map((p) => (p - planned[0]) / 1000)).toEqual(planned.map((_, i) => i));
  expect(fired.map((f) => f.taskId).sort()).toEqual([...ids].sort());
  // Within its failover time: the lock retry, plus the cluster noticing the node is gone (at once
  // for a killed process), plus a busy machine's slack.
  expect(takeover.at - killAt).toBeLessThan(lockRetryMs + 4000);
  expect(firstFire.at - killAt).toBeLessThan(lockRetryMs + 4000);
});
