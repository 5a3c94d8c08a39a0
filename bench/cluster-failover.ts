/**
 * `npm run bench:cluster-failover`: a long-lived warren publisher on a three-node RabbitMQ
 * cluster (test/support/rabbitmq-cluster.ts) loses a node to SIGKILL while it sends.
 *
 * One app, `broker.urls` = the three nodes in order (so it connects to node 1), a quorum queue
 * `cq` bound to exchange `cx`, sends TASKS tasks in batches of BATCH with `ignoreResult`; node
 * KILL is killed with SIGKILL KILL_AFTER_MS after the first send. The queue's leader is placed
 * on node LEADER (declared first through that node). Counted: confirmed, and rejected by error
 * code, per second; the first confirm after the kill; each distinct error message once. Then a
 * fresh app (a new connection) sends FRESH tasks to see whether the cluster takes them.
 *
 * Environment (defaults in brackets): TASKS [40000], BATCH [50], KILL [1], LEADER [1],
 * KILL_AFTER_MS [4000], FRESH [200], WORKER [0] (1: a worker app with -c 16 consumes and the
 * processed, duplicate and lost counts are printed), PUBLISH_TIMEOUT_MS [10000],
 * RESTART_AFTER_MS [none] (start the killed node again this long after the kill, while sending),
 * ATTACH [0] (1: use the cluster of `npm run cluster:up` instead of starting one; its node KILL
 * is restarted at the end), LOG [warn] (level of warren's own log lines, printed with their time).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { createApp, type App } from '../src';
import { RabbitCluster } from '../test/support/rabbitmq-cluster';

const TASKS = Number(process.env.TASKS ?? 40_000);
const BATCH = Number(process.env.BATCH ?? 50);
const KILL = Number(process.env.KILL ?? 1);
const LEADER = Number(process.env.LEADER ?? 1);
const KILL_AFTER_MS = Number(process.env.KILL_AFTER_MS ?? 4000);
const AFTER_KILL_MS = Number(process.env.AFTER_KILL_MS ?? 10_000);
const FRESH = Number(process.env.FRESH ?? 200);
const WORKER = process.env.WORKER === '1';
const PUBLISH_TIMEOUT_MS = Number(process.env.PUBLISH_TIMEOUT_MS ?? 10_000);
const RESTART_AFTER_MS = process.env.RESTART_AFTER_MS === undefined ? undefined : Number(process.env.RESTART_AFTER_MS);
const LOG_LEVEL = (process.env.LOG ?? 'warn') as pino.Level;

const t0 = Date.now();
const elapsed = (): string => `${((Date.now() - t0) / 1000).toFixed(2).padStart(7)} s`;
const say = (line: string): void => console.log(`${elapsed()}  ${line}`);

/** warren's log lines, one short line each, with the time since the script began. */
function scriptLogger(role: string): pino.Logger {
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        const { level: _level, time: _time, pid: _pid, hostname: _hostname, name: _name, msg, ...rest } = JSON.parse(line) as Record<string, unknown>;
        say(`[${role}] ${String(msg)} ${JSON.stringify(rest)}`);
      }
      done();
    },
  });
  return pino({ level: LOG_LEVEL }, stream);
}

