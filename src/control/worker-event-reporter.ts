import { loadavg } from 'node:os';
import { encodeError, formatTraceback, pythonRepr } from '../protocol';
import { signalNumber } from '../util/signals';
import type { Worker, WorkerEvents } from '../worker';
import { softwareInfo } from './celery-events';
import type { EventDispatcher } from './event-dispatcher';

/** Celery's `worker_heartbeat` default: seconds between `worker-heartbeat` events. */
export const HEARTBEAT_SECONDS = 2;

/** Celery's `resultrepr_maxsize`. */
const REPR_LIMIT = 1024;

/**
 * Turns a worker's own events into Celery events, as a Python worker sends them: the worker
 * group (`worker-online`, `worker-heartbeat` every 2 s, `worker-offline`), sent by default, and
 * the task group (`task-received`, `task-started`, `task-succeeded`, `task-failed`,
 * `task-retried`, `task-revoked`, `task-rejected`), sent with `-E` or after `enable_events`. It
 * only listens: what happens to a message never depends on it, and nothing is built for a
 * group that is not sent.
 */
export class WorkerEventReporter {
  private timer: NodeJS.Timeout | undefined;
  private readonly listeners: Array<() => void> = [];
  private online = false;

  constructor(
    private readonly worker: Worker,
    private readonly dispatcher: EventDispatcher,
    private readonly heartbeatSeconds = HEARTBEAT_SECONDS,
  ) {}

  /** Listens to the worker's task events; call before the worker starts, so no delivery is missed. */
  attach(): void {
    this.listen('task-received', (e) =>
      this.task('task-received', {
        uuid: e.taskId,
        name: e.taskName,
        args: e.argsRepr,
        kwargs: e.kwargsRepr,
        root_id: e.rootId,
        parent_id: e.parentId,
        retries: e.retries,
        eta: e.eta,
        expires: e.expires,
      }),
    );
    this.listen('task-started', (e) => this.task('task-started', { uuid: e.taskId }));
    this.listen('task-succeeded', (e) => this.task('task-succeeded', () => ({ uuid: e.taskId, result: repr(e.result), runtime: e.runtimeMs / 1000 })));
    this.listen('task-failed', (e) => this.task('task-failed', () => ({ uuid: e.taskId, exception: exceptionRepr(e.error), traceback: formatTraceback(e.error) })));
    this.listen('task-retried', (e) => this.task('task-retried', () => ({ uuid: e.taskId, exception: exceptionRepr(e.error), traceback: formatTraceback(e.error) })));
    this.listen('task-revoked', (e) =>
      this.task('task-revoked', {
        uuid: e.taskId,
        terminated: e.reason === 'terminated',
        signum: e.reason === 'terminated' && e.signal !== undefined ? (signalNumber(e.signal) ?? null) : null,
        expired: e.reason === 'expired',
      }),
    );
    this.listen('message-rejected', (e) => {
      if (e.taskId !== undefined) this.task('task-rejected', { uuid: e.taskId, requeue: false });
    });
    this.listen('closed', () => this.goOffline());
  }

  /** Sends `worker-online`, then a heartbeat every 2 s until the worker stops. */
  goOnline(): void {
    if (this.online) return;
    this.online = true;
    this.send('worker-online');
    this.timer = setInterval(() => this.send('worker-heartbeat'), this.heartbeatSeconds * 1000);
    this.timer.unref();
  }

  /** A heartbeat now (the `heartbeat` control command, a monitor waking workers up). */
  heartbeat(): void {
    if (this.online) this.send('worker-heartbeat');
  }

  /** Sends `worker-offline` and stops the heartbeats; stops listening. */
  goOffline(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.online) this.send('worker-offline');
    this.online = false;
    for (const off of this.listeners.splice(0)) off();
  }

  private send(type: 'worker-online' | 'worker-heartbeat' | 'worker-offline'): void {
    this.dispatcher.send(type, {
      freq: this.heartbeatSeconds,
      active: this.worker.active,
      processed: this.worker.startedRuns,
      loadavg: loadavg().map((load) => Math.ceil(load * 100) / 100),
      ...softwareInfo(),
    });
  }

  /** A task event, its fields built only when the task group is sent. */
  private task(type: string, fields: Record<string, unknown> | (() => Record<string, unknown>)): void {
    if (!this.dispatcher.sends('task')) return;
    this.dispatcher.send(type, typeof fields === 'function' ? fields() : fields);
  }

  private listen<K extends keyof WorkerEvents>(event: K, listener: (payload: WorkerEvents[K]) => void): void {
    this.worker.on(event, listener);
    this.listeners.push(() => this.worker.off(event, listener));
  }
}

function repr(value: unknown): string {
  try {
    return pythonRepr(value === undefined ? null : value, REPR_LIMIT);
  } catch {
    return '<unrepresentable>';
  }
}

/** The Python repr of the exception a Python caller gets: `ValueError('bad input')`, `Exception('boom')`. */
export function exceptionRepr(error: unknown): string {
  const { exc_type, exc_message } = encodeError(error);
  return `${exc_type}(${exc_message.map((part) => repr(part)).join(', ')})`;
}
