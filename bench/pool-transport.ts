/**
 * `npm run bench:pool`: the figures behind the process pool's choice of `child_process.fork`
 * over `worker_threads`. For each, with two children that each load warren (as a pool child
 * loads the tasks module):
 * 1. start-up: spawn until the child says it loaded its module, both in parallel;
 * 2. round trip: 2,000 small task messages one after another (a task's IPC cost alone);
 * 3. payload: 200 messages with 100 KiB of arguments each, as kombu JSON text;
 * 4. memory: what one more child costs (the child's RSS; for a thread, the parent's RSS growth);
 * 5. kill: a child spinning in `for (;;)` is stopped (SIGKILL / `worker.terminate()`): time to exit;
 * 6. can it be recycled by memory: can the parent read one child's own memory use?
 *
 * No broker needed. Figures vary with the machine: read them side by side.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

const CHILD_SOURCE = `
const isThread = !!require('node:worker_threads').parentPort;
const port = isThread ? require('node:worker_threads').parentPort : process;
const send = (m) => (isThread ? port.postMessage(m) : process.send(m));
require(${JSON.stringify(join(__dirname, '..', 'src'))});
port.on('message', (m) => {
  if (m.type === 'echo') send({ type: 'echo', id: m.id, body: JSON.stringify(JSON.parse(m.body)) });
  else if (m.type === 'rss') send({ type: 'rss', rss: process.memoryUsage.rss() });
  else if (m.type === 'spin') { send({ type: 'spinning' }); for (;;) {} }
});
send({ type: 'ready' });
`;

interface Child {
  send(message: unknown): void;
  on(listener: (message: Record<string, unknown>) => void): void;
  kill(): Promise<number>;
  pid: number | undefined;
}

const dir = mkdtempSync(join(tmpdir(), 'warren-bench-pool-'));
const CHILD_FILE = join(dir, 'child.js');
writeFileSync(CHILD_FILE, CHILD_SOURCE);

function forked(): Child {
  const child: ChildProcess = fork(CHILD_FILE, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return {
    pid: child.pid,
    send: (message) => child.send(message as object),
    on: (listener) => child.on('message', listener),
    kill: () => {
      const started = performance.now();
      return new Promise((resolve) => {
        child.once('exit', () => resolve(performance.now() - started));
        child.kill('SIGKILL');
      });
    },
  };
}

function threaded(): Child {
  const worker = new Worker(CHILD_FILE);
  return {
    pid: undefined,
    send: (message) => worker.postMessage(message),
    on: (listener) => worker.on('message', listener),
    kill: async () => {
      const started = performance.now();
      await worker.terminate();
      return performance.now() - started;
    },
  };
}

function next(child: Child, type: string): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    const listener = (message: Record<string, unknown>): void => {
      if (message.type === type) resolve(message);
    };
    child.on(listener);
  });
}

/** One child's messages, awaited one at a time by id (a single listener, as the pool has). */
function replies(child: Child): (id: number) => Promise<void> {
  const waiting = new Map<number, () => void>();
  child.on((message) => {
    if (message.type === 'echo') waiting.get(message.id as number)?.();
  });
  return (id) => new Promise((resolve) => waiting.set(id, resolve));
}

async function measure(kind: 'fork' | 'worker_threads', make: () => Child): Promise<Record<string, string>> {
  const rssBefore = process.memoryUsage.rss();
  const started = performance.now();
  const children = [make(), make()];
  await Promise.all(children.map((child) => next(child, 'ready')));
  const startupMs = performance.now() - started;

  const [first] = children;
  const reply = replies(first);
  const small = JSON.stringify([[1, 2], {}, { callbacks: null, errbacks: null, chain: null, chord: null }]);
  let t = performance.now();
  for (let id = 0; id < 2000; id += 1) {
    const done = reply(id);
    first.send({ type: 'echo', id, body: small });
    await done;
  }
  const roundTripUs = ((performance.now() - t) / 2000) * 1000;

  const big = JSON.stringify([['x'.repeat(100 * 1024)], {}, {}]);
  t = performance.now();
  for (let id = 2000; id < 2200; id += 1) {
    const done = reply(id);
    first.send({ type: 'echo', id, body: big });
    await done;
  }
  const payloadMs = (performance.now() - t) / 200;

  first.send({ type: 'rss' });
  const childRss = (await next(first, 'rss')).rss as number;
  const memory = kind === 'fork' ? childRss : (process.memoryUsage.rss() - rssBefore) / children.length;

  const spinning = next(first, 'spinning');
  first.send({ type: 'spin' });
  await spinning;
  await new Promise((resolve) => setTimeout(resolve, 50));
  const killMs = await first.kill();
  await children[1].kill();
  return {
    'start-up, 2 in parallel (ms)': startupMs.toFixed(0),
    'round trip, small task (µs)': roundTripUs.toFixed(0),
    'round trip, 100 KiB args (ms)': payloadMs.toFixed(2),
    'memory per child (MiB)': (memory / 2 ** 20).toFixed(1),
    'kill a busy loop (ms)': killMs.toFixed(1),
    "one child's own memory readable": kind === 'fork' ? 'yes (its RSS)' : 'no (one process RSS)',
  };
}

async function main(): Promise<void> {
  const rows: Record<string, Record<string, string>> = {};
  // Interleaved, twice each, so a noisy neighbour on the machine weighs on both alike.
  for (let round = 0; round < 2; round += 1) {
    for (const [kind, make] of [['fork', forked], ['worker_threads', threaded]] as const) {
      const figures = await measure(kind, make);
      const label = `${kind} #${round + 1}`;
      rows[label] = figures;
      console.log(label, figures);
    }
  }
  console.table(rows);
}

void main().finally(() => rmSync(dir, { recursive: true, force: true })).then(() => process.exit(0));
