/**
 * `npm run bench`: warren beside raw amqplib on the same broker, in the same run.
 *
 *   npm run bench [-- [--quick] [--json FILE] [--runs N] [--tasks N] [--log-level LEVEL] [--only publish,trip,pool,growth]]
 *
 * BENCH_WORKER_NODE_ARGS and BENCH_CLIENT_NODE_ARGS add node flags to the worker processes and to
 * the publishers and clients (`--cpu-prof --cpu-prof-dir=prof` profiles them).
 *
 * 1. publish: `sendTask` (ignoreResult) vs `ConfirmChannel.publish` of the same bytes, both with
 *    at most `window` publishes waiting for their confirm;
 * 2. consume: a `warren worker` process (async pool, no-op task, ignoreResult) vs a raw consumer
 *    that parses and acks each message, at the same prefetch, over the messages run 1 left;
 * 3. round trip: `sendTask` + `result.get()` with `inFlight` at once vs a raw publish with
 *    `reply_to` and a raw worker that publishes the reply (confirmed) and then acks;
 * 4. latency at a steady rate: enqueue to start and enqueue to result, p50 and p99;
 * 5. memory: worker RSS idle and after run 2, publisher RSS after run 1, worker RSS after 10,000
 *    and after 100,000 tasks;
 * 6. pools: `--pool process` vs the async pool on no-op and CPU-bound tasks, when the worker
 *    takes the flag (else a note says it was skipped).
 *
 * Each figure is the median over `--runs` (3; `--quick`: 1, and fewer tasks, no growth run).
 * Every role runs in a process of its own (this file forked with `--role`, or `warren worker`),
 * so no role's garbage or event loop slows another's. Timings print; nothing is asserted.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { connect, type Channel, type ChannelModel, type ConfirmChannel, type ConsumeMessage } from 'amqplib';
import { createApp, createLogger, type AsyncResult } from '../src';
import { encodeTaskMessage } from '../src/protocol';

const BROKER = process.env.WARREN_BROKER_URL ?? 'amqp://guest:guest@127.0.0.1:5672/';
const ROOT = join(__dirname, '..', '..');
const CLI = join(ROOT, 'bin', 'warren.js');
const TASKS = join(__dirname, 'throughput-tasks.js');

interface Settings {
  quick: boolean;
  runs: number;
  /** Tasks published (run 1) and consumed (run 2). */
  tasks: number;
  /** Publishes waiting for their confirm at most, warren and raw alike. */
  window: number;
  concurrency: number;
  prefetch: number;
  /** Run 3. */
  roundTrips: number;
  inFlight: number;
  /**
   * Calls made untimed before each timed run of runs 1 to 3, warren's and raw's alike: publishes
   * before run 1's (run 2 then consumes them first, untimed too), round trips before run 3's.
   * V8 compiles a process's hot paths over its first thousands of calls: without them a run
   * timed the compiler as much as the work (CPU per round trip fell by a third to a half for
   * both from 5,000 timed trips to 30,000), and a worker that runs for days lives in the steady state.
   */
  warmUp: number;
  /** Run 4. */
  rate: number;
  latencySeconds: number;
  /** Run 5: RSS after the first figure's tasks and after the second's; null: not run. */
  growth: [number, number] | null;
  /** Run 6: CPU-bound tasks, and the milliseconds each computes. */
  cpuTasks: number;
  cpuMs: number;
  /** Size of the task's argument (a string), so the args are about 200 bytes of JSON. */
  argBytes: number;
  /** The worker's log level. */
  logLevel: string;
  /** Only these parts (publish, trip, pool, growth); all when undefined. */
  only: string[] | undefined;
}

