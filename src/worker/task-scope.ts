import { AsyncLocalStorage } from 'node:async_hooks';
import type { TimeLimitExceededError, WorkerLostError } from '../errors';
import type { TaskContext } from './task-types';

/** How a run ended: the first of these wins, whatever the task does afterwards is ignored. */
export type RunEnd =
  | { kind: 'returned'; value: unknown }
  | { kind: 'threw'; error: unknown }
  | { kind: 'timed-out'; error: TimeLimitExceededError }
  /** An error escaped the task's own promise (a throw in a timer, an unhandled rejection, `process.exit()`). */
  | { kind: 'escaped'; error: unknown }
  /** The worker let the run go (shutdown timeout). */
  | { kind: 'abandoned' }
  /**
   * A remote control `revoke` with `terminate` ended it. JavaScript cannot kill a running
   * function: its signal is aborted with `error`, and whatever it does afterwards is ignored.
   */
  | { kind: 'terminated'; error: Error; signal: string }
  /** The pool process running it died first (`--pool process`). */
  | { kind: 'lost'; error: WorkerLostError };

/**
 * One run of a task's code. It is the async context of everything the task's code starts
 * (timers, promises, callbacks): an error that escapes from any of them can be traced back to
 * the run with {@link runningTask}, and the run ends with it.
 */
export class RunningTask {
  readonly context: TaskContext;
  private ended: RunEnd | undefined;
  /** Who waits for the end (the pool, once): made when first needed. */
  private waiting: Array<(end: RunEnd) => void> | undefined;
  /**
   * Made when the task first reads its signal: most tasks never do, and an AbortController with
   * its signal (an EventTarget) was a noticeable part of what a no-op task cost.
   */
  private controller: AbortController | undefined;
  private abortReason: { reason: unknown } | undefined;

  /**
   * @param contextOf - the task's context, given a getter of the run's abort signal.
   * @param owner - who runs it (a worker's request handler), so a worker claims only its own runs.
   */
  constructor(
    contextOf: (signal: () => AbortSignal) => TaskContext,
    readonly owner: object,
  ) {
    this.context = contextOf(() => this.signal);
  }

  /** The run's abort signal: aborted at the soft time limit, and when the run ends other than by itself. */
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.abortReason) this.controller.abort(this.abortReason.reason);
    }
    return this.controller.signal;
  }

  /** Aborts the run's signal with `reason`, unless it was aborted before. */
  abort(reason: unknown): void {
    if (this.abortReason) return;
    this.abortReason = { reason };
    this.controller?.abort(reason);
  }

  /** True until the run ended (returned, threw, timed out, escaped or was abandoned). */
  get running(): boolean {
    return this.ended === undefined;
  }

  /** Ends the run; false when it had ended already (the first end wins). */
  end(end: RunEnd): boolean {
    if (this.ended) return false;
    this.ended = end;
    if (end.kind !== 'returned' && end.kind !== 'threw') {
      this.abort(end.kind === 'abandoned' ? new Error('the worker let the task go (shutdown timeout)') : end.error);
    }
    const waiting = this.waiting;
    this.waiting = undefined;
    if (waiting) for (const resolve of waiting) resolve(end);
    return true;
  }

  /** Resolves with the end of the run. */
  whenEnded(): Promise<RunEnd> {
    return this.ended ? Promise.resolve(this.ended) : new Promise((resolve) => (this.waiting ??= []).push(resolve));
  }
}

const storage = new AsyncLocalStorage<RunningTask>();

/** Runs `body` as the task's code: everything it starts belongs to `task`'s async context. */
export function runAsTask<T>(task: RunningTask, body: () => T): T {
  return storage.run(task, body);
}

/**
 * The run whose code is executing now (or started the callback executing now), whether or not
 * it is still running; undefined outside task code.
 */
export function runningTask(): RunningTask | undefined {
  return storage.getStore();
}

/**
 * The context of the task whose code is running now: for an unbound handler, or code deep in
 * a call stack, that wants its task id, logger or abort signal without being handed the
 * context. Undefined outside task code, and once the task's run is over.
 */
export function currentTask(): TaskContext | undefined {
  const task = storage.getStore();
  return task?.running ? task.context : undefined;
}
