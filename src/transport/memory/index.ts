export { MemoryBroker, type MemoryBrokerOptions, type MemoryQueueInfo, type MemoryMessage, type MemoryExchangeType, type MemoryBrokerEvent, type MemoryConnectionInfo } from './memory-broker';
export { MemoryTransport, type MemoryTransportOptions } from './memory-transport';
export { MemoryChannel } from './memory-channel';
export { memoryBroker, resetMemoryBroker, memoryBrokerName } from './memory-brokers';
