/**
 * `npm run bench:delay-levels`: what quorum delay levels cost against classic ones on one broker.
 * For each queue type, in a vhost of its own on the test broker (`WARREN_TEST_BROKER_URL`, managed
 * with the machine's `rabbitmqctl`), one app sends TASKS tasks with a countdown of COUNTDOWN
 * seconds (TASKS calls in flight at most WINDOW at a time) and the run waits until every one is in
 * the task queue (no worker: the depth is read with passive declares). It prints how long the
 * sends took until confirmed (sends per second) and how late the last task reached its queue after
 * its due time. A countdown of 7 s makes three hops (4 s, 2 s, 1 s levels).
 *
 * Environment: TASKS [2000], WINDOW [200], COUNTDOWN [7].
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { connect } from 'amqplib';
import { createApp, createLogger } from '../src';
import type { QueueType } from '../src/config/types';

const run = promisify(execFile);
const TASKS = Number(process.env.TASKS ?? 2000);
const WINDOW = Number(process.env.WINDOW ?? 200);
const COUNTDOWN = Number(process.env.COUNTDOWN ?? 7);
const BROKER = process.env.WARREN_TEST_BROKER_URL ?? 'amqp://guest:guest@127.0.0.1:5672/';

async function once(queueType: QueueType): Promise<void> {
  const vhost = `warren-bench-delays-${randomBytes(4).toString('hex')}`;
  await run('rabbitmqctl', ['add_vhost', vhost]);
  await run('rabbitmqctl', ['set_permissions', '-p', vhost, 'guest', '.*', '.*', '.*']);
  const url = new URL(BROKER);
  url.pathname = `/${encodeURIComponent(vhost)}`;
  const dir = mkdtempSync(join(tmpdir(), 'warren-bench-delays-'));
  const definitions = join(dir, 'warren.json');
  writeFileSync(definitions, JSON.stringify({
    broker: { url: url.toString() },
    exchanges: [{ name: 'jobs', type: 'direct' }],
    queues: [{ name: 'jobs', exchange: 'jobs', routingKey: 'jobs' }],
    defaultQueue: 'jobs',
    delays: { queueType },
  }));
  const app = createApp({ definitions, logger: createLogger({ level: 'silent' }) });
  const probe = await connect(url.toString());
  try {
    await app.sendTask('bench.warm', [], {}, { countdown: 1, ignoreResult: true }); // declares the levels
    const began = Date.now();
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < TASKS) {
        next += 1;
        await app.sendTask('bench.delayed', [next], {}, { countdown: COUNTDOWN, ignoreResult: true });
      }
    };
    await Promise.all(Array.from({ length: WINDOW }, lane));
    const sentMs = Date.now() - began;
    const channel = await probe.createChannel();
    let arrivedAt = 0;
    for (;;) {
      if ((await channel.checkQueue('jobs')).messageCount >= TASKS + 1) {
        arrivedAt = Date.now();
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const lastDue = began + sentMs + COUNTDOWN * 1000;
    process.stdout.write(
      `${queueType.padEnd(7)} levels: ${TASKS} tasks, countdown ${COUNTDOWN} s: sent and confirmed in ${sentMs} ms ` +
        `(${Math.round((TASKS / sentMs) * 1000)}/s); the last in its queue ${arrivedAt - lastDue} ms after the last was due\n`,
    );
  } finally {
    await probe.close().catch(() => undefined);
    await app.close();
    await run('rabbitmqctl', ['delete_vhost', vhost]).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  for (const queueType of ['classic', 'quorum', 'classic', 'quorum'] as const) await once(queueType);
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
