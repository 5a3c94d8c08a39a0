export { BrokerConnection, type BrokerConnectionOptions } from './broker-connection';
export { Publisher, type PublisherOptions, type PublishRequest, type PublishProperties } from './publisher';
export { probeCluster, type ClusterProbe, type ClusterProbeOptions } from './cluster-probe';
export type * from './transport';
