/**
 * The tasks of `npm run bench` (bench/throughput.ts), loaded by `warren worker -A`. Each process
 * that runs them (the worker, or a pool's child) counts its runs and reports the count, the first
 * start and the last end, and its RSS, over UDP to the bench (BENCH_REPORT_PORT) every 20 ms while
 * the count changes: nothing per task but a counter, and it works whichever process runs the task.
 */
import { createHash } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { createApp } from '../src';

export const app = createApp();

/** Wall-clock milliseconds with sub-millisecond precision, comparable across the bench's processes. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

let count = 0;
let first = 0;
let last = 0;
const port = Number(process.env.BENCH_REPORT_PORT);
if (port > 0) {
  const socket = createSocket('udp4');
  socket.unref();
  let reported = -1;
  const report = (): void => {
    if (count === reported) return;
    reported = count;
    socket.send(JSON.stringify({ pid: process.pid, count, first, last, rss: process.memoryUsage.rss() }), port, '127.0.0.1');
  };
  setInterval(report, 20).unref();
}

function ran(start: number, end: number): void {
  if (count === 0) first = start;
  count += 1;
  last = end;
}

/** No work at all: what the framework costs per task. */
app.task('bench.noop', async () => {
  const t = Date.now();
  ran(t, t);
});

/** Returns when it started, for the latency figures. */
app.task('bench.stamp', async () => {
  const t = nowMs();
  ran(t, t);
  return t;
});

/** Hashes for `ms` milliseconds without awaiting: a CPU-bound task. */
app.task('bench.cpu', async (ms: number) => {
  const start = Date.now();
  let digest = Buffer.alloc(32);
  while (Date.now() - start < ms) for (let i = 0; i < 100; i += 1) digest = createHash('sha256').update(digest).digest();
  ran(start, Date.now());
  return undefined;
});
