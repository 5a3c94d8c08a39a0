/**
 * `npm run bench:cluster-nack-probe`: raw amqplib (no warren, no amqp-connection-manager)
 * against a three-node cluster, to see what the broker does to publishes to a quorum queue when
 * the node holding its leader is killed.
 *
 * Setup: exchange `cx` (direct) bound to quorum queue `cq` (key `cq`), leader on node 1.
 * All probes connect to node 2 (which survives). Node 1 is killed with SIGKILL at t = 0.
 *  - `kept`: a confirm channel opened and used (one publish confirmed) before the kill, which
 *    keeps publishing one message every 20 ms through the kill and the election.
 *  - `sweep`: every SWEEP_MS after the kill, a new confirm channel on one connection opened
 *    before the kill publishes one message and is closed: when does a new channel stop being
 *    nacked?
 *  - `sticky@<ms>`: channels opened at some offsets after the kill that keep publishing every
 *    100 ms: does a channel whose first publish was nacked ever get an ack?
 *  - `freshconn@<ms>`: a new connection + channel at some offsets, same loop.
 * The queue record's leader (as `rabbitmqctl list_queues` reports it) is polled meanwhile.
 * With RESTART=1 node 1 is started again after RUN_MS and the probes go on for AFTER_MS more.
 *
 * Environment: RUN_MS [15000], SWEEP_MS [100], RESTART [1], AFTER_MS [10000], ATTACH [0].
 */
import { connect, type ChannelModel, type ConfirmChannel } from 'amqplib';
import { RabbitCluster } from '../test/support/rabbitmq-cluster';

const RUN_MS = Number(process.env.RUN_MS ?? 15_000);
const SWEEP_MS = Number(process.env.SWEEP_MS ?? 100);
const RESTART = process.env.RESTART !== '0';
const AFTER_MS = Number(process.env.AFTER_MS ?? 10_000);
const STICKY_OFFSETS = [0, 250, 1000, 3000, 6000];
const FRESH_CONNECTION_OFFSETS = [0, 1000, 6000];

let killedAt = 0;
const since = (): number => Date.now() - killedAt;

interface ProbeResult {
  label: string;
  acks: number;
  nacks: number;
  closed: number;
  timeouts: number;
  firstOutcome?: string;
  firstAckAt?: number;
  lastNackAt?: number;
  firstNackAt?: number;
}

type Outcome = 'ack' | 'nack' | 'closed' | 'timeout';

/** One publish and its confirm; 'timeout' when none came within 10 s (the confirm may still come). */
function publishOnce(channel: ConfirmChannel, n: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('timeout'), 10_000);
    const settle = (outcome: Outcome): void => {
      clearTimeout(timer);
      resolve(outcome);
    };
    try {
      channel.publish('cx', 'cq', Buffer.from(`probe ${n}`), { persistent: true }, (err) => {
        if (!err) settle('ack');
        else settle(err.message === 'message nacked' ? 'nack' : 'closed');
      });
    } catch {
      settle('closed');
    }
  });
}

function record(result: ProbeResult, outcome: Outcome, at: number): void {
  result.firstOutcome ??= `${outcome} at ${at} ms`;
  if (outcome === 'ack') {
    result.acks += 1;
    result.firstAckAt ??= at;
  } else if (outcome === 'nack') {
    result.nacks += 1;
    result.firstNackAt ??= at;
    result.lastNackAt = at;
  } else if (outcome === 'timeout') {
    result.timeouts += 1;
  } else {
    result.closed += 1;
  }
}

