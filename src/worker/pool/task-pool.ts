import type { TaskMessage } from '../../protocol';
import type { Delivery } from '../delivery';
import { handlerArguments } from '../handler-arguments';
import { runWithinLimits, type TimeLimits } from '../run-within-limits';
import type { TaskLog } from '../task-log';
import type { RunEnd, RunningTask } from '../task-scope';
import type { RegisteredTask } from '../task-types';

/** Where a worker runs task code: `async` (its own event loop) or `process` (child processes). */
export type PoolKind = 'async' | 'process';

/** One run of a task's code, as the request handler hands it to the pool. */
export interface PoolRun {
  task: TaskMessage;
  /** The delivery as it came off the wire: the process pool hands its body to the child as it is. */
  delivery: Delivery;
  registered: RegisteredTask;
  /** The run in the worker: its context (`updateState`, `progress`), and `end()`, which the worker's own ends (time limit, terminate, shutdown) go through. */
  running: RunningTask;
  limits: TimeLimits;
  redelivered: boolean;
  /** The task's log; its child logger is made only when a line is written. */
  log: TaskLog;
}

/**
 * Runs task code for a worker, one run per concurrency slot, and resolves with how each run
 * ended. The worker keeps everything else: the connection, prefetch, acks and results.
 */
export interface TaskPool {
  readonly kind: PoolKind;
  /** Gets the pool ready before the worker consumes: the process pool starts its children. */
  start(): Promise<void>;
  run(run: PoolRun): Promise<RunEnd>;
  /** After the worker's last run: the process pool ends its children. */
  close(): Promise<void>;
  /** The pids of the pool's processes now (none for the async pool). */
  processes(): number[];
  /**
   * The pid of the process running `run`, as `inspect active` names it (`worker_pid`): the
   * worker's own in the async pool, its child's in the process pool; undefined while the run
   * waits for a child.
   */
  processOf(run: RunningTask): number | undefined;
  /**
   * Autoscale: the process pool keeps `size` children from now on (starting the missing ones,
   * ending idle ones, and busy ones when their task ends). The async pool has none to keep.
   */
  resize?(size: number): void;
}

/**
 * The async pool: task code runs on the worker's own event loop, as a promise (the default).
 * A hard time limit stops waiting for a run; it cannot stop the code (see `runWithinLimits`).
 */
export class AsyncPool implements TaskPool {
  readonly kind = 'async';

  start(): Promise<void> {
    return Promise.resolve();
  }

  run({ task, registered, running, limits, log }: PoolRun): Promise<RunEnd> {
    return runWithinLimits(() => registered.handler(...handlerArguments(registered, task.args, task.kwargs, running.context)), task.task, limits, running, log);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  processes(): number[] {
    return [];
  }

  processOf(): number {
    return process.pid;
  }
}
