/**
 * `npm run bench:beat`: beat's figures.
 * 1. Fire lag: 100 entries every second against the real broker for BENCH_SECONDS (default 60);
 *    lag = time the broker confirmed the fire minus its planned time.
 * 2. Tick cost: the pure scheduler with 10,000 entries (intervals and cron in several time zones).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'amqplib';
import { createApp, createLogger } from '../src';
import { Scheduler } from '../src/beat';
import type { ScheduleEntryDefinition } from '../src/config/types';

const BROKER = process.env.WARREN_BROKER_URL ?? 'amqp://guest:guest@127.0.0.1:5672/';
const SECONDS = Number(process.env.BENCH_SECONDS ?? 60);

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function fireLag(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'warren-bench-'));
  const suffix = Math.random().toString(16).slice(2, 10);
  const queue = `bench.beat.${suffix}`;
  const schedule = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`e${i}`, { task: 'bench.tick', every: '1s', args: [i] }]));
  writeFileSync(join(dir, 'warren.json'), JSON.stringify({ broker: { url: BROKER }, queues: [{ name: queue, messageTtl: 120_000 }], defaultQueue: queue, schedule }));
  const app = createApp({ definitions: join(dir, 'warren.json'), scheduleStore: join(dir, 'state.json'), logger: createLogger({ level: 'warn' }) });
  const lags: number[] = [];
  try {
    const beat = await app.startBeat({ lockSuffix: suffix });
    beat.on('fired', ({ lagMs }) => lags.push(lagMs));
    console.log(`fire lag: 100 entries every 1s for ${SECONDS}s ...`);
    await new Promise((resolve) => setTimeout(resolve, SECONDS * 1000));
  } finally {
    await app.close();
    const model = await connect(BROKER);
    const channel = await model.createChannel();
    await channel.deleteQueue(queue);
    await model.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const sorted = [...lags].sort((a, b) => a - b);
  console.log(`  fires ${lags.length} (expected about ${100 * SECONDS})`);
  console.log(`  lag p50 ${percentile(sorted, 50)} ms, p99 ${percentile(sorted, 99)} ms, max ${sorted[sorted.length - 1]} ms`);
}

function entry(i: number): ScheduleEntryDefinition {
  const zones = ['UTC', 'Asia/Shanghai', 'America/New_York', 'Europe/Berlin'];
  const schedule: ScheduleEntryDefinition['schedule'] =
    i % 2 === 0
      ? { kind: 'every', everyMs: 1000 * (1 + (i % 300)) }
      : { kind: 'cron', expression: `${i % 60} ${i % 24} * * *`, timezone: zones[i % zones.length] };
  return { name: `entry-${i}`, task: 'bench.task', schedule, args: [], kwargs: {}, enabled: true, misfire: { policy: 'run-once' } };
}

function tickCost(): void {
  const entries = Array.from({ length: 10_000 }, (_, i) => entry(i));
  const scheduler = new Scheduler(entries);
  const start = new Date('2026-11-23T00:00:00Z');
  let t0 = performance.now();
  scheduler.tick(start);
  const planning = performance.now() - t0;
  const times: number[] = [];
  let fires = 0;
  // One simulated hour, one tick per second.
  for (let s = 1; s <= 3600; s += 1) {
    t0 = performance.now();
    fires += scheduler.tick(new Date(start.getTime() + s * 1000)).due.length;
    times.push(performance.now() - t0);
  }
  const sorted = times.sort((a, b) => a - b);
  console.log('tick cost: 10,000 entries (half intervals 1-300 s, half daily cron in 4 time zones), one tick a second for a simulated hour');
  console.log(`  first tick (plans every entry) ${planning.toFixed(1)} ms`);
  console.log(`  per tick p50 ${(percentile(sorted, 50) * 1000).toFixed(0)} us, p99 ${(percentile(sorted, 99) * 1000).toFixed(0)} us, max ${sorted[sorted.length - 1].toFixed(2)} ms; ${fires} fires in the hour`);
}

async function main(): Promise<void> {
  tickCost();
  await fireLag();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