/** Publishes every `everyMs` on the channel until `stop()` says so; a publish waits for its confirm. */
async function loop(channel: ConfirmChannel, result: ProbeResult, everyMs: number, stop: () => boolean): Promise<void> {
  let n = 0;
  while (!stop()) {
    const sentAt = since();
    const outcome = await publishOnce(channel, n++);
    record(result, outcome, sentAt);
    if (outcome === 'closed') return;
    await sleep(everyMs);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function confirmChannel(model: ChannelModel): Promise<ConfirmChannel> {
  const channel = await model.createConfirmChannel();
  channel.on('error', () => undefined);
  return channel;
}

function newResult(label: string): ProbeResult {
  return { label, acks: 0, nacks: 0, closed: 0, timeouts: 0 };
}

function describe(r: ProbeResult): string {
  return (
    `${r.label.padEnd(16)} first ${String(r.firstOutcome).padEnd(16)} acks ${String(r.acks).padStart(5)}  nacks ${String(r.nacks).padStart(5)}` +
    (r.closed ? `  closed ${r.closed}` : '') +
    (r.timeouts ? `  unconfirmed after 10 s ${r.timeouts}` : '') +
    (r.firstNackAt !== undefined ? `  nacks from ${r.firstNackAt} to ${r.lastNackAt} ms` : '') +
    (r.firstAckAt !== undefined ? `  first ack at ${r.firstAckAt} ms` : '')
  );
}

async function main(): Promise<void> {
  const cluster = await RabbitCluster.forScript(console.log);
  const models: ChannelModel[] = [];
  try {
    console.log(`cq leader: ${await cluster.declareQuorumQueue('cq', { exchange: 'cx', leaderOn: 1 })}`);

    const survivor = cluster.node(2).url;
    const keptModel = await connect(survivor);
    const sweepModel = await connect(survivor);
    const stickyModel = await connect(survivor);
    models.push(keptModel, sweepModel, stickyModel);
    for (const model of models) model.on('error', () => undefined);
    const kept = await confirmChannel(keptModel);
    if ((await publishOnce(kept, -1)) !== 'ack') throw new Error('the kept channel could not publish before the kill');

    let stopping = false;
    const stop = (): boolean => stopping;
    const results: ProbeResult[] = [];
    const keptResult = newResult('kept');
    results.push(keptResult);

    const leaderChanges: string[] = [];
    let lastLeader = await cluster.leaderOf('cq');
    const pollLeader = (async () => {
      while (!stopping) {
        const leader = await cluster.leaderOf('cq', '/', 2).catch(() => lastLeader);
        if (leader !== lastLeader) {
          leaderChanges.push(`${since()} ms: queue record leader ${lastLeader} -> ${leader}`);
          lastLeader = leader;
        }
        await sleep(250);
      }
    })();

    killedAt = Date.now();
    await cluster.kill(1);
    console.log(`killed rq1 (SIGKILL returned after ${since()} ms)`);
    const work: Promise<void>[] = [loop(kept, keptResult, 20, stop), pollLeader];

    for (const offset of STICKY_OFFSETS) {
      const result = newResult(`sticky@${offset}`);
      results.push(result);
      work.push(
        (async () => {
          await sleep(Math.max(0, offset - since()));
          await loop(await confirmChannel(stickyModel), result, 100, stop);
        })(),
      );
    }
    for (const offset of FRESH_CONNECTION_OFFSETS) {
      const result = newResult(`freshconn@${offset}`);
      results.push(result);
      work.push(
        (async () => {
          await sleep(Math.max(0, offset - since()));
          const model = await connect(survivor);
          model.on('error', () => undefined);
          models.push(model);
          await loop(await confirmChannel(model), result, 100, stop);
        })(),
      );
    }
    const sweep: string[] = [];
    work.push(
      (async () => {
        while (!stopping) {
          const openedAt = since();
          const channel = await confirmChannel(sweepModel);
          const outcome = await publishOnce(channel, 0);
          sweep.push(`${openedAt}:${outcome}`);
          await channel.close().catch(() => undefined);
          await sleep(SWEEP_MS);
        }
      })(),
    );

    await sleep(RUN_MS);
    if (RESTART) {
      const began = since();
      await cluster.restart(1);
      console.log(`rq1 restarted: began at ${began} ms, back in the cluster at ${since()} ms`);
      await sleep(AFTER_MS);
    }
    stopping = true;
    await Promise.all(work);

    console.log('\nqueue record leader changes:');
    for (const line of leaderChanges) console.log(`  ${line}`);
    console.log('\nper channel (times in ms since the kill):');
    for (const result of results) console.log(`  ${describe(result)}`);
    console.log('\nsweep (a new channel, one publish, closed; opened at ms: outcome), runs of the same outcome:');
    let run: { outcome: string; from: string; to: string; n: number } | undefined;
    const runs: string[] = [];
    for (const entry of sweep) {
      const [at, outcome] = entry.split(':');
      if (run && run.outcome === outcome) {
        run.to = at;
        run.n += 1;
      } else {
        if (run) runs.push(`${run.outcome} x${run.n} (${run.from}..${run.to} ms)`);
        run = { outcome, from: at, to: at, n: 1 };
      }
    }
    if (run) runs.push(`${run.outcome} x${run.n} (${run.from}..${run.to} ms)`);
    for (const line of runs) console.log(`  ${line}`);
  } finally {
    for (const model of models) await model.close().catch(() => undefined);
    await cluster.release();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exitCode = 1;
});
