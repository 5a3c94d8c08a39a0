/** What a worker did, counted since it started; the `closed` event and the stop log line carry it. */
export interface WorkerSummary {
  /** Tasks run to an outcome: succeeded + failed + retried + revoked. */
  processed: number;
  succeeded: number;
  failed: number;
  retried: number;
  /** Not run, or their run given up: expired, revoked, or terminated by a revoke. */
  revoked: number;
  /** Messages taken out of their queue without running: invalid, unknown task, too large, poison. */
  rejected: number;
  /** Deliveries handed back to the broker at shutdown, started or not. */
  handedBack: number;
}

/** A task message delivered to this worker (perhaps prefetched, not started yet): Celery's `task-received`. */
export interface TaskReceived {
  taskId: string;
  taskName: string;
  queue: string;
  /** Python `repr` of the args and kwargs, as the message carries them (`argsrepr`, `kwargsrepr`). */
  argsRepr: string;
  kwargsRepr: string;
  retries: number;
  /** ISO 8601, as the message carries them; null when absent. */
  eta: string | null;
  expires: string | null;
  rootId: string | null;
  parentId: string | null;
  /** The broker delivered it before. */
  redelivered: boolean;
}

/**
 * A worker's events (`worker.on(name, listener)`). Task outcome events are emitted once the
 * message is settled (acked, or dead-lettered), never before; `task-received` and
 * `task-started` say where a task is on its way there. A listener that throws changes nothing
 * that happens to a message: its exception is reported as `error`.
 */
export interface WorkerEvents {
  /** Consuming: the topology is declared and every queue has a consumer. */
  ready: { hostname: string; queues: readonly string[]; concurrency: number; prefetch: number };
  /** A task message arrived (emitted only while someone listens; its fields come from the message's headers). */
  'task-received': TaskReceived;
  /** The task's code starts running. */
  'task-started': { taskId: string; taskName: string; queue: string };
  /** `result` is the value the task returned, as sent to the caller. */
  'task-succeeded': { taskId: string; taskName: string; runtimeMs: number; result: unknown };
  'task-failed': { taskId: string; taskName: string; error: unknown; runtimeMs: number };
  /** `error` is what the task reported (the error it threw, or the one given to `ctx.retry()`). */
  'task-retried': { taskId: string; taskName: string; retries: number; delayMs: number; error: unknown };
  /**
   * Not run, or its run given up: `expired` (past its `expires`), `revoked` (its id was revoked
   * before it ran), `terminated` (a `revoke` with `terminate` ended its run; `signal` is the one
   * asked for).
   */
  'task-revoked': { taskId: string; taskName: string; reason: 'expired' | 'revoked' | 'terminated'; signal?: string };
  /** A message dead-lettered or dropped by the worker: not a task, an unknown task, or a poison message. */
  'message-rejected': { queue: string; reason: string; deadLettered: boolean; taskId?: string };
  /**
   * Something went wrong outside any one message's fate: a listener threw, or an error escaped
   * code that belongs to no running task. The worker goes on.
   */
  error: Error;
  /**
   * The process pool cannot go on (a new pool process could not load the tasks module): the
   * worker stops; `warren worker` then exits with status 1.
   */
  'pool-failed': Error;
  /** Stopped: consumers cancelled, running tasks finished or handed back, channel closed. */
  closed: WorkerSummary;
}