function settingsFrom(argv: readonly string[]): { settings: Settings; jsonFile: string | undefined } {
  const quick = argv.includes('--quick');
  const value = (flag: string): string | undefined => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const runs = Number(value('--runs') ?? (quick ? 1 : 3));
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a whole number >= 1 (got ${value('--runs')})`);
  const settings: Settings = {
    quick,
    runs,
    tasks: Number(value('--tasks') ?? (quick ? 2_000 : 20_000)),
    window: 1_000,
    concurrency: 64,
    prefetch: 64,
    roundTrips: quick ? 500 : 5_000,
    inFlight: 200,
    warmUp: quick ? 100 : 2_000,
    rate: 500,
    latencySeconds: quick ? 2 : 10,
    growth: quick ? null : [10_000, 100_000],
    cpuTasks: quick ? 100 : 1_000,
    cpuMs: 5,
    argBytes: 180,
    logLevel: value('--log-level') ?? 'info',
    only: value('--only')?.split(','),
  };
  return { settings, jsonFile: value('--json') };
}

// ---------------------------------------------------------------------------------------------
// Figures

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

function median(values: readonly number[]): number {
  const finite = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (finite.length === 0) return NaN;
  const mid = Math.floor(finite.length / 2);
  return finite.length % 2 === 1 ? finite[mid] : (finite[mid - 1] + finite[mid]) / 2;
}

function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Runs warren's measurement and raw's one after the other, warren first or raw first. */
async function pair<W, R>(warrenFirst: boolean, warren: () => Promise<W>, raw: () => Promise<R>): Promise<[W, R]> {
  if (warrenFirst) {
    const w = await warren();
    return [w, await raw()];
  }
  const r = await raw();
  return [await warren(), r];
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** CPU time (user + system) of another process in milliseconds, from /proc (Linux); NaN elsewhere. */
function cpuMsOf(pid: number): number {
  const stat = `/proc/${pid}/stat`;
  if (!existsSync(stat)) return NaN;
  // Fields 14 and 15 (utime, stime) in clock ticks, counted after the command name, which may hold spaces.
  const fields = readFileSync(stat, 'utf8').replace(/^.*\) /, '').split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

/** This process's CPU time in milliseconds. */
function ownCpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** Extra node flags for the bench's processes, from an environment variable (e.g. `--cpu-prof`, to profile them). */
function nodeArgs(variable: string): string[] {
  return (process.env[variable] ?? '').split(' ').filter((arg) => arg !== '');
}

/** RSS of another process in bytes, from /proc (Linux) or ps. */
function rssOf(pid: number): number {
  const status = `/proc/${pid}/status`;
  if (existsSync(status)) {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(status, 'utf8'));
    return match ? Number(match[1]) * 1024 : NaN;
  }
  return NaN;
}

// ---------------------------------------------------------------------------------------------
// The message: warren's own encoding of the bench task, so raw publishes carry the same bytes.

function taskArgs(settings: Settings): unknown[] {
  return ['x'.repeat(settings.argBytes), 42];
}

function encodedTask(settings: Settings, name: string, args: readonly unknown[], replyTo: string): ReturnType<typeof encodeTaskMessage> {
  const id = randomUUID();
  const encoded = encodeTaskMessage({ id, task: name, args, kwargs: {}, replyTo, ignoreResult: replyTo === '' });
  // warren leaves `expiration` out (see Producer.publish); so does the raw twin.
  const { expiration: _expiration, ...properties } = encoded.properties;
  return { body: encoded.body, properties: properties as typeof encoded.properties };
}

/**
 * What a raw amqplib client does per message: a fresh id in the same headers, the body
 * serialized with JSON.stringify. The same bytes and headers as warren's message.
 */
function rawMessage(template: ReturnType<typeof encodeTaskMessage>, replyTo: string): { body: Buffer; options: Record<string, unknown>; id: string } {
  const id = randomUUID();
  const parsed = JSON.parse(template.body.toString()) as unknown[];
  return {
    id,
    body: Buffer.from(JSON.stringify(parsed)),
    options: { ...template.properties, correlationId: id, replyTo: replyTo || undefined, headers: { ...template.properties.headers, id, root_id: id }, mandatory: true },
  };
}

// ---------------------------------------------------------------------------------------------
// Roles, each in a process of its own (forked with `--role`): they get a job and send a result.

interface Job {
  role: string;
  settings: Settings;
  definitions: string;
  queue: string;
  count: number;
}

/** Run 1, warren: sendTask with ignoreResult, at most `window` waiting for confirms. */
async function warrenPublish(job: Job): Promise<unknown> {
  const app = createApp({ definitions: job.definitions, logger: createLogger({ level: 'warn' }) });
  const args = taskArgs(job.settings);
  const send = (): Promise<unknown> => app.sendTask('bench.noop', args, {}, { queue: job.queue, ignoreResult: true });
  const figures = await timedPublishes(job, send); // the first connects and declares; the worker counts it too
  await app.close();
  return figures;
}

/** Run 1, raw: ConfirmChannel.publish of the same bytes, at most `window` waiting for confirms. */
async function rawPublish(job: Job): Promise<unknown> {
  const model = await connect(BROKER, { noDelay: true });
  const channel = await model.createConfirmChannel();
  const template = encodedTask(job.settings, 'bench.noop', taskArgs(job.settings), '');
  const send = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const { body, options } = rawMessage(template, '');
      channel.publish('', job.queue, body, options, (err) => (err ? reject(err) : resolve()));
    });
  const figures = await timedPublishes(job, send);
  await model.close();
  return figures;
}

/** Run 1 over one publisher's `send`: `warmUp` untimed, then `count` in the confirm window, timed, with this process's CPU time and RSS. */
async function timedPublishes(job: Job, send: () => Promise<unknown>): Promise<{ ms: number; rss: number; cpuMs: number }> {
  await windowed(job.settings.warmUp, job.settings.window, send);
  const start = nowMs();
  const cpu = ownCpuMs();
  await windowed(job.count, job.settings.window, send);
  const ms = nowMs() - start;
  const cpuMs = ownCpuMs() - cpu;
  return { ms, rss: process.memoryUsage.rss(), cpuMs };
}

/** Calls `send` `count` times, with at most `window` unsettled at once (a sliding window). */
async function windowed(count: number, window: number, send: () => Promise<unknown>): Promise<void> {
  let started = 0;
  await new Promise<void>((resolve, reject) => {
    let settled = 0;
    const next = (): void => {
      while (started < count && started - settled < window) {
        started += 1;
        send().then(() => {
          settled += 1;
          if (settled === count) resolve();
          else next();
        }, reject);
      }
    };
    next();
  });
}

/**
 * Run 2, raw: parse and ack each message at the worker's prefetch; timed from the end of the
 * `warmUp` messages: the count, the times of the warm-up's last message and of the last one.
 */
async function rawConsume(job: Job): Promise<unknown> {
  const model = await connect(BROKER, { noDelay: true });
  const channel = await model.createChannel();
  await channel.prefetch(job.settings.prefetch, false);
  await channel.prefetch(job.settings.prefetch, true);
  const { warmUp } = job.settings;
  let count = 0;
  let first = 0;
  let last = 0;
  let cpu = 0;
  const done = new Promise<void>((resolve) => {
    void channel.consume(
      job.queue,
      (message) => {
        if (!message) return;
        const t = Date.now();
        JSON.parse(message.content.toString());
        channel.ack(message);
        count += 1;
        if (count === warmUp) {
          first = t;
          cpu = ownCpuMs();
        }
        last = t;
        if (count === job.count) resolve();
      },
      { noAck: false },
    );
  });
  await done;
  const cpuMs = ownCpuMs() - cpu;
  count -= warmUp;
  await model.close();
  return { count, first, last, cpuMs };
}

/** Runs 3 and 4, warren: round trips with `inFlight` at once, then the steady rate. */
async function warrenClient(job: Job): Promise<unknown> {
  const app = createApp({ definitions: job.definitions, logger: createLogger({ level: 'warn' }) });
  const args = taskArgs(job.settings);
  const call = async (): Promise<number> => {
    const result: AsyncResult<number> = await app.sendTask<number>('bench.stamp', args, {}, { queue: job.queue });
    return result.get({ timeout: 60_000 });
  };
  const { roundTripMs, cpuMs, latency } = await tripsAndLatency(job, call);
  await app.close();
  return { roundTripMs, cpuMs, latency };
}

/**
 * Runs 3 and 4 over one client's `call` (a round trip resolving with the time its task started):
 * the untimed warm-up round trips, the timed ones, then the steady rate.
 */
async function tripsAndLatency(job: Job, call: () => Promise<number>): Promise<{ roundTripMs: number; cpuMs: number; latency: unknown }> {
  await windowed(job.settings.warmUp, job.settings.inFlight, call);
  const { roundTripMs, cpuMs } = await roundTripPhase(job, call);
  const latency = await steady(job.settings, async () => {
    const sent = nowMs();
    const started = await call();
    return { toStart: started - sent, toResult: nowMs() - sent };
  });
  return { roundTripMs, cpuMs, latency };
}

/**
 * Run 3's round trips, timed, with this process's CPU time; the orchestrator is told when they
 * begin and end, to read the worker's CPU time around them.
 */
async function roundTripPhase(job: Job, call: () => Promise<unknown>): Promise<{ roundTripMs: number; cpuMs: number }> {
  await new Promise<void>((resolve) => process.send!({ phase: 'trips' }, () => resolve()));
  const start = nowMs();
  const cpu = ownCpuMs();
  await windowed(job.settings.roundTrips, job.settings.inFlight, call);
  const roundTripMs = nowMs() - start;
  const cpuMs = ownCpuMs() - cpu;
  process.send!({ phase: 'trips done' });
  return { roundTripMs, cpuMs };
}

/** Runs 3 and 4, raw: publish with reply_to and a correlation id, consume the reply queue. */
async function rawClient(job: Job): Promise<unknown> {
  const model = await connect(BROKER, { noDelay: true });
  const channel = await model.createConfirmChannel();
  const replies = await channel.assertQueue('', { exclusive: true, autoDelete: true });
  const waiting = new Map<string, (started: number) => void>();
  await channel.consume(
    replies.queue,
    (message) => {
      if (!message) return;
      const reply = JSON.parse(message.content.toString()) as { result: number };
      const id = String(message.properties.correlationId);
      waiting.get(id)?.(reply.result);
      waiting.delete(id);
    },
    { noAck: true },
  );
  const template = encodedTask(job.settings, 'bench.stamp', taskArgs(job.settings), replies.queue);
  const call = (): Promise<number> =>
    new Promise((resolve, reject) => {
      const { body, options, id } = rawMessage(template, replies.queue);
      waiting.set(id, resolve);
      channel.publish('', job.queue, body, options, (err) => {
        if (err) reject(err);
      });
    });
  const { roundTripMs, cpuMs, latency } = await tripsAndLatency(job, call);
  await model.close();
  return { roundTripMs, cpuMs, latency };
}

/** Runs 3 and 4, raw worker: parse, publish the reply and wait for its confirm, then ack (late ack). */
async function rawWorker(job: Job): Promise<unknown> {
  const model = await connect(BROKER, { noDelay: true });
  const consuming = await model.createChannel();
  const replying = await model.createConfirmChannel();
  await consuming.prefetch(job.settings.prefetch, false);
  await consuming.prefetch(job.settings.prefetch, true);
  const onMessage = (message: ConsumeMessage | null): void => {
    if (!message) return;
    const started = nowMs();
    const [args] = JSON.parse(message.content.toString()) as [unknown[]];
    void args;
    const id = String(message.properties.correlationId);
    const reply = Buffer.from(JSON.stringify({ task_id: id, status: 'SUCCESS', result: started, traceback: null, children: [] }));
    replying.publish(
      '',
      String(message.properties.replyTo),
      reply,
      { correlationId: id, contentType: 'application/json', contentEncoding: 'utf-8', deliveryMode: 2, mandatory: true },
      (err) => {
        if (err) consuming.nack(message, false, true);
        else consuming.ack(message);
      },
    );
  };
  await consuming.consume(job.queue, onMessage, { noAck: false });
  process.send?.({ ready: true });
  await new Promise((resolve) => process.once('disconnect', resolve));
  await model.close().catch(() => undefined);
  return undefined;
}

/** Calls `call` at `rate` a second for `latencySeconds`, on a schedule (not after each other). */
async function steady(settings: Settings, call: () => Promise<{ toStart: number; toResult: number }>): Promise<unknown> {
  const total = settings.rate * settings.latencySeconds;
  const toStart: number[] = [];
  const toResult: number[] = [];
  const calls: Array<Promise<void>> = [];
  const begin = nowMs();
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((nowMs() - begin) / 1000) * settings.rate) + 1);
    while (sent < due) {
      sent += 1;
      calls.push(
        call().then((figures) => {
          toStart.push(figures.toStart);
          toResult.push(figures.toResult);
        }),
      );
    }
    await sleep(1);
  }
  await Promise.all(calls);
  const sortedStart = toStart.sort((a, b) => a - b);
  const sortedResult = toResult.sort((a, b) => a - b);
  return {
    achievedRate: total / ((nowMs() - begin) / 1000),
    startP50: percentile(sortedStart, 50),
    startP99: percentile(sortedStart, 99),
    resultP50: percentile(sortedResult, 50),
    resultP99: percentile(sortedResult, 99),
  };
}

const ROLES: Record<string, (job: Job) => Promise<unknown>> = {
  'warren-publish': warrenPublish,
  'raw-publish': rawPublish,
  'raw-consume': rawConsume,
  'warren-client': warrenClient,
  'raw-client': rawClient,
  'raw-worker': rawWorker,
};

async function runRole(): Promise<void> {
  const job = await new Promise<Job>((resolve) => process.once('message', (message) => resolve(message as Job)));
  let message: { result?: unknown; error?: string };
  try {
    message = { result: await ROLES[job.role](job) };
  } catch (err) {
    message = { error: err instanceof Error ? (err.stack ?? err.message) : String(err) };
  }
  if (process.connected) process.send?.(message, () => process.disconnect());
}

// ---------------------------------------------------------------------------------------------
// The orchestrator

/** A role in a forked process: resolves with its result. */
function role<T>(
  name: string,
  job: Omit<Job, 'role'>,
  onReady?: (child: ChildProcess) => void,
  onPhase?: (phase: string) => void,
): { child: ChildProcess; result: Promise<T> } {
  const child = fork(__filename, ['--role'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: nodeArgs('BENCH_CLIENT_NODE_ARGS') });
  const result = new Promise<T>((resolve, reject) => {
    child.on('message', (message: { ready?: boolean; phase?: string; result?: T; error?: string }) => {
      if (message.ready) onReady?.(child);
      else if (message.phase !== undefined) onPhase?.(message.phase);
      else if (message.error !== undefined) reject(new Error(`${name}: ${message.error}`));
      else resolve(message.result as T);
    });
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code} before it reported`)));
  });
  child.send({ role: name, ...job });
  return { child, result };
}

