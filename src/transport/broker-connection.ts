import { connect, type AmqpConnectionManager } from 'amqp-connection-manager';
import { BrokerUnavailableError, ClosedError } from '../errors';
import type { Logger } from '../logging/logger';
import { maskUrl } from '../util/mask-url';
import type { Transport, TransportChannel, TransportConfirmChannel } from './transport';

export interface BrokerConnectionOptions {
  /** Broker URLs; more than one means failover in order. */
  urls: readonly string[];
  logger: Logger;
  /** How long `start()` waits for the first connection. @defaultValue 10000 */
  connectTimeoutMs?: number;
  /** @defaultValue 5 */
  heartbeatSeconds?: number;
  /** Delay before the first reconnect attempt after a loss; it doubles with each failed attempt. @defaultValue 1 */
  reconnectSeconds?: number;
  /** Upper bound of the delay between reconnect attempts. @defaultValue 10 */
  maxReconnectSeconds?: number;
  /** Shown in the broker's management UI. */
  connectionName?: string;
}

/**
 * The one connection of a process, shared by every channel and call. After a loss it
 * reconnects with exponential backoff (each round tries every URL in order, then waits
 * `reconnectSeconds`, doubling up to `maxReconnectSeconds`); channels made with
 * `createChannel` are re-opened and re-set-up by amqp-connection-manager. Each step is logged
 * once, here, not per channel: disconnected (warn), each attempt (debug), reconnected (info).
 * Nothing connects before `start()`.
 */
export class BrokerConnection implements Transport {
  private manager: AmqpConnectionManager | undefined;
  private starting: Promise<void> | undefined;
  private closed = false;
  private readonly logger: Logger;
  /** Reconnect rounds since the connection was lost; 0 while connected. */
  private attempt = 0;
  private disconnectedAt: number | undefined;
  private cancelBackoff: (() => void) | undefined;
  /** The broker URLs, password masked: for logs and error messages. */
  readonly broker: string;

  constructor(private readonly options: BrokerConnectionOptions) {
    this.logger = options.logger.child({ component: 'connection' });
    this.broker = options.urls.map(maskUrl).join(', ');
  }

  /** Connects once; concurrent callers share the same attempt. */
  start(): Promise<void> {
    if (this.closed) return Promise.reject(new ClosedError('the broker connection is closed'));
    this.starting ??= this.connectFirst();
    return this.starting;
  }

  private async connectFirst(): Promise<void> {
    const { urls } = this.options;
    const masked = this.broker;
    // amqp-connection-manager waits a fixed time between attempts; the backoff lives in
    // findServers, which it calls before each round over the URLs. Its own wait is kept short.
    const manager = connect(undefined, {
      heartbeatIntervalInSeconds: this.options.heartbeatSeconds ?? 5,
      reconnectTimeInSeconds: 0.05,
      findServers: () => this.nextRound(urls),
      connectionOptions: {
        clientProperties: { connection_name: this.options.connectionName ?? `warren ${process.pid}` },
      },
    });
    this.manager = manager;
    let lastError: Error | undefined;
    let connectedOnce = false;
    manager.on('connect', ({ url }) => {
      const broker = typeof url === 'string' ? maskUrl(url) : `${url.hostname ?? 'localhost'}:${url.port ?? 5672}`;
      if (connectedOnce) {
        const downMs = this.disconnectedAt === undefined ? undefined : Date.now() - this.disconnectedAt;
        this.logger.info({ broker, attempts: this.attempt, downMs }, 'reconnected to broker');
      } else {
        this.logger.info({ broker }, 'connected to broker');
      }
      connectedOnce = true;
      this.attempt = 0;
      this.disconnectedAt = undefined;
    });
    manager.on('connectFailed', ({ err, url }) => {
      lastError = err;
      if (connectedOnce) {
        this.logger.debug({ broker: typeof url === 'string' ? maskUrl(url) : masked, attempt: this.attempt, err: err.message }, 'broker connection attempt failed');
      }
    });
    manager.on('disconnect', ({ err }) => {
      if (this.closed) return;
      this.disconnectedAt ??= Date.now();
      this.logger.warn({ broker: masked, err: err?.message }, 'disconnected from broker; reconnecting');
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

  /**
   * Called by amqp-connection-manager before each round of attempts: at once the first time
   * and right after a loss, then after `reconnectSeconds` doubling up to `maxReconnectSeconds`
   * (with up to a fifth of jitter, so many processes do not reconnect in step).
   */
  private async nextRound(urls: readonly string[]): Promise<string[]> {
    const round = this.attempt;
    this.attempt += 1;
    if (round === 0 || this.closed) return [...urls];
    const base = (this.options.reconnectSeconds ?? 1) * 1000;
    const max = (this.options.maxReconnectSeconds ?? 10) * 1000;
    const delayMs = Math.round(Math.min(max, base * 2 ** (round - 1)) * (1 - Math.random() * 0.2));
    this.logger.debug({ broker: this.broker, attempt: this.attempt, delayMs }, 'reconnecting to broker');
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, delayMs);
      this.cancelBackoff = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.cancelBackoff = undefined;
    return [...urls];
  }

  private requireManager(): AmqpConnectionManager {
    if (!this.manager) throw new ClosedError('the broker connection is not started');
    return this.manager;
  }

  /** The connection as it is now. @throws BrokerUnavailableError while disconnected */
  private currentConnection(): NonNullable<AmqpConnectionManager['connection']> {
    const model = this.requireManager().connection;
    if (!model) throw new BrokerUnavailableError(`not connected to the broker at ${this.broker}`);
    return model;
  }

  /**
   * Runs `work` on a short-lived channel of its own and closes it. A failed declare closes
   * its channel on the broker side; keeping that away from shared channels is the point.
   */
  async withTemporaryChannel<T>(work: (channel: TransportChannel) => Promise<T>): Promise<T> {
    const channel = await this.currentConnection().createChannel();
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
   * is not re-opened. For what must end with the connection, like the beat's leader lock, and
   * for consumers that open their channel again themselves after `onConnect` (worker, reply
   * queue), so that no delivery of a lost connection is ever acked on a new one.
   */
  async openChannel(): Promise<TransportChannel> {
    const channel = await this.currentConnection().createChannel();
    channel.on('error', () => undefined);
    return channel;
  }

  /** As `openChannel`, a confirm channel: its unconfirmed publishes fail when the connection goes. */
  async openConfirmChannel(): Promise<TransportConfirmChannel> {
    const channel = await this.currentConnection().createConfirmChannel();
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
    this.cancelBackoff?.();
    const manager = this.manager;
    this.manager = undefined;
    if (manager) {
      await manager.close();
      this.logger.debug('broker connection closed');
    }
  }
}
