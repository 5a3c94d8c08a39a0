import { fork, type ChildProcess } from 'node:child_process';
import { AppLoadError, TimeLimitExceededError, WorkerLostError } from '../../errors';
import type { Logger } from '../../logging/logger';
import { loads } from '../../protocol';
import { formatBytes } from '../../util/format-bytes';
import { signalName } from '../../util/signals';
import type { RunEnd, RunningTask } from '../task-scope';
import type { FromChild, PoolAppOverrides, RunMessage, ToChild, WireEnd } from './pool-messages';
import type { PoolRun, TaskPool } from './task-pool';
import { UnsendableResult } from './unsendable-result';
import { fromWireError } from './wire-error';

/** Set in a pool process's environment, so a tasks module can tell where it was loaded. */
export const POOL_PROCESS_ENV = 'WARREN_POOL_PROCESS';

/** How long a pool process has after SIGTERM before it gets SIGKILL. */
export const DEFAULT_KILL_GRACE_MS = 2000;

export interface ProcessPoolOptions {
  /** The tasks module each child loads (the `-A` path). */
  module: string;
  /** The script a child runs (`pool-child-main.js`). */
  childMain: string;
  /** Children: the worker's concurrency. */
  size: number;
  hostname: string;
  logger: Logger;
  /** Tasks a child runs before it is replaced. @defaultValue no limit */
  maxTasksPerChild?: number;
  /** Resident memory (bytes) past which a child is replaced after its task. @defaultValue no limit */
  maxMemoryPerChild?: number;
  /** @defaultValue {@link DEFAULT_KILL_GRACE_MS} */
  killGraceMs?: number;
  /** How the worker's app was configured beyond its module; the children's apps get the same. */
  appOverrides?: PoolAppOverrides;
  /** A replacement child could not load the module: the worker cannot go on as it was started. */
  onFatal: (error: Error) => void;
}

/** One child process and what it is doing. */
interface PoolProcess {
  child: ChildProcess;
  pid: number | undefined;
  state: 'starting' | 'idle' | 'busy' | 'leaving';
  /** The run it was given and has not answered. */
  run: { id: number; request: PoolRun } | undefined;
  tasksRun: number;
  rss: number;
  /** A replacement was started for it already (it is leaving, or was lost). */
  replaced: boolean;
  exited: Promise<void>;
  killTimer: NodeJS.Timeout | undefined;
}

/**
 * The process pool (`--pool process`): `size` child processes (`child_process.fork`, see
 * README "Pools" for why not worker threads), each loading the tasks module once. The worker
 * keeps the connection, prefetch, acks and results; each run goes to an idle child over IPC,
 * with the message body as it came off the wire.
 *
 * - A run past its hard time limit, terminated by a `revoke`, or let go at shutdown: its child
 *   is killed (SIGTERM, SIGKILL after a grace period) and a fresh one takes the slot.
 * - A child that dies mid-task: the run ends `lost` (`WorkerLostError`); a fresh one takes the slot.
 * - `maxTasksPerChild`, `maxMemoryPerChild`: a child past either is replaced after its task.
 * - Start-up starts the children in parallel; one that cannot load the module fails `start()`
 *   with the module's error (and the others are ended): no restart loop. A replacement that
 *   cannot load it calls `onFatal`.
 * - A child ends itself when the worker's process is gone (even one stuck in a busy loop).
 */
export class ProcessPool implements TaskPool {
  readonly kind = 'process';
  private readonly children = new Set<PoolProcess>();
  private readonly idle: PoolProcess[] = [];
  private readonly waiters: Array<(child: PoolProcess) => void> = [];
  private runIds = 0;
  private closing = false;
  /** How many children the pool keeps: `size`, or what autoscale asked for since. */
  private target: number;
  private readonly logger: Logger;
  private readonly killGraceMs: number;
  private readonly killOnExit = (): void => {
    for (const entry of this.children) entry.child.kill('SIGKILL');
  };