/** A role that serves until it is disconnected (the raw worker): resolves once it consumes. */
function serve(name: string, job: Omit<Job, 'role'>): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const { result } = role(name, job, resolve);
    result.catch(reject);
  });
}

/** Counts reported over UDP by the processes that run the bench tasks. */
class Reports {
  private readonly socket = createSocket('udp4');
  private readonly byPid = new Map<number, { count: number; first: number; last: number; rss: number }>();
  private listeners: Array<() => void> = [];
  port = 0;

  async start(): Promise<void> {
    this.socket.on('message', (data) => {
      const report = JSON.parse(data.toString()) as { pid: number; count: number; first: number; last: number; rss: number };
      this.byPid.set(report.pid, report);
      for (const listener of this.listeners) listener();
    });
    await new Promise<void>((resolve) => this.socket.bind(0, '127.0.0.1', resolve));
    this.port = this.socket.address().port;
  }

  reset(): void {
    this.byPid.clear();
  }

  get total(): { count: number; first: number; last: number } {
    let count = 0;
    let first = Infinity;
    let last = 0;
    for (const report of this.byPid.values()) {
      count += report.count;
      if (report.count > 0) first = Math.min(first, report.first);
      last = Math.max(last, report.last);
    }
    return { count, first, last };
  }

  rssOf(pid: number): number {
    return this.byPid.get(pid)?.rss ?? NaN;
  }

