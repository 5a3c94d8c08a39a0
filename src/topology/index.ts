export {
  queueArguments,
  friendlyName,
  deadLetterExchange,
  deadLetterRoutingKey,
  deadLetterHeaders,
  deliveryCountHeader,
  isBrokerHeader,
  isDeliveryCountHeader,
  previousDeliveries,
  recordedDeliveries,
} from './arguments';
export { buildTopology, selectTopology } from './topology';
export type { DeclareOptions, ExchangeSpec, QueueSpec, BindingSpec, ExchangeBindingSpec, Topology } from './topology';
export {
  DELAY_LEVELS,
  DELAY_QUEUE_TYPES,
  MAX_DELAY_SECONDS,
  DEFAULT_DELAY_PREFIX,
  delayTopology,
  delayTargetBinding,
  delayedRoute,
  delayLevelName,
  delayLevelQueues,
  delayDeliverExchange,
  delayUnroutableName,
  delayUnroutableQueue,
  isDelayHeader,
  type DelayTopologyOptions,
  type DelayTarget,
  type DelayedRoute,
} from './delay-topology';
export { declareTopology, declareOnOwnChannel } from './declare-topology';
export type { TemporaryChannelSource, TopologyChannel, DeclaredQueue, DeclaredReport } from './declare-topology';
export { exportDefinitions } from './export-definitions';
export { replyQueueSpec } from './reply-queue';
export { singleNodeQueues, singleNodeDelayLevels } from './cluster-advice';
export type { DefinitionsUser, ExportDefinitionsOptions, RabbitDefinitionsFile } from './export-definitions';