  constructor(private readonly options: ProcessPoolOptions) {
    this.logger = options.logger.child({ component: 'pool' });
    this.killGraceMs = options.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
    this.target = options.size;
  }

  resize(size: number): void {
    this.target = size;
    let live = this.live();
    for (; live < size && !this.closing; live += 1) this.grow('autoscale');
    for (; live > size && this.idle.length > 0; live -= 1) this.retire(this.idle[this.idle.length - 1], `autoscale: ${size} processes wanted`);
    // Busy ones beyond the target go when their task ends (see release).
  }

  /** Children that stay: starting, idle or busy. */
  private live(): number {
    let count = 0;
    for (const entry of this.children) if (entry.state !== 'leaving') count += 1;
    return count;
  }

  async start(): Promise<void> {
    process.on('exit', this.killOnExit);
    const started = performance.now();
    const children = Array.from({ length: this.options.size }, () => this.spawn());
    const results = await Promise.allSettled(children.map((entry) => entry.ready));
    const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failed) {
      await this.close();
      throw failed.reason;
    }
    for (const { child } of children) this.release(child);
    this.logger.info({ processes: this.processes(), startupMs: Math.round(performance.now() - started) }, 'process pool started');
  }

  processes(): number[] {
    return [...this.children].flatMap((entry) => (entry.pid === undefined || entry.state === 'leaving' ? [] : [entry.pid]));
  }

  processOf(run: RunningTask): number | undefined {
    for (const entry of this.children) if (entry.run?.request.running === run) return entry.pid;
    return undefined;
  }

  async run(request: PoolRun): Promise<RunEnd> {
    const { running, task, limits, log } = request;
    const child = await this.acquire(request);
    if (!child) return running.whenEnded(); // ended (shutdown, terminate) while it waited for a child
    const id = (this.runIds += 1);
    child.state = 'busy';
    child.run = { id, request };
    const message: RunMessage = {
      type: 'run',
      runId: id,
      content: request.delivery.message.content.toString('base64'),
      properties: request.delivery.message.properties,
      queue: request.delivery.queue,
      redelivered: request.redelivered,
      softTimeLimit: limits.soft,
    };
    log.debug('task handed to a pool process', { pid: child.pid });
    this.send(child, message);
    let timer: NodeJS.Timeout | undefined;
    if (limits.hard !== undefined) {
      const hard = limits.hard;
      timer = setTimeout(() => {
        if (running.end({ kind: 'timed-out', error: new TimeLimitExceededError(task.task, hard) })) {
          log.logger.error({ timeLimit: hard, pid: child.pid }, 'time limit exceeded: the pool process running the task is killed, and the task is recorded as failed');
        }
      }, hard * 1000);
    }
    const end = await running.whenEnded();
    clearTimeout(timer);
    if (child.run?.id === id) {
      // Ended here, not by the child (time limit, terminate, shutdown): the child may still be running it.
      child.run = undefined;
      // The remote control checked the signal's name; SIGTERM should a caller of terminate() name none this system knows.
      const signal = end.kind === 'terminated' ? (signalName(end.signal) ?? 'SIGTERM') : 'SIGTERM';
      this.kill(child, signal, `its task ${end.kind === 'timed-out' ? 'ran past its time limit' : end.kind === 'terminated' ? 'was terminated by a revoke' : 'was let go at shutdown'}`);
    } else if (child.state === 'busy') {
      this.release(child);
    }
    return end;
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const entry of this.children) {
      if (entry.state === 'idle') this.retire(entry, 'the worker is stopping');
      else if (entry.state !== 'leaving') this.kill(entry, 'SIGTERM', 'the worker is stopping');
    }
    await Promise.all([...this.children].map((entry) => entry.exited));
    process.off('exit', this.killOnExit);
  }

  /** Starts a child; `ready` settles once it loaded the module (or could not). */
  private spawn(): { child: PoolProcess; ready: Promise<void> } {
    const child = fork(this.options.childMain, [], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, [POOL_PROCESS_ENV]: '1' },
      serialization: 'json',
    });
    const entry: PoolProcess = {
      child,
      pid: child.pid,
      state: 'starting',
      run: undefined,
      tasksRun: 0,
      rss: 0,
      replaced: false,
      exited: new Promise((resolve) => child.once('exit', () => resolve())),
      killTimer: undefined,
    };
    this.children.add(entry);
    const ready = new Promise<void>((resolve, reject) => {
      child.on('message', (message: FromChild) => {
        if (message.type === 'ready') {
          this.logger.debug({ pid: entry.pid }, 'pool process ready');
          resolve();
        } else if (message.type === 'load-failed') {
          // The module's own error, with its stack from the child: what a user must read.
          const cause = new Error(message.message);
          if (message.stack) cause.stack = message.stack;
          reject(new AppLoadError(`a pool process could not load the tasks module ${this.options.module}: ${message.message}`, cause));
        } else {
          this.onMessage(entry, message);
        }
      });
      child.once('exit', (code, signal) => {
        reject(new AppLoadError(`a pool process exited (${signal ?? `code ${code}`}) before it loaded the tasks module ${this.options.module}`));
        this.onExit(entry, code, signal);
      });
    });
    child.on('error', (err) => this.logger.warn({ pid: entry.pid, err: err.message }, 'pool process error'));
    this.send(entry, { type: 'init', module: this.options.module, hostname: this.options.hostname, parentPid: process.pid, logLevel: this.options.logger.level, configure: this.options.appOverrides ?? {} });
    return { child: entry, ready };
  }

  private onMessage(entry: PoolProcess, message: FromChild): void {
    const current = entry.run;
    if (message.type === 'state') {
      const run = current?.id === message.runId ? current.request.running : undefined;
      if (!run?.running) {
        this.send(entry, { type: 'state-done', seq: message.seq, error: 'the task is no longer running here' });
        return;
      }
      run.context
        .updateState(message.state, loads(message.meta))
        .then(
          () => this.send(entry, { type: 'state-done', seq: message.seq }),
          (err: unknown) => this.send(entry, { type: 'state-done', seq: message.seq, error: err instanceof Error ? err.message : String(err) }),
        );
      return;
    }
    if (message.type !== 'end' || current?.id !== message.runId) return;
    entry.run = undefined;
    entry.tasksRun += 1;
    entry.rss = message.rss;
    current.request.running.end(runEnd(message.end, current.request));
  }

  private onExit(entry: PoolProcess, code: number | null, signal: NodeJS.Signals | null): void {
    clearTimeout(entry.killTimer);
    const wasLeaving = entry.state === 'leaving';
    const wasStarting = entry.state === 'starting';
    entry.state = 'leaving';
    this.children.delete(entry);
    const index = this.idle.indexOf(entry);
    if (index >= 0) this.idle.splice(index, 1);
    const run = entry.run;
    entry.run = undefined;
    if (run) {
      const { task, running, log } = run.request;
      const error = new WorkerLostError(task.task, entry.pid, code, signal);
      if (running.end({ kind: 'lost', error })) log.logger.error({ pid: entry.pid, code, signal }, 'the pool process running the task died');
    } else if (!wasLeaving && !wasStarting) {
      this.logger.warn({ pid: entry.pid, code, signal }, 'an idle pool process died');
    }
    if (!entry.replaced && !wasStarting) this.replace(entry);
  }

  /** A fresh child for the slot `entry` leaves, unless the pool is closing or keeps fewer now. */
  private replace(entry: PoolProcess): void {
    entry.replaced = true;
    if (this.closing || this.live() >= this.target) return;
    this.grow(entry.pid);
  }

  /** Starts one more child (in place of the child `replaces`, or for autoscale), idle once it loaded the module. */
  private grow(replaces: number | undefined | 'autoscale'): void {
    const { child, ready } = this.spawn();
    ready.then(
      () => {
        if (replaces === 'autoscale') this.logger.info({ pid: child.pid }, 'pool process started (autoscale)');
        else this.logger.info({ pid: child.pid, replaced: replaces }, 'pool process started in place of another');
        this.release(child);
      },
      (error: Error) => {
        if (this.closing) return;
        this.logger.fatal({ err: error.message }, 'a new pool process could not load the tasks module; the worker stops');
        this.options.onFatal(error);
      },
    );
  }

  /** An idle child for a run; undefined when the run ended first (it waited, and the worker let it go). */
  private acquire(request: PoolRun): Promise<PoolProcess | undefined> {
    const free = this.idle.shift();
    if (free) return Promise.resolve(free);
    return new Promise((resolve) => {
      const waiter = (child: PoolProcess): void => resolve(child);
      this.waiters.push(waiter);
      void request.running.whenEnded().then(() => {
        const index = this.waiters.indexOf(waiter);
        if (index < 0) return;
        this.waiters.splice(index, 1);
        resolve(undefined);
      });
    });
  }

  /** A child free again: recycled when past a limit, else given to a waiting run or kept idle. */
  private release(entry: PoolProcess): void {
    const { maxTasksPerChild, maxMemoryPerChild } = this.options;
    if (this.closing) {
      this.retire(entry, 'the worker is stopping');
      return;
    }
    if (this.live() > this.target) {
      this.retire(entry, `autoscale: ${this.target} processes wanted`);
      return;
    }
    if (maxTasksPerChild !== undefined && entry.tasksRun >= maxTasksPerChild) {
      this.retire(entry, `it ran ${entry.tasksRun} tasks (max tasks per child ${maxTasksPerChild})`);
      this.replace(entry);
      return;
    }
    if (maxMemoryPerChild !== undefined && entry.rss > maxMemoryPerChild) {
      this.retire(entry, `it uses ${formatBytes(entry.rss)} (max memory per child ${formatBytes(maxMemoryPerChild)})`);
      this.replace(entry);
      return;
    }
    entry.state = 'idle';
    const waiter = this.waiters.shift();
    if (waiter) waiter(entry);
    else this.idle.push(entry);
  }

  /** Asks an idle child to exit; SIGKILL after the grace period if it does not. */
  private retire(entry: PoolProcess, reason: string): void {
    this.logger.info({ pid: entry.pid, reason }, `pool process recycled: ${reason}`);
    this.send(entry, { type: 'exit' });
    this.leave(entry);
  }

  /** Kills a child (`signal`, then SIGKILL after the grace period); a fresh one takes its slot. */
  private kill(entry: PoolProcess, signal: NodeJS.Signals, why: string): void {
    this.logger.warn({ pid: entry.pid, signal }, `killing a pool process: ${why}`);
    entry.child.kill(signal);
    this.leave(entry);
    this.replace(entry);
  }

  /** A child on its way out: no longer idle, and SIGKILLed if it is still there after the grace period. */
  private leave(entry: PoolProcess): void {
    entry.state = 'leaving';
    const index = this.idle.indexOf(entry);
    if (index >= 0) this.idle.splice(index, 1);
    entry.killTimer = setTimeout(() => entry.child.kill('SIGKILL'), this.killGraceMs);
  }

  private send(entry: PoolProcess, message: ToChild): void {
    if (!entry.child.connected) return;
    entry.child.send(message, (err) => {
      if (err) this.logger.debug({ pid: entry.pid, type: message.type, err: err.message }, 'could not send to a pool process (it is gone)');
    });
  }
}

/** How the child said the run ended, as a run end of the worker's. */
function runEnd(end: WireEnd, request: PoolRun): RunEnd {
  switch (end.kind) {
    case 'returned':
      return { kind: 'returned', value: loads(end.json) };
    case 'unsendable':
      return { kind: 'returned', value: new UnsendableResult(end.reason, request.task.task, request.task.id) };
    case 'threw':
    case 'escaped':
      return { kind: end.kind, error: fromWireError(end.error) };
  }
}