  /** Resolves once the processes ran `count` tasks in all; calls `progress` on each report. */
  until(count: number, timeoutMs: number, progress?: () => void): Promise<{ count: number; first: number; last: number }> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => finish(new Error(`the worker ran ${this.total.count} of ${count} tasks within ${timeoutMs} ms`)), timeoutMs);
      const finish = (error?: Error): void => {
        clearTimeout(timer);
        this.listeners = this.listeners.filter((l) => l !== check);
        if (error) reject(error);
        else resolve(this.total);
      };
      const check = (): void => {
        progress?.();
        if (this.total.count >= count) finish();
      };
      this.listeners.push(check);
      check();
    });
  }

  close(): void {
    this.socket.close();
  }
}

/** A `warren worker` process over the bench tasks. */
class WarrenWorker {
  private static started = 0;
  readonly child: ChildProcess;
  private readonly logFile: string;
  readonly exited: Promise<number | null>;

  constructor(bench: Bench, queue: string, extraArgs: readonly string[] = []) {
    const args = [
      ...nodeArgs('BENCH_WORKER_NODE_ARGS'),
      CLI, 'worker', '-A', TASKS, '--definitions', bench.definitions, '-Q', queue,
      '-c', String(bench.settings.concurrency), '--without-mingle', '-l', bench.settings.logLevel, ...extraArgs,
    ];
    // Its output goes to a file, as `warren worker 2>worker.log` would: a pipe that this busy
    // process drains late would block the worker's writes and measure the bench, not the worker.
    this.logFile = join(bench.dir, `worker-${++WarrenWorker.started}.log`);
    const out = openSync(this.logFile, 'w');
    this.child = spawn(process.execPath, args, {
      env: { ...process.env, BENCH_REPORT_PORT: String(bench.reports.port), WARREN_LOG_FORMAT: 'json' },
      stdio: ['ignore', out, out],
    });
    closeSync(out);
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  /** Resolves once the broker shows its consumer on `queue`; rejects with its output if it exits first. */
  async ready(channel: () => Promise<Channel>, queue: string): Promise<void> {
    let exit: number | null | undefined;
    void this.exited.then((code) => (exit = code));
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (exit !== undefined) throw new WorkerRefused(exit, this.logs);
      const { consumerCount } = await (await channel()).checkQueue(queue);
      if (consumerCount > 0) return;
      await sleep(20);
    }
    throw new Error(`the worker did not consume ${queue} within 30 s:\n${this.logs}`);
  }

