export { Worker, type WorkerParts, type TaskSnapshot, type WorkerSnapshot } from './worker';
export type { WorkerEvents, WorkerSummary, TaskReceived } from './worker-events';
export {
  resolveWorkerOptions,
  DEFAULT_SHUTDOWN_TIMEOUT_MS,
  DEFAULT_STALL_WARNING_MS,
  type WorkerOptions,
  type ResolvedWorkerOptions,
  type ResolveWorkerOptionsContext,
} from './worker-options';
export type { TaskRepublisher, RevokedLookup } from './request';
export { decideOutcome, type Outcome, type Decision, type OutcomeFacts } from './outcome';
export { currentTask } from './task-scope';
export { handlerArguments } from './handler-arguments';
export { checkTaskOptions, matchesAutoretry, maxRetries, retryDelayMs, retryOptionProblems } from './retry-policy';
export type {
  TaskContext,
  TaskHandler,
  TaskOptions,
  RegisteredTask,
  TaskLookup,
  RetryOptions,
  RetryPolicy,
  ErrorClass,
} from './task-types';
export { AsyncPool, type PoolKind, type PoolRun, type TaskPool } from './pool/task-pool';
export { ProcessPool, POOL_PROCESS_ENV, type ProcessPoolOptions } from './pool/process-pool';
export { ProgressReporter, PROGRESS_STATE, PROGRESS_INTERVAL_MS, type ProgressMeta } from './progress';
