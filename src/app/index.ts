export { App, createApp, type AppOptions, type StartBeatOptions } from './app';
export { TaskRegistry } from './task-registry';
export type { TaskHandle, BoundTaskOptions, UnboundTaskOptions, BoundHandler, Tail } from './task-handle';