  /** The end of what it wrote. */
  get logs(): string {
    return readFileSync(this.logFile, 'utf8').slice(-65_536);
  }

  get rss(): number {
    return rssOf(this.child.pid!);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    await this.exited;
  }
}

class WorkerRefused extends Error {
  constructor(
    readonly code: number | null,
    readonly output: string,
  ) {
    super(`the worker exited with ${code} before it consumed:\n${output.slice(-2000)}`);
  }
}

/** The figures of one run, by name: warren's and raw's. */
type RunFigures = Record<string, { warren: number; raw?: number; unit: string; better: 'higher' | 'lower' }>;

class Bench {
  readonly suffix = randomUUID().slice(0, 8);
  readonly dir = mkdtempSync(join(tmpdir(), 'warren-bench-'));
  readonly definitions = join(this.dir, 'warren.json');
  readonly reports = new Reports();
  readonly queues: Record<'publishW' | 'publishR' | 'trip' | 'tripR' | 'pool' | 'growth', string>;
  private model: ChannelModel | undefined;
  private channelOpen: Channel | undefined;
  brokerVersion = 'unknown';
  readonly notes: string[] = [];

  constructor(readonly settings: Settings) {
    const q = (name: string): string => `bench.${this.suffix}.${name}`;
    this.queues = { publishW: q('warren'), publishR: q('raw'), trip: q('trip'), tripR: q('trip-raw'), pool: q('pool'), growth: q('growth') };
    // Every queue is a durable classic queue reached through the default exchange: warren declares
    // them all, the raw twins use the same ones.
    writeFileSync(
      this.definitions,
      JSON.stringify({ broker: { url: BROKER }, queues: Object.values(this.queues).map((name) => ({ name })), defaultQueue: this.queues.publishW }),
    );
  }

  async start(): Promise<void> {
    await this.reports.start();
    this.model = await connect(BROKER);
    const server = (this.model.connection as unknown as { serverProperties?: { product?: string; version?: string } }).serverProperties;
    this.brokerVersion = `${server?.product ?? 'broker'} ${server?.version ?? '?'}`;
    const channel = await this.channel();
    for (const name of Object.values(this.queues)) await channel.assertQueue(name, { durable: true });
  }

  /** The orchestrator's channel for checks and purges; a new one if the last was closed. */
  async channel(): Promise<Channel> {
    if (!this.channelOpen) {
      this.channelOpen = await this.model!.createChannel();
      this.channelOpen.on('close', () => (this.channelOpen = undefined));
      this.channelOpen.on('error', () => undefined);
    }
    return this.channelOpen;
  }

  async purge(): Promise<void> {
    const channel = await this.channel();
    for (const name of Object.values(this.queues)) await channel.purgeQueue(name);
  }

  job(queue: string, count: number): Omit<Job, 'role'> {
    return { settings: this.settings, definitions: this.definitions, queue, count };
  }

