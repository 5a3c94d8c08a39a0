export { App, createApp, type AppOptions, type StartWorkerOptions, type StartBeatOptions } from './app';
export { TaskRegistry } from './task-registry';
