export { queueArguments, friendlyName, deadLetterExchange } from './arguments';
export { buildTopology, selectTopology } from './topology';
export type { DeclareOptions, ExchangeSpec, QueueSpec, BindingSpec, Topology } from './topology';
export { declareTopology } from './declare-topology';
export type { TopologyChannel, DeclaredQueue, DeclaredReport } from './declare-topology';
export { exportDefinitions } from './export-definitions';
export { replyQueueSpec } from './reply-queue';
export type { DefinitionsUser, ExportDefinitionsOptions, RabbitDefinitionsFile } from './export-definitions';
