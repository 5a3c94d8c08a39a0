export { BrokerConnection, type BrokerConnectionOptions } from './broker-connection';
export { Publisher, type PublisherOptions, type PublishRequest, type PublishProperties } from './publisher';
export type * from './transport';
