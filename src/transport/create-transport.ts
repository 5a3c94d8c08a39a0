import { UsageError } from '../errors';
import type { FailoverStrategy } from '../config/types';
import type { Logger } from '../logging/logger';
import { maskUrl } from '../util/mask-url';
import { BrokerConnection } from './broker-connection';
import { MemoryTransport, memoryBroker, memoryBrokerName } from './memory';
import type { Transport } from './transport';

export interface TransportOptions {
  /** Broker URLs: `amqp://` / `amqps://` (more than one means failover), or one `memory://`. */
  urls: readonly string[];
  /** The order RabbitMQ URLs are tried in (see `BrokerConnectionOptions`). @defaultValue 'in-order' */
  failoverStrategy?: FailoverStrategy;
  logger: Logger;
  /** How long `start()` waits for the first connection. @defaultValue 10000 */
  connectTimeoutMs?: number;
  /** How long one attempt to one RabbitMQ URL may take (not used by `memory://`). @defaultValue 5000 */
  handshakeTimeoutMs?: number;
  /** AMQP heartbeat (not used by `memory://`). @defaultValue 5 */
  heartbeatSeconds?: number;
  /** Shown in RabbitMQ's management UI, and in a memory broker's `connectionList()`. */
  connectionName?: string;
}

/** Whether `url` names a memory broker (`memory://`, in any case, as the config's URL check reads it). */
function isMemoryUrl(url: string): boolean {
  try {
    return new URL(url).protocol === 'memory:';
  } catch {
    return false;
  }
}

/**
 * The transport the URLs ask for: `BrokerConnection` (RabbitMQ) for `amqp://` and `amqps://`,
 * `MemoryTransport` for `memory://` (the process-wide default memory broker) or
 * `memory://<name>` (a separate one). Nothing connects before `start()`.
 * @throws UsageError for no URL, or for `memory://` mixed with other URLs or given twice
 */
export function createTransport(options: TransportOptions): Transport {
  const { urls, logger } = options;
  if (urls.length === 0) throw new UsageError('no broker URL given (expected amqp://, amqps:// or memory://)');
  const memory = urls.filter(isMemoryUrl);
  if (memory.length === 0) {
    return new BrokerConnection({
      urls,
      logger,
      connectTimeoutMs: options.connectTimeoutMs,
      handshakeTimeoutMs: options.handshakeTimeoutMs,
      heartbeatSeconds: options.heartbeatSeconds,
      connectionName: options.connectionName,
      failoverStrategy: options.failoverStrategy,
    });
  }
  if (urls.length > 1) {
    throw new UsageError(
      `broker URLs ${urls.map((url) => JSON.stringify(maskUrl(url))).join(', ')} mix memory:// with other brokers or give it twice; ` +
        'a memory broker lives in this process and has no failover: give one memory:// URL alone',
    );
  }
  return new MemoryTransport({
    broker: memoryBroker(memoryBrokerName(memory[0])),
    logger,
    connectTimeoutMs: options.connectTimeoutMs,
    connectionName: options.connectionName,
  });
}
