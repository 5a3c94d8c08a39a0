export { BrokerConnection, type BrokerConnectionOptions } from './broker-connection';
export { Publisher, type PublisherOptions, type PublishRequest, type PublishProperties } from './publisher';
export { probeCluster, type ClusterProbe, type ClusterProbeOptions } from './cluster-probe';
export { createTransport, type TransportOptions } from './create-transport';
export { MemoryBroker, MemoryTransport, memoryBroker, resetMemoryBroker, type MemoryQueueInfo, type MemoryMessage } from './memory';
export type * from './transport';
