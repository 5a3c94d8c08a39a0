import type { Logger } from '../logging/logger';
import type { TaskMessage, TaskStatus } from '../protocol';

/** How a task ended, for the workflow steps that follow it. */
export interface TaskEnd {
  status: Extract<TaskStatus, 'SUCCESS' | 'FAILURE' | 'REVOKED'>;
  /** The return value, or the encoded error (`exc_type`, `exc_message`, `exc_module`). */
  result: unknown;
  traceback: string | null;
}

/**
 * What a worker does about the workflow a message carries (its `embed`: callbacks, errbacks,
 * the rest of a chain, a chord), as a Celery worker does. The canvas implements it; the app
 * gives it to the worker.
 */
export interface Workflow {
  /**
   * Before a SUCCESS is stored: applies the task's callbacks and the next step of its chain with
   * the return value first, and returns them as the task's `children`. A rejection (the broker
   * did not take them) hands the message back, so a later run sends them.
   */
  succeeded(task: TaskMessage, value: unknown, log: Logger): Promise<unknown[]>;
  /**
   * After a final state is stored: counts the task's part of its chord (the last part applies the
   * chord's body); after a FAILURE also stores it for the rest of the chain and applies the
   * errbacks with the task's id.
   */
  finished(task: TaskMessage, end: TaskEnd, log: Logger): Promise<void>;
}

/** A message that carries no workflow needs none of this. */
export function hasWorkflow(task: TaskMessage): boolean {
  const { callbacks, errbacks, chain, chord } = task.embed;
  return Boolean(callbacks?.length || errbacks?.length || chain?.length || chord);
}
