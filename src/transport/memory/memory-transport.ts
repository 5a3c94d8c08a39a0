import { BrokerUnavailableError, ClosedError, WarrenError } from '../../errors';
import type { Logger } from '../../logging/logger';
import type { Transport, TransportChannel, TransportConfirmChannel } from '../transport';
import { AmqpError } from './amqp-errors';
import { MemoryChannel } from './memory-channel';
import type { MemoryBroker } from './memory-broker';
import type { ServerConnection } from './server-connection';
import { Lazy } from '../../util/lazy';

export interface MemoryTransportOptions {
  /** The broker to connect to: see `memoryBroker(name)`. */
  broker: MemoryBroker;
  logger: Logger;
  /** How long `start()` waits for a stopped broker to start. @defaultValue 10000 */
  connectTimeoutMs?: number;
  /** Delay before reconnecting after the connection was lost. @defaultValue 10 */
  reconnectDelayMs?: number;
  /** The connection's name, as the broker lists it (`broker.connectionList()`). @defaultValue `warren <pid>` */
  connectionName?: string;
}

/**
 * The `memory://` transport: one connection to a {@link MemoryBroker} in this process, with
 * the behaviour of `BrokerConnection` that the roles rely on. Nothing connects before
 * `start()`; when the broker drops the connection (`broker.dropConnections()`, `stop()`),
 * its channels close, `isConnected()` turns false, and it reconnects by itself (once the
 * broker runs again) and tells `onConnect` listeners, who open their channels again.
 */
export class MemoryTransport implements Transport {
  /** `memory://<name>`: for logs and error messages. */
  readonly broker: string;
  private connection: ServerConnection | undefined;
  private readonly channels = new Set<MemoryChannel>();
  private readonly connectListeners = new Set<() => void>();
  /** The first connect; concurrent callers share it, and one that failed is tried afresh. */
  private readonly starting = new Lazy(() => this.connectFirst());
  private connectedOnce = false;
  private closed = false;
  private disconnectedAt: number | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private stopWaitingForStart: (() => void) | undefined;
  private readonly logger: Logger;

  constructor(private readonly options: MemoryTransportOptions) {
    this.broker = options.broker.url;
    this.logger = options.logger.child({ component: 'connection' });
  }

  /** The broker this transport connects to. */
  get memoryBroker(): MemoryBroker {
    return this.options.broker;
  }

  start(): Promise<void> {
    if (this.closed) return Promise.reject(new ClosedError('the broker connection is closed'));
    return this.starting.get();
  }

