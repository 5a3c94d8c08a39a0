export { App, createApp, type AppOptions, type StartWorkerOptions } from './app';
export { TaskRegistry } from './task-registry';
