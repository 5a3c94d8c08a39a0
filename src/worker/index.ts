export { Worker, type WorkerOptions, type WorkerEvents, type TaskRepublisher } from './worker';
export { checkTaskOptions, matchesAutoretry, maxRetries, retryDelayMs } from './retry-policy';
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