  async close(): Promise<void> {
    const channel = await this.channel().catch(() => undefined);
    for (const name of Object.values(this.queues)) await channel?.deleteQueue(name).catch(() => undefined);
    await this.model?.close().catch(() => undefined);
    this.reports.close();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Fills `queue` with `count` bench tasks through raw publishes (warren's bytes), fast. */
  async fill(queue: string, count: number, name = 'bench.noop', args?: unknown[]): Promise<void> {
    const channel: ConfirmChannel = await this.model!.createConfirmChannel();
    const template = encodedTask(this.settings, name, args ?? taskArgs(this.settings), '');
    await windowed(count, this.settings.window, () =>
      new Promise<void>((resolve, reject) => {
        const { body, options } = rawMessage(template, '');
        channel.publish('', queue, body, options, (err) => (err ? reject(err) : resolve()));
      }),
    );
    await channel.close();
  }

  /** Runs 1 and 2 (and the memory figures that go with them). */
  async publishAndConsume(run: number, figures: RunFigures): Promise<void> {
    const { tasks } = this.settings;
    const warrenFirst = run % 2 === 1;
    // Run 1: each publisher in its own process, one after the other (order alternating by run).
    const publishers = [
      () => role<{ ms: number; rss: number; cpuMs: number }>('warren-publish', this.job(this.queues.publishW, tasks)).result,
      () => role<{ ms: number; rss: number; cpuMs: number }>('raw-publish', this.job(this.queues.publishR, tasks)).result,
    ] as const;
    const [w1, r1] = await pair(warrenFirst, publishers[0], publishers[1]);
    figures['1. publish, tasks/s'] = { warren: (tasks / w1.ms) * 1000, raw: (tasks / r1.ms) * 1000, unit: '/s', better: 'higher' };
    figures['1. publisher CPU per task, µs'] = { warren: (w1.cpuMs / tasks) * 1000, raw: (r1.cpuMs / tasks) * 1000, unit: 'µs', better: 'lower' };
    figures['5. publisher RSS after run 1, MB'] = { warren: w1.rss / 2 ** 20, raw: r1.rss / 2 ** 20, unit: 'MB', better: 'lower' };
    // Run 2: the queues hold what run 1 published (warmUp + tasks each); the first warmUp are consumed untimed.
    const { warmUp } = this.settings;
    const consumeWarren = async (): Promise<{ rate: number; rss: number; cpuMs: number; count: number }> => {
      this.reports.reset();
      const worker = new WarrenWorker(this, this.queues.publishW);
      try {
        await worker.ready(() => this.channel(), this.queues.publishW);
        // Reports come every 20 ms: timed from the first one past the warm-up, with its count and time.
        const warm = await this.reports.until(warmUp, 120_000);
        const cpu = cpuMsOf(worker.child.pid!);
        const total = await this.reports.until(warmUp + tasks, 120_000);
        // The last acks go out just after the last task's report.
        await sleep(100);
        const cpuMs = cpuMsOf(worker.child.pid!) - cpu;
        const rss = worker.rss;
        const count = total.count - warm.count;
        return { rate: (count / (total.last - warm.last)) * 1000, rss, cpuMs, count };
      } finally {
        await worker.stop();
      }
    };
    const consumeRaw = async (): Promise<{ rate: number; rss: number; cpuMs: number; count: number }> => {
      const result = await role<{ count: number; first: number; last: number; cpuMs: number }>('raw-consume', this.job(this.queues.publishR, warmUp + tasks)).result;
      return { rate: (result.count / (result.last - result.first)) * 1000, rss: NaN, cpuMs: result.cpuMs, count: result.count };
    };
    const [w2, r2] = await pair(warrenFirst, consumeWarren, consumeRaw);
    figures['2. consume, tasks/s'] = { warren: w2.rate, raw: r2.rate, unit: '/s', better: 'higher' };
    figures['2. consumer CPU per task, µs'] = { warren: (w2.cpuMs / w2.count) * 1000, raw: (r2.cpuMs / r2.count) * 1000, unit: 'µs', better: 'lower' };
    figures['5. worker RSS after run 2, MB'] = { warren: w2.rss / 2 ** 20, unit: 'MB', better: 'lower' };
  }

  /** Runs 3 and 4, and the idle worker's RSS. */
  async roundTrips(run: number, figures: RunFigures): Promise<void> {
    const { roundTrips } = this.settings;
    type Trips = { ms: number; latency: Latency; clientCpuMs: number; workerCpuMs: number };
    /** The client's figures, and the worker's CPU time over the client's round trips. */
    const client = async (name: string, queue: string, workerPid: number): Promise<Trips> => {
      let before = NaN;
      let workerCpuMs = NaN;
      const onPhase = (phase: string): void => {
        if (phase === 'trips') before = cpuMsOf(workerPid);
        else if (phase === 'trips done') workerCpuMs = cpuMsOf(workerPid) - before;
      };
      const result = await role<{ roundTripMs: number; cpuMs: number; latency: Latency }>(name, this.job(queue, roundTrips), undefined, onPhase).result;
      return { ms: result.roundTripMs, latency: result.latency, clientCpuMs: result.cpuMs, workerCpuMs };
    };
    const warren = async (): Promise<Trips & { idleRss: number }> => {
      this.reports.reset();
      const worker = new WarrenWorker(this, this.queues.trip);
      try {
        await worker.ready(() => this.channel(), this.queues.trip);
        await sleep(1000);
        const idleRss = worker.rss;
        return { ...(await client('warren-client', this.queues.trip, worker.child.pid!)), idleRss };
      } finally {
        await worker.stop();
      }
    };
    const raw = async (): Promise<Trips> => {
      const worker = await serve('raw-worker', this.job(this.queues.tripR, roundTrips));
      try {
        return await client('raw-client', this.queues.tripR, worker.pid!);
      } finally {
        worker.disconnect();
        await new Promise((resolve) => (worker.exitCode === null ? worker.once('exit', resolve) : resolve(undefined)));
      }
    };
    const [w, r] = await pair(run % 2 === 1, warren, raw);
    figures['3. round trip, tasks/s'] = { warren: (roundTrips / w.ms) * 1000, raw: (roundTrips / r.ms) * 1000, unit: '/s', better: 'higher' };
    figures['3. client CPU per round trip, µs'] = { warren: (w.clientCpuMs / roundTrips) * 1000, raw: (r.clientCpuMs / roundTrips) * 1000, unit: 'µs', better: 'lower' };
    figures['3. worker CPU per round trip, µs'] = { warren: (w.workerCpuMs / roundTrips) * 1000, raw: (r.workerCpuMs / roundTrips) * 1000, unit: 'µs', better: 'lower' };
    const rate = this.settings.rate;
    figures[`4. enqueue to start p50 at ${rate}/s, ms`] = { warren: w.latency.startP50, raw: r.latency.startP50, unit: 'ms', better: 'lower' };
    figures[`4. enqueue to start p99 at ${rate}/s, ms`] = { warren: w.latency.startP99, raw: r.latency.startP99, unit: 'ms', better: 'lower' };
    figures[`4. enqueue to result p50 at ${rate}/s, ms`] = { warren: w.latency.resultP50, raw: r.latency.resultP50, unit: 'ms', better: 'lower' };
    figures[`4. enqueue to result p99 at ${rate}/s, ms`] = { warren: w.latency.resultP99, raw: r.latency.resultP99, unit: 'ms', better: 'lower' };
    figures['5. worker RSS idle, MB'] = { warren: w.idleRss / 2 ** 20, unit: 'MB', better: 'lower' };
  }

  /** Consume throughput of a worker started with `extraArgs` over `count` tasks of `name`. */
  private async consumeWith(extraArgs: readonly string[], count: number, name: string, args: unknown[]): Promise<number> {
    await this.fill(this.queues.pool, count, name, args);
    this.reports.reset();
    const worker = new WarrenWorker(this, this.queues.pool, extraArgs);
    try {
      await worker.ready(() => this.channel(), this.queues.pool);
      const total = await this.reports.until(count, 300_000);
      return (count / (total.last - total.first)) * 1000;
    } finally {
      await worker.stop();
    }
  }

  /** Run 6: the process pool against the async pool, when the worker takes `--pool process`. */
  async pools(figures: RunFigures): Promise<boolean> {
    const { tasks, cpuTasks, cpuMs } = this.settings;
    let processNoop: number;
    try {
      processNoop = await this.consumeWith(['--pool', 'process'], tasks, 'bench.noop', taskArgs(this.settings));
    } catch (err) {
      if (!(err instanceof WorkerRefused)) throw err;
      await this.purge();
      const said = err.output.split('\n').find((line) => /pool/i.test(line))?.trim();
      this.notes.push(`6. process pool: skipped: the worker refused --pool process (exit ${err.code}${said ? `: ${said.slice(0, 160)}` : ''})`);
      return false;
    }
    const asyncNoop = await this.consumeWith(['--pool', 'async'], tasks, 'bench.noop', taskArgs(this.settings));
    figures['6. no-op tasks/s, process pool (vs async)'] = { warren: processNoop, raw: asyncNoop, unit: '/s', better: 'higher' };
    const processCpu = await this.consumeWith(['--pool', 'process'], cpuTasks, 'bench.cpu', [cpuMs]);
    const asyncCpu = await this.consumeWith(['--pool', 'async'], cpuTasks, 'bench.cpu', [cpuMs]);
    figures[`6. ${cpuMs} ms CPU tasks/s, process pool (vs async)`] = { warren: processCpu, raw: asyncCpu, unit: '/s', better: 'higher' };
    return true;
  }

  /** Run 5's growth figure: one worker's RSS after the first count of tasks and after the second. */
  async growth(figures: RunFigures): Promise<void> {
    if (!this.settings.growth) return;
    const [early, late] = this.settings.growth;
    this.reports.reset();
    const worker = new WarrenWorker(this, this.queues.growth);
    try {
      await worker.ready(() => this.channel(), this.queues.growth);
      let earlyRss = NaN;
      const filling = this.fill(this.queues.growth, late);
      await this.reports.until(late, 600_000, () => {
        if (Number.isNaN(earlyRss) && this.reports.total.count >= early) earlyRss = worker.rss;
      });
      await filling;
      const lateRss = worker.rss;
      figures[`5. worker RSS after ${early.toLocaleString('en')} tasks, MB`] = { warren: earlyRss / 2 ** 20, unit: 'MB', better: 'lower' };
      figures[`5. worker RSS after ${late.toLocaleString('en')} tasks, MB`] = { warren: lateRss / 2 ** 20, unit: 'MB', better: 'lower' };
    } finally {
      await worker.stop();
    }
  }
}

interface Latency {
  achievedRate: number;
  startP50: number;
  startP99: number;
  resultP50: number;
  resultP99: number;
}

// ---------------------------------------------------------------------------------------------
// The table

function format(value: number, unit: string): string {
  if (!Number.isFinite(value)) return '-';
  if (unit === '/s') return Math.round(value).toLocaleString('en');
  if (unit === 'MB') return value.toFixed(1);
  if (unit === 'µs') return value.toFixed(0);
  return value < 10 ? value.toFixed(2) : value.toFixed(1);
}

function table(runs: readonly RunFigures[]): { rows: string[]; summary: Record<string, unknown> } {
  const names = [...new Set(runs.flatMap((r) => Object.keys(r)))].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  const rows = ['| figure | warren | raw amqplib | warren / raw |', '|---|---:|---:|---:|'];
  const summary: Record<string, unknown> = {};
  for (const name of names) {
    const present = runs.map((r) => r[name]).filter((f) => f !== undefined);
    const { unit, better } = present[0];
    const warren = median(present.map((f) => f.warren));
    const raw = median(present.map((f) => f.raw ?? NaN));
    // The ratio pair by pair, within each run, then its median: a drift of the machine between runs cancels out.
    const ratio = median(present.map((f) => (f.raw === undefined ? NaN : f.warren / f.raw)));
    const rawCell = name.startsWith('6.') ? `${format(raw, unit)} (async)` : format(raw, unit);
    rows.push(`| ${name} | ${format(warren, unit)} | ${rawCell} | ${Number.isFinite(ratio) ? ratio.toFixed(2) : ''} |`);
    summary[name] = { warren, raw: Number.isFinite(raw) ? raw : null, ratio: Number.isFinite(ratio) ? ratio : null, unit, better, runs: present };
  }
  return { rows, summary };
}

async function main(): Promise<void> {
  const { settings, jsonFile } = settingsFrom(process.argv.slice(2));
  const began = Date.now();
  const bench = new Bench(settings);
  const runs: RunFigures[] = [];
  let poolRow = true;
  try {
    await bench.start();
    const machine = `${cpus().length} cores, ${cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB; Node ${process.version}; ${bench.brokerVersion} at ${BROKER.replace(/\/\/[^@]*@/, '//')}`;
    console.log(`warren bench${settings.quick ? ' (--quick)' : ''}: ${machine}`);
    for (let run = 1; run <= settings.runs; run += 1) {
      const figures: RunFigures = {};
      const wanted = (part: string): boolean => settings.only === undefined || settings.only.includes(part);
      process.stdout.write(`run ${run}/${settings.runs}:`);
      if (wanted('publish')) {
        process.stdout.write(' publish and consume');
        await bench.publishAndConsume(run, figures);
      }
      if (wanted('trip')) {
        process.stdout.write(', round trips and latency');
        await bench.roundTrips(run, figures);
      }
      if (poolRow && wanted('pool')) {
        process.stdout.write(', pools');
        poolRow = await bench.pools(figures);
      }
      if (run === settings.runs && settings.growth && wanted('growth')) {
        process.stdout.write(', growth');
        await bench.growth(figures);
      }
      console.log('');
      runs.push(figures);
      await bench.purge();
    }
    const { rows, summary } = table(runs);
    const settingsLine =
      `${settings.tasks.toLocaleString('en')} tasks per publish/consume run, args ${JSON.stringify(taskArgs(settings)).length} bytes of JSON, persistent, ` +
      `confirm window ${settings.window}; each timed run after ${settings.warmUp.toLocaleString('en')} untimed calls (runs 1-3); worker -c ${settings.concurrency}, prefetch ${settings.prefetch}, log level ${settings.logLevel}, no-op task, ignoreResult (runs 1-2); ` +
      `${settings.roundTrips.toLocaleString('en')} round trips, ${settings.inFlight} in flight; ${settings.rate} tasks/s for ${settings.latencySeconds} s; ` +
      `median of ${settings.runs} run${settings.runs === 1 ? '' : 's'}`;
    console.log('');
    console.log(`machine: ${machine}`);
    console.log(`settings: ${settingsLine}`);
    console.log('');
    for (const row of rows) console.log(row);
    for (const note of bench.notes) console.log(`\n${note}`);
    console.log(`\n(${Math.round((Date.now() - began) / 1000)} s)`);
    if (jsonFile) {
      writeFileSync(jsonFile, `${JSON.stringify({ machine, broker: bench.brokerVersion, settings, figures: summary, notes: bench.notes, at: new Date().toISOString() }, null, 2)}\n`);
      console.log(`figures written to ${jsonFile}`);
    }
  } finally {
    await bench.close();
  }
}

if (process.argv[2] === '--role') {
  void runRole();
} else {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exit(1);
  });
}