function definitionsFile(dir: string, urls: readonly string[], name: string): string {
  const file = join(dir, `${name}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      broker: { urls },
      exchanges: [{ name: 'cx', type: 'direct' }],
      queues: [{ name: 'cq', exchange: 'cx', routingKey: 'cq', type: 'quorum' }],
      defaultQueue: 'cq',
    }),
  );
  return file;
}

interface Tally {
  confirmed: number;
  rejected: Map<string, number>;
  messages: Map<string, number>;
}

function newTally(): Tally {
  return { confirmed: 0, rejected: new Map(), messages: new Map() };
}

function count(tally: Tally, outcome: PromiseSettledResult<unknown>): void {
  if (outcome.status === 'fulfilled') {
    tally.confirmed += 1;
    return;
  }
  const err = outcome.reason as { code?: string; message?: string };
  const code = err.code ?? 'no code';
  tally.rejected.set(code, (tally.rejected.get(code) ?? 0) + 1);
  // Waits and counts differ from message to message; the rest says what happened.
  const message = `${code}: ${(err.message ?? String(err)).replace(/\d+ ms/g, 'N ms')}`;
  tally.messages.set(message, (tally.messages.get(message) ?? 0) + 1);
}

function describe(tally: Tally): string {
  const rejected = [...tally.rejected].map(([code, n]) => `${code} ${n}`).join(', ');
  return `confirmed ${tally.confirmed}${rejected ? `, rejected ${rejected}` : ''}`;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'warren-failover-'));
  const cluster = await RabbitCluster.forScript(say);
  const apps: App[] = [];
  try {
    say(`cluster started in ${cluster.startedInMs} ms`);
    const killed = cluster.node(KILL);
    const urls = cluster.urls;

    // The queue's leader goes to the node that declares it; warren's own declare (as a user's
    // app would make it) must then agree with it.
    await cluster.declareQuorumQueue('cq', { exchange: 'cx', leaderOn: LEADER });
    const placer = createApp({ definitions: definitionsFile(dir, [cluster.node(LEADER).url], 'placer'), logger: scriptLogger('placer') });
    await placer.declareTopology();
    await placer.close();
    const leader = await cluster.leaderOf('cq');
    say(`quorum queue cq: leader ${leader}; the publisher connects to ${cluster.nodes[0].name}; ${killed.name} will be killed`);

    const processed = new Map<number, number>();
    if (WORKER) {
      const workerApp = createApp({ definitions: definitionsFile(dir, urls, 'worker'), logger: scriptLogger('worker') });
      apps.push(workerApp);
      workerApp.task('bench.index', async (i: unknown) => {
        processed.set(i as number, (processed.get(i as number) ?? 0) + 1);
      });
      await workerApp.startWorker({ queues: ['cq'], concurrency: 16 });
      say('worker started (-c 16)');
    }

    const app = createApp({ definitions: definitionsFile(dir, urls, 'publisher'), logger: scriptLogger('publisher'), publishTimeoutMs: PUBLISH_TIMEOUT_MS });
    apps.push(app);
    const total = newTally();
    const perSecond = new Map<number, Tally>();
    const confirmedIds = new Set<number>();
    let killedAt: number | undefined;
    let firstConfirmAfterKill: number | undefined;
    let lastRejection: number | undefined;
    let began: number | undefined;
    let killing: Promise<void> | undefined;

    // At least TASKS, and on until AFTER_KILL_MS after the kill: a fast broker must not finish first.
    let sent = 0;
    for (; sent < TASKS || killedAt === undefined || Date.now() - killedAt < AFTER_KILL_MS; sent += BATCH) {
      began ??= Date.now();
      if (!killing && Date.now() - began >= KILL_AFTER_MS) {
        killedAt = Date.now();
        killing = cluster.kill(KILL).then(async () => {
          say(`killed ${killed.name} with SIGKILL after ${total.confirmed} confirms`);
          if (RESTART_AFTER_MS !== undefined) {
            await new Promise((resolve) => setTimeout(resolve, RESTART_AFTER_MS));
            say(`restarting ${killed.name}`);
            await cluster.restart(KILL);
            say(`${killed.name} is back in the cluster`);
          }
        });
      }
      const ids = Array.from({ length: BATCH }, (_, k) => sent + k);
      const outcomes = await Promise.allSettled(ids.map((i) => app.sendTask('bench.index', [i], {}, { ignoreResult: true })));
      const now = Date.now();
      const second = Math.floor((now - began) / 1000);
      const bucket = perSecond.get(second) ?? newTally();
      perSecond.set(second, bucket);
      outcomes.forEach((outcome, k) => {
        count(total, outcome);
        count(bucket, outcome);
        if (outcome.status === 'fulfilled') {
          confirmedIds.add(ids[k]);
          if (killedAt !== undefined && firstConfirmAfterKill === undefined) firstConfirmAfterKill = now;
        } else {
          lastRejection = now;
        }
      });
    }
    const publishEnd = Date.now();
    say(`publisher done: sent ${sent}, ${describe(total)}`);
    await killing;

    console.log('\nper second since the first send (kill at ' + (killedAt && began ? `${((killedAt - began) / 1000).toFixed(2)} s` : 'never') + '):');
    for (const [second, tally] of [...perSecond].sort((a, b) => a[0] - b[0])) console.log(`  ${String(second).padStart(4)} s  ${describe(tally)}`);
    console.log('\ndistinct rejections:');
    for (const [message, n] of total.messages) console.log(`  ${n} x ${message}`);
    if (killedAt !== undefined) {
      console.log(
        `\nfirst confirm after the kill: ${firstConfirmAfterKill === undefined ? 'never' : `${firstConfirmAfterKill - killedAt} ms after it`}; ` +
          `last rejection: ${lastRejection === undefined ? 'none' : `${lastRejection - killedAt} ms after the kill`} ` +
          `(the run ended ${publishEnd - killedAt} ms after the kill)`,
      );
    }
    say(`queue cq now: leader ${await cluster.leaderOf('cq').catch((err: Error) => err.message)}`);

    if (FRESH > 0) {
      const fresh = createApp({ definitions: definitionsFile(dir, urls, 'fresh'), logger: scriptLogger('fresh') });
      const tally = newTally();
      const outcomes = await Promise.allSettled(Array.from({ length: FRESH }, (_, i) => fresh.sendTask('bench.index', [sent + i], {}, { ignoreResult: true })));
      outcomes.forEach((outcome, i) => {
        count(tally, outcome);
        if (outcome.status === 'fulfilled') confirmedIds.add(sent + i);
      });
      await fresh.close();
      say(`a fresh app (new connection) sent ${FRESH}: ${describe(tally)}`);
      // And the long-lived one once more, after the fresh one's success.
      const again = newTally();
      const retry = await Promise.allSettled(Array.from({ length: BATCH }, (_, i) => app.sendTask('bench.index', [sent + FRESH + i], {}, { ignoreResult: true })));
      retry.forEach((outcome, i) => {
        count(again, outcome);
        if (outcome.status === 'fulfilled') confirmedIds.add(sent + FRESH + i);
      });
      say(`the long-lived app, once more, sent ${BATCH}: ${describe(again)}${[...again.messages.keys()].slice(0, 1).map((m) => ` (${m})`).join('')}`);
    }

    if (WORKER) {
      let last = -1;
      const deadline = Date.now() + 120_000;
      while (Date.now() < deadline) {
        const done = [...confirmedIds].every((id) => processed.has(id));
        if (done || processed.size === last) break;
        last = processed.size;
        await new Promise((resolve) => setTimeout(resolve, 5000));
      }
      const lost = [...confirmedIds].filter((id) => !processed.has(id)).length;
      const duplicates = [...processed.values()].reduce((sum, n) => sum + n - 1, 0);
      say(`worker: confirmed in all ${confirmedIds.size}, processed ${processed.size} distinct, duplicates ${duplicates}, confirmed but not processed (lost) ${lost}`);
    }
  } finally {
    for (const app of apps.reverse()) await app.close().catch((err: Error) => say(`close: ${err.message}`));
    rmSync(dir, { recursive: true, force: true });
    await cluster.release();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exitCode = 1;
});
