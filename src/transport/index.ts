export { BrokerConnection, type BrokerConnectionOptions, type ChannelOptions } from './broker-connection';
export { Publisher, type PublisherOptions, type PublishRequest, type PublishProperties } from './publisher';
export type * from './transport';
export type { ChannelWrapper } from 'amqp-connection-manager';
