import { connect, type AmqpConnectionManager, type ChannelWrapper } from 'amqp-connection-manager';
import type { Channel, ConfirmChannel } from 'amqplib';
import { BrokerUnavailableError, ClosedError } from '../errors';
import type { Logger } from '../logging/logger';
import { maskUrl } from '../util/mask-url';

export interface BrokerConnectionOptions {
  /** Broker URLs; more than one means failover in order. */
  urls: readonly string[];
  logger: Logger;
  /** How long `start()` waits for the first connection. @defaultValue 10000 */
  connectTimeoutMs?: number;
  /** @defaultValue 5 */
  heartbeatSeconds?: number;
  /** Delay between reconnect attempts. @defaultValue 1 */
  reconnectSeconds?: number;
  /** Shown in the broker's management UI. */
  connectionName?: string;
}

export interface ChannelOptions {
  name: string;
  /** A confirm channel: every publish resolves once the broker confirmed it. */
  confirm: boolean;
  /** Runs on every (re)opened channel before anything else uses it. */
  setup?: (channel: ConfirmChannel) => Promise<void>;
  /** Publishes wait at most this long for the broker, connected or not. */
  publishTimeoutMs?: number;
}

/**
 * The one connection of a process, shared by every channel and call. Reconnects with a
 * fixed delay after loss; channels made here are re-opened and re-set-up by
 * amqp-connection-manager. Nothing connects before `start()`.
 */
export class BrokerConnection {
  private manager: AmqpConnectionManager | undefined;
  private starting: Promise<void> | undefined;
  private closed = false;
  private readonly logger: Logger;

  constructor(private readonly options: BrokerConnectionOptions) {
    this.logger = options.logger.child({ component: 'connection' });
  }

  /** Connects once; concurrent callers share the same attempt. */
  start(): Promise<void> {
    if (this.closed) return Promise.reject(new ClosedError('the broker connection is closed'));
    this.starting ??= this.connectFirst();
    return this.starting;
  }

  private async connectFirst(): Promise<void> {
    const { urls } = this.options;
    const masked = urls.map(maskUrl).join(', ');
    const manager = connect([...urls], {
      heartbeatIntervalInSeconds: this.options.heartbeatSeconds ?? 5,
      reconnectTimeInSeconds: this.options.reconnectSeconds ?? 1,
      connectionOptions: {
        clientProperties: { connection_name: this.options.connectionName ?? `warren ${process.pid}` },
      },
    });
    this.manager = manager;
    let lastError: Error | undefined;
    let connectedOnce = false;
    manager.on('connect', ({ url }) => {
      const broker = typeof url === 'string' ? maskUrl(url) : `${url.hostname ?? 'localhost'}:${url.port ?? 5672}`;
      this.logger.info({ broker }, connectedOnce ? 'reconnected to broker' : 'connected to broker');
      connectedOnce = true;
    });
    manager.on('connectFailed', ({ err }) => {
      lastError = err;
      if (connectedOnce) this.logger.warn({ err: err.message }, 'broker connection attempt failed');
    });
    manager.on('disconnect', ({ err }) => {
      if (!this.closed) this.logger.warn({ err: err?.message }, 'disconnected from broker');
    });
    manager.on('blocked', ({ reason }) => this.logger.warn({ reason }, 'broker blocked the connection'));
    manager.on('unblocked', () => this.logger.info('broker unblocked the connection'));

    const timeoutMs = this.options.connectTimeoutMs ?? 10_000;
    try {
      await manager.connect({ timeout: timeoutMs });
    } catch (err) {
      await manager.close().catch(() => undefined);
      this.manager = undefined;
      this.starting = undefined;
      const reason = lastError?.message ?? (err instanceof Error ? err.message : String(err));
      throw new BrokerUnavailableError(`no broker answered at ${masked} within ${timeoutMs} ms (${reason})`, lastError ?? err);
    }
  }

  private requireManager(): AmqpConnectionManager {
    if (!this.manager) throw new ClosedError('the broker connection is not started');
    return this.manager;
  }

  /** A channel that survives reconnects. */
  createChannel(options: ChannelOptions): ChannelWrapper {
    return this.requireManager().createChannel({
      name: options.name,
      confirm: options.confirm,
      publishTimeout: options.publishTimeoutMs,
      setup: options.setup,
    });
  }

  /**
   * Runs `work` on a short-lived channel of its own and closes it. A failed declare closes
   * its channel on the broker side; keeping that away from shared channels is the point.
   */
  async withTemporaryChannel<T>(work: (channel: Channel) => Promise<T>): Promise<T> {
    const model = this.requireManager().connection;
    if (!model) throw new BrokerUnavailableError('not connected to the broker');
    const channel = await model.createChannel();
    // A channel the broker closes (406, 404) emits 'error'; the awaited call rejects too.
    channel.on('error', () => undefined);
    try {
      return await work(channel);
    } finally {
      await channel.close().catch(() => undefined);
    }
  }

  /**
   * A plain amqplib channel on the connection as it is now; it dies with that connection and
   * is not re-opened. For what must end with the connection, like the beat's leader lock.
   */
  async openChannel(): Promise<Channel> {
    const model = this.requireManager().connection;
    if (!model) throw new BrokerUnavailableError('not connected to the broker');
    const channel = await model.createChannel();
    channel.on('error', () => undefined);
    return channel;
  }

  isConnected(): boolean {
    return this.manager?.isConnected() ?? false;
  }

  /** Registers a listener for each (re)connection; returns a function that removes it. */
  onConnect(listener: () => void): () => void {
    const manager = this.requireManager();
    manager.on('connect', listener);
    return () => manager.removeListener('connect', listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    const manager = this.manager;
    this.manager = undefined;
    if (manager) {
      await manager.close();
      this.logger.debug('broker connection closed');
    }
  }
}
