import { TaskNotRegisteredError } from '../../errors';
import type { Logger } from '../../logging/logger';
import { decodeTaskMessage, dumps, type TaskMessage } from '../../protocol';
import { errorSummary } from '../../util/error-summary';
import { handlerArguments } from '../handler-arguments';
import { PROGRESS_STATE, ProgressReporter } from '../progress';
import { runWithinLimits } from '../run-within-limits';
import { taskContext } from '../task-context';
import { RunningTask, runningTask, type RunEnd } from '../task-scope';
import type { TaskLookup } from '../task-types';
import type { FromChild, RunMessage, ToChild, WireEnd } from './pool-messages';
import { toWireError } from './wire-error';

export interface PoolChildOptions {
  /** The tasks of the app the child loaded. */
  tasks: TaskLookup;
  logger: Logger;
  hostname: string;
  /** Sends to the worker (the IPC channel). */
  send: (message: FromChild) => void;
  /** The worker asked the child to finish (recycling, shutdown); it is idle. */
  onExit: () => void;
}

/**
 * The task side of a pool process: runs one task at a time as the worker asks, with the same
 * context a task has in the async pool, and sends back how the run ended. The soft time limit is
 * kept here (the task's signal is aborted); the hard limit, acks and results are the worker's.
 * `updateState` and `progress` go to the worker, which stores them.
 */
export class PoolChild {
  private current: RunningTask | undefined;
  private seq = 0;
  private readonly states = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();

  constructor(private readonly options: PoolChildOptions) {}

  onMessage(message: ToChild): void {
    switch (message.type) {
      case 'run':
        void this.run(message);
        return;
      case 'state-done': {
        const waiting = this.states.get(message.seq);
        this.states.delete(message.seq);
        if (message.error === undefined) waiting?.resolve();
        else waiting?.reject(new Error(message.error));
        return;
      }
      case 'exit':
        this.options.onExit();
        return;
      case 'init':
        return;
    }
  }

  /**
   * An error escaped task code (a timer, a rejection nobody awaited): it ends the run it came
   * from, or the one running (a child runs one at a time). False when no run owns it.
   */
  handleEscapedError(error: unknown): boolean {
    const scoped = runningTask();
    const run = scoped?.owner === this ? scoped : this.current;
    if (run?.running) {
      run.end({ kind: 'escaped', error });
      return true;
    }
    if (run) {
      this.options.logger.error({ task: run.context.taskName, taskId: run.context.taskId, err: errorSummary(error) }, 'an error escaped a task that had already finished (a timer or callback it left behind); ignored');
      return true;
    }
    return false;
  }

  private async run(message: RunMessage): Promise<void> {
    const { runId } = message;
    let task: TaskMessage;
    try {
      task = decodeTaskMessage({ content: Buffer.from(message.content, 'base64'), properties: message.properties });
    } catch (err) {
      this.options.send({ type: 'end', runId, end: { kind: 'threw', error: toWireError(err) }, rss: process.memoryUsage.rss() });
      return;
    }
    const registered = this.options.tasks.get(task.task);
    if (!registered) {
      this.options.send({ type: 'end', runId, end: { kind: 'threw', error: toWireError(new TaskNotRegisteredError(task.task)) }, rss: process.memoryUsage.rss() });
      return;
    }
    const log = this.options.logger.child({ queue: message.queue, task: task.task, taskId: task.id });
    const progress = new ProgressReporter(
      (meta) => this.storeState(runId, PROGRESS_STATE, meta),
      (err) => log.warn({ err: errorSummary(err) }, 'could not report progress'),
    );
    const running = new RunningTask(
      (signal) =>
        taskContext(task, signal, {
          redelivered: message.redelivered,
          hostname: this.options.hostname,
          queue: message.queue,
          logger: () => log,
          storeState: (state, meta) => this.storeState(runId, state, meta),
          progress: (current, total, meta) => progress.report(current, total, meta),
        }),
      this,
    );
    this.current = running;
    const end = await runWithinLimits(
      () => registered.handler(...handlerArguments(registered, task.args, task.kwargs, running.context)),
      task.task,
      { soft: message.softTimeLimit, hard: undefined },
      running,
      { logger: log },
    );
    progress.end();
    this.current = undefined;
    this.options.send({ type: 'end', runId, end: wireEnd(end), rss: process.memoryUsage.rss() });
  }

  /** Hands a state to the worker; resolves once it stored it. */
  private storeState(runId: number, state: string, meta: unknown): Promise<void> {
    let json: string;
    try {
      json = dumps(meta ?? null);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    this.seq += 1;
    const seq = this.seq;
    return new Promise((resolve, reject) => {
      this.states.set(seq, { resolve, reject });
      this.options.send({ type: 'state', runId, seq, state, meta: json });
    });
  }
}

/** How a run ended, for the worker; a value JSON cannot carry is said so, as the async pool's result encoding says. */
function wireEnd(end: RunEnd): WireEnd {
  switch (end.kind) {
    case 'returned':
      try {
        return { kind: 'returned', json: dumps(end.value === undefined ? null : end.value) };
      } catch (err) {
        return { kind: 'unsendable', reason: err instanceof Error ? err.message : String(err) };
      }
    case 'threw':
    case 'escaped':
      return { kind: end.kind, error: toWireError(end.error) };
    default:
      // No hard limit, terminate or shutdown ends a run in the child: those are the worker's.
      return { kind: 'threw', error: toWireError(new Error(`the run ended in the pool process as ${end.kind}`)) };
  }
}
