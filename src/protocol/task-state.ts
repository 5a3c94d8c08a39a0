/**
 * The states a Celery task result can be in. `PENDING` is never sent: it is what a client
 * reports while nothing has arrived. Python tasks may also report custom states
 * (`update_state(state='PROGRESS')`), so decoded statuses are {@link TaskStatus}.
 */
export type TaskState = 'PENDING' | 'RECEIVED' | 'STARTED' | 'RETRY' | 'FAILURE' | 'SUCCESS' | 'REVOKED';

/** A built-in {@link TaskState} or a custom state name. */
export type TaskStatus = TaskState | (string & {});

/** States after which a task's result will not change: SUCCESS, FAILURE, REVOKED. */
export const READY_STATES: ReadonlySet<TaskStatus> = new Set<TaskState>(['SUCCESS', 'FAILURE', 'REVOKED']);

/** States whose result is an encoded exception: RETRY, FAILURE, REVOKED. */
export const EXCEPTION_STATES: ReadonlySet<TaskStatus> = new Set<TaskState>(['RETRY', 'FAILURE', 'REVOKED']);
