/** What a worker did, counted since it started; the `closed` event and the stop log line carry it. */
export interface WorkerSummary {
  /** Tasks run to an outcome: succeeded + failed + retried + revoked. */
  processed: number;
  succeeded: number;
  failed: number;
  retried: number;
  /** Expired before they ran. */
  revoked: number;
  /** Messages taken out of their queue without running: invalid, unknown task, too large, poison. */
  rejected: number;
  /** Deliveries handed back to the broker at shutdown, started or not. */
  handedBack: number;
}

/**
 * A worker's events (`worker.on(name, listener)`). Task events are emitted once the message is
 * settled (acked, or dead-lettered), never before, and a listener that throws changes nothing
 * that happens to a message: its exception is reported as `error`.
 */
export interface WorkerEvents {
  /** Consuming: the topology is declared and every queue has a consumer. */
  ready: { hostname: string; queues: readonly string[]; concurrency: number; prefetch: number };
  'task-succeeded': { taskId: string; taskName: string; runtimeMs: number };
  'task-failed': { taskId: string; taskName: string; error: unknown; runtimeMs: number };
  'task-retried': { taskId: string; taskName: string; retries: number; delayMs: number };
  'task-revoked': { taskId: string; taskName: string; reason: 'expired' };
  /** A message dead-lettered or dropped by the worker: not a task, an unknown task, or a poison message. */
  'message-rejected': { queue: string; reason: string; deadLettered: boolean };
  /**
   * Something went wrong outside any one message's fate: a listener threw, or an error escaped
   * code that belongs to no running task. The worker goes on.
   */
  error: Error;
  /** Stopped: consumers cancelled, running tasks finished or handed back, channel closed. */
  closed: WorkerSummary;
}
