/**
 * warren: RabbitMQ task routing for Node.js, speaking Celery's protocol.
 * Everything a user imports comes from here.
 */
export {
  App,
  createApp,
  type AppOptions,
  type StartBeatOptions,
  type TaskHandle,
  type BoundTaskOptions,
  type UnboundTaskOptions,
  type BoundHandler,
} from './app';
export { Beat, Schedules, type BeatEvents, type ScheduleListing, type ScheduleEntryInput, type Fire } from './beat';
export { loadDefinitions } from './config';
export {
  Control,
  Inspect,
  type CeleryEvent,
  type ControlTarget,
  type ControlCommandOptions,
  type NodeReply,
  type RepliesByNode,
} from './control';
export type * from './config/types';
export * from './errors';
export { createLogger, type Logger, type LogLevel } from './logging/logger';
export type { SendTaskOptions } from './producer';
export { AsyncResult, GroupResult, type AsyncResultEvents, type GroupMember, type ResultProgress, type ResultState, type GetOptions, type RevokeOptions } from './result';
export { Signature, Chain, Group, Chord, type SignatureOptions, type AnySignature } from './canvas';
export { createRouter, type Router, type Route } from './router';
export { buildTopology, declareTopology, exportDefinitions, type Topology } from './topology';
export {
  memoryBroker,
  resetMemoryBroker,
  MemoryBroker,
  type MemoryBrokerEvent,
  type MemoryQueueInfo,
  type MemoryMessage,
  type MemoryConnectionInfo,
} from './transport/memory';
export {
  currentTask,
  resolveWorkerOptions,
  POOL_PROCESS_ENV,
  PROGRESS_STATE,
  type PoolKind,
  type ProgressMeta,
  type Worker,
  type WorkerOptions,
  type ResolvedWorkerOptions,
  type WorkerEvents,
  type WorkerSummary,
  type TaskReceived,
  type TaskSnapshot,
  type WorkerSnapshot,
  type TaskContext,
  type TaskHandler,
  type TaskOptions,
  type RetryOptions,
  type RetryPolicy,
  type ErrorClass,
} from './worker';
