export { Worker, type WorkerOptions, type WorkerEvents } from './worker';
export type { TaskContext, TaskHandler, TaskOptions, RegisteredTask, TaskLookup } from './task-types';