  private async connectFirst(): Promise<void> {
    if (this.connect()) return;
    const timeoutMs = this.options.connectTimeoutMs ?? 10_000;
    const started = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        unsubscribe();
        resolve(false);
      }, timeoutMs);
      const unsubscribe = this.options.broker.onStart(() => {
        clearTimeout(timer);
        unsubscribe();
        resolve(true);
      });
    });
    if (!started || !this.connect()) {
      throw new BrokerUnavailableError(`no broker answered at ${this.broker} within ${timeoutMs} ms (the memory broker is stopped)`);
    }
  }

  /** Opens a connection if the broker takes one; true if connected now. */
  private connect(): boolean {
    if (this.closed) return false;
    const connection = this.options.broker.connect({ lost: (error) => this.onLost(connection, error) }, this.options.connectionName ?? `warren ${process.pid}`);
    if (!connection) return false;
    this.connection = connection;
    if (this.connectedOnce) {
      const downMs = this.disconnectedAt === undefined ? undefined : Date.now() - this.disconnectedAt;
      this.logger.info({ broker: this.broker, downMs }, 'reconnected to broker');
    } else {
      this.logger.info({ broker: this.broker }, 'connected to broker');
    }
    this.connectedOnce = true;
    this.disconnectedAt = undefined;
    for (const listener of [...this.connectListeners]) listener();
    return true;
  }

  /** The broker closed the connection: channels close (without an error of their own), then a reconnect. */
  private onLost(connection: ServerConnection | undefined, error: Error): void {
    if (connection === undefined || this.connection !== connection) return;
    this.connection = undefined;
    this.disconnectedAt ??= Date.now();
    this.logger.warn({ broker: this.broker, err: error.message }, 'disconnected from broker; reconnecting');
    this.closeChannels(error instanceof AmqpError ? error : undefined);
    this.scheduleReconnect();
  }

  private closeChannels(cause?: AmqpError): void {
    const channels = [...this.channels];
    this.channels.clear();
    for (const channel of channels) channel.connectionLost(cause);
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer || this.stopWaitingForStart) return;
    if (!this.options.broker.isRunning) {
      this.stopWaitingForStart = this.options.broker.onStart(() => {
        this.stopWaitingForStart?.();
        this.stopWaitingForStart = undefined;
        this.scheduleReconnect();
      });
      return;
    }
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (!this.connection && !this.connect()) this.scheduleReconnect();
    }, this.options.reconnectDelayMs ?? 10);
  }

  private currentConnection(): ServerConnection {
    if (!this.starting.peek()) throw new ClosedError(this.closed ? 'the broker connection is closed' : 'the broker connection is not started');
    if (!this.connection) throw new BrokerUnavailableError(`not connected to the broker at ${this.broker}`);
    return this.connection;
  }

  /**
   * Runs `use` on the connection as it is now. A failure that comes from losing that connection
   * meanwhile (calls still waiting fail with "Channel ended, no reply will be forthcoming", a
   * closed channel throws "Channel closed") becomes a BrokerUnavailableError, as with
   * `BrokerConnection`, so that callers tell it by type from what the broker refused (those
   * errors carry the broker's reply code).
   */
  private async onConnection<T>(what: string, use: (connection: ServerConnection) => Promise<T>): Promise<T> {
    const connection = this.currentConnection();
    try {
      return await use(connection);
    } catch (err) {
      const answered = typeof (err as { code?: unknown } | null)?.code === 'number';
      if (err instanceof WarrenError || answered || connection.open) throw err;
      throw new BrokerUnavailableError(
        `the connection to the broker at ${this.broker} was lost during ${what} (${err instanceof Error ? err.message : String(err)})`,
        err,
      );
    }
  }

  private async open(connection: ServerConnection, confirm: boolean): Promise<MemoryChannel> {
    const channel = new MemoryChannel(this.options.broker, connection, confirm);
    // As BrokerConnection: a channel the broker closes emits 'error'; the failed call says the same.
    channel.on('error', () => undefined);
    this.channels.add(channel);
    channel.on('close', () => this.channels.delete(channel));
    await channel.opened();
    return channel;
  }

  /** A channel on the connection as it is now; it dies with that connection. @throws BrokerUnavailableError while disconnected */
  openChannel(): Promise<TransportChannel> {
    return this.onConnection('the opening of a channel', (connection) => this.open(connection, false));
  }

  /** As `openChannel`, in confirm mode. */
  openConfirmChannel(): Promise<TransportConfirmChannel> {
    return this.onConnection('the opening of a channel', (connection) => this.open(connection, true));
  }

  withTemporaryChannel<T>(work: (channel: TransportChannel) => Promise<T>): Promise<T> {
    return this.onConnection('work on a channel of its own', async (connection) => {
      const channel = await this.open(connection, false);
      try {
        return await work(channel);
      } finally {
        await channel.close().catch(() => undefined);
      }
    });
  }

  isConnected(): boolean {
    return this.connection !== undefined;
  }

  /** `memory://<name>` while connected: a memory broker is one node. */
  connectedTo(): string | undefined {
    return this.isConnected() ? this.broker : undefined;
  }

  onConnect(listener: () => void): () => void {
    this.connectListeners.add(listener);
    return () => this.connectListeners.delete(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.stopWaitingForStart?.();
    this.stopWaitingForStart = undefined;
    this.connectListeners.clear();
    const connection = this.connection;
    this.connection = undefined;
    if (connection) {
      // As connection.close: what was sent before is handled first, then the channels close.
      await new Promise<void>((resolve) => {
        connection.toBroker(() => {
          this.options.broker.closeConnection(connection);
          connection.toClient(resolve);
        });
        if (!connection.open) resolve();
      });
      this.closeChannels();
      this.logger.debug('broker connection closed');
    }
  }
}
