import { connect, type AmqpConnectionManager } from 'amqp-connection-manager';
import type { Channel, ChannelModel } from 'amqplib';
import type { FailoverStrategy } from '../config/types';
import { BrokerUnavailableError, ClosedError, UsageError, WarrenError, type ConnectAttempt, type ConnectCause } from '../errors';
import type { Logger } from '../logging/logger';
import { maskUrl } from '../util/mask-url';
import { connectError, describeConnectFailure } from './connect-failure';
import { FailoverOrder } from './failover-order';
import type { Transport, TransportChannel, TransportConfirmChannel } from './transport';
import { Lazy } from '../util/lazy';
import { coalesceWrites } from './coalesced-writes';

export interface BrokerConnectionOptions {
  /** Broker URLs; more than one means failover, in the order `failoverStrategy` says. */
  urls: readonly string[];
  /**
   * The order the URLs are tried in: `in-order` (every round from the first), `round-robin`
   * (a cycle: the next after the last tried), `shuffle` (a random order each round, the first
   * connect included, so a fleet spreads over the nodes). After a loss the lost URL is tried
   * last. @defaultValue 'in-order'
   */
  failoverStrategy?: FailoverStrategy;
  logger: Logger;
  /**
   * How long `start()` may take in all. It ends sooner, at once, when every URL has been tried
   * once and failed. @defaultValue 10000
   */
  connectTimeoutMs?: number;
  /**
   * How long one attempt to one URL may take, TCP connect, TLS and AMQP handshake together
   * (amqplib's socket `timeout`); past it the next URL is tried. Bounds reconnects too.
   * @defaultValue 5000, and at most `connectTimeoutMs`
   */
  handshakeTimeoutMs?: number;
  /** @defaultValue 5 */
  heartbeatSeconds?: number;
  /** Delay before the first reconnect attempt after a loss; it doubles with each failed attempt. @defaultValue 1 */
  reconnectSeconds?: number;
  /** Upper bound of the delay between reconnect attempts. @defaultValue 10 */
  maxReconnectSeconds?: number;
  /** Shown in the broker's management UI. */
  connectionName?: string;
}

/** The first connect: one round over the URLs, and what each attempt came to. */
interface FirstConnect {
  readonly failures: ConnectAttempt[];
  /** Called once every URL failed once. */
  roundOver(): void;
  /** Called when the connection is closed before it connected. */
  cancel(): void;
}

/**
 * The one connection of a process, shared by every channel and call.
 *
 * The first connect (`start()`) tries each URL once, in the order of `failoverStrategy`
 * (`FailoverOrder`), each attempt bounded by
 * `handshakeTimeoutMs`, and resolves with the first that answers. When every URL failed it
 * rejects at once, naming each URL and what happened there (refused, unreachable, timeout,
 * authentication, virtual host, TLS); `connectTimeoutMs` bounds it in all, even while an
 * attempt is still running.
 *
 * After a loss it reconnects by itself, at once to the next URL (the lost one comes last), then
 * with exponential backoff (each round tries every URL in the strategy's order, each attempt
 * bounded as above, then waits `reconnectSeconds`, doubling up to
 * `maxReconnectSeconds`), for as long as it is not closed. Channels are not re-opened here: each
 * role opens its own again after `onConnect`. Each step is logged once, here, not per channel:
 * disconnected (warn), a failed attempt (warn when its address fails for a new reason, else
 * debug), reconnected (info). Nothing connects before `start()`.
 */
export class BrokerConnection implements Transport {
  private manager: AmqpConnectionManager | undefined;
  /** The first connect; concurrent callers share it, and one that failed is tried afresh. */
  private readonly starting = new Lazy(() => this.connectFirst());
  private first: FirstConnect | undefined;
  private closed = false;
  private readonly logger: Logger;
  /** Rounds over the URLs begun since the connection was lost (or the first connect began); 0 while connected. */
  private round = 0;
  private order: FailoverOrder;
  /** The URL connected to now. */
  private connectedUrl: string | undefined;
  /** The URL of the connection just lost, until the next round begins: it is tried last. */
  private lostUrl: string | undefined;
  private disconnectedAt: number | undefined;
  private cancelBackoff: (() => void) | undefined;
  /** The last reason each URL failed for since the last connect, so a repeat is not logged as news. */
  private readonly lastFailure = new Map<string, ConnectCause>();
  /** amqplib connections that have closed: an error on one of their channels means the connection went. */
  private readonly lost = new WeakSet<ChannelModel>();
  private readonly connectTimeoutMs: number;
  private readonly handshakeTimeoutMs: number;
  /** The broker URLs, password masked: for logs and error messages. */
  readonly broker: string;

  constructor(private readonly options: BrokerConnectionOptions) {
    if (options.urls.length === 0) throw new UsageError('no broker URL given (expected at least one amqp:// or amqps:// URL)');
    this.logger = options.logger.child({ component: 'connection' });
    this.broker = options.urls.map(maskUrl).join(', ');
    this.connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.handshakeTimeoutMs = Math.min(options.handshakeTimeoutMs ?? 5000, this.connectTimeoutMs);
    this.order = new FailoverOrder(options.urls, options.failoverStrategy);
  }

  /** The URL of the node connected to now, password masked; undefined while disconnected. */
  connectedTo(): string | undefined {
    return this.connectedUrl !== undefined && this.isConnected() ? maskUrl(this.connectedUrl) : undefined;
  }

  /** Connects once; concurrent callers share the same attempt. */
  start(): Promise<void> {
    if (this.closed) return Promise.reject(new ClosedError('the broker connection is closed'));
    return this.starting.get();
  }

  private async connectFirst(): Promise<void> {
    const { urls } = this.options;
    // amqp-connection-manager waits a fixed time between attempts; the order and the backoff
    // live in findServers, which returns one URL at a time, so the manager asks before each
    // attempt. Its own wait is kept short.
    const manager = connect(undefined, {
      heartbeatIntervalInSeconds: this.options.heartbeatSeconds ?? 5,
      reconnectTimeInSeconds: 0.05,
      findServers: () => this.nextUrl(),
      connectionOptions: {
        // amqplib's socket timeout: a connect attempt that gets no answer fails after this
        // long (TCP connect, TLS and AMQP handshake), and the manager moves on to the next URL.
        // amqplib switches it off once the connection is open; heartbeats watch it from then on.
        timeout: this.handshakeTimeoutMs,
        // TCP_NODELAY, as py-amqp sets it: AMQP frames are small, and with Nagle's algorithm an
        // ack or confirm written behind other small writes (Celery events on their own channel of
        // this connection) waits for the broker's delayed TCP ack: a worker sending task events
        // ran its tasks 5 to 7 times slower.
        noDelay: true,
        clientProperties: { connection_name: this.options.connectionName ?? `warren ${process.pid}` },
      },
    });
    this.manager = manager;
    this.round = 0;
    this.order.end();
    this.lastFailure.clear();
    const mine = (): boolean => this.manager === manager;
    let connectedOnce = false;
    manager.on('connect', ({ connection, url }: { connection: ChannelModel; url: unknown }) => {
      if (!mine()) return;
      connection.once('close', () => this.lost.add(connection));
      if (!coalesceWrites(connection)) this.logger.debug('amqplib has no muxer to cork: each frame is a socket write of its own');
      const broker = describeUrl(url);
      this.connectedUrl = typeof url === 'string' ? url : undefined;
      if (connectedOnce) {
        const downMs = this.disconnectedAt === undefined ? undefined : Date.now() - this.disconnectedAt;
        this.logger.info({ broker, attempts: this.round, downMs }, 'reconnected to broker');
      } else {
        this.logger.info({ broker }, 'connected to broker');
        const failed = this.first?.failures ?? [];
        if (failed.length > 0) {
          this.logger.warn({ broker, failed: failed.map((f) => `${f.broker}: ${f.reason}`) }, 'connected to a later broker address; the ones before it failed');
        }
      }
      connectedOnce = true;
      this.round = 0;
      this.order.end();
      this.disconnectedAt = undefined;
      this.lastFailure.clear();
    });
    manager.on('connectFailed', ({ err, url }: { err: unknown; url: unknown }) => {
      if (!mine() || this.closed || typeof url !== 'string') return; // 'No servers found' after close has no URL
      const failure = describeConnectFailure(err, url, this.handshakeTimeoutMs);
      const fields = { broker: failure.broker, cause: failure.cause, err: failure.reason, attempt: this.round };
      if (this.first) {
        // The first connect reports its failures itself: in its error, or once connected.
        this.first.failures.push(failure);
        this.logger.debug(fields, 'broker connection attempt failed');
      } else if (this.lastFailure.get(url) === failure.cause) {
        this.logger.debug(fields, 'broker connection attempt failed');
      } else {
        this.lastFailure.set(url, failure.cause);
        this.logger.warn(fields, 'broker connection attempt failed');
      }
    });
    manager.on('disconnect', ({ err }: { err?: Error }) => {
      if (!mine() || this.closed) return;
      this.disconnectedAt ??= Date.now();
      const lost = this.connectedUrl;
      this.lostUrl = lost;
      this.connectedUrl = undefined;
      this.logger.warn({ broker: lost === undefined ? this.broker : maskUrl(lost), err: err?.message }, 'disconnected from broker; reconnecting');
    });
    manager.on('blocked', ({ reason }: { reason: string }) => this.logger.warn({ reason }, 'broker blocked the connection'));
    manager.on('unblocked', () => this.logger.info('broker unblocked the connection'));

    const failures: ConnectAttempt[] = [];
    let timer: NodeJS.Timeout | undefined;
    try {
      const outcome = await new Promise<'connected' | 'failed' | 'timeout' | 'closed'>((resolve) => {
        this.first = { failures, roundOver: () => resolve('failed'), cancel: () => resolve('closed') };
        manager.once('connect', () => resolve('connected'));
        timer = setTimeout(() => resolve('timeout'), this.connectTimeoutMs);
        // Its own promise would wait on an attempt that hangs, and rejects on a 403 by its text:
        // the outcome is decided here instead.
        manager.connect().catch(() => undefined);
      });
      if (outcome === 'connected') return;
      if (outcome === 'closed') throw new ClosedError('the broker connection was closed before it connected');
      throw outcome === 'failed'
        ? connectError(failures)
        : connectError(failures, {
            timedOutMs: this.connectTimeoutMs,
            trying: urls[failures.length],
            untried: urls.slice(failures.length + 1),
          });
    } catch (err) {
      // Not awaited: the manager's close waits for an attempt still running (at most
      // handshakeTimeoutMs), and closes the connection should that attempt still succeed.
      this.manager = undefined;
      void manager.close().catch(() => undefined);
      throw err;
    } finally {
      clearTimeout(timer);
      this.first = undefined;
    }
  }

  /**
   * Called by amqp-connection-manager before each attempt: the next URL of the round under
   * way, or the first of a new round. A new round begins at once the first time and right after
   * a loss (the lost URL last), then after `reconnectSeconds` doubling up to
   * `maxReconnectSeconds` (with up to a fifth of jitter, so many processes do not reconnect in
   * step). A second round during the first connect means every URL failed once: that ends the
   * first connect.
   */
  private async nextUrl(): Promise<string[]> {
    const url = this.order.next();
    if (url !== undefined) return [url];
    const round = this.round;
    this.round += 1;
    if (this.first && round > 0) {
      this.first.roundOver();
      return [];
    }
    if (round > 0 && !this.closed) {
      const base = (this.options.reconnectSeconds ?? 1) * 1000;
      const max = (this.options.maxReconnectSeconds ?? 10) * 1000;
      const delayMs = Math.round(Math.min(max, base * 2 ** (round - 1)) * (1 - Math.random() * 0.2));
      this.logger.debug({ broker: this.broker, attempt: this.round, delayMs }, 'reconnecting to broker');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delayMs);
        this.cancelBackoff = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.cancelBackoff = undefined;
    }
    this.order.begin(this.lostUrl);
    this.lostUrl = undefined;
    return [this.order.next()!];
  }

  private requireManager(): AmqpConnectionManager {
    if (!this.manager) throw new ClosedError('the broker connection is not started');
    return this.manager;
  }

  /** The connection as it is now. @throws BrokerUnavailableError while disconnected */
  private currentConnection(): ChannelModel {
    const model = this.requireManager().connection;
    if (!model) throw new BrokerUnavailableError(`not connected to the broker at ${this.broker}`);
    return model;
  }

  /**
   * Runs `use` on the connection as it is now. A failure that comes from losing that connection
   * meanwhile (amqplib fails what was waiting on its channels: "Channel ended, no reply will be
   * forthcoming", "Connection closed") becomes a BrokerUnavailableError, so that callers tell it
   * by type from what the broker refused (those errors carry the broker's reply code).
   */
  private async onConnection<T>(what: string, use: (model: ChannelModel) => Promise<T>): Promise<T> {
    const model = this.currentConnection();
    try {
      return await use(model);
    } catch (err) {
      const answered = typeof (err as { code?: unknown } | null)?.code === 'number';
      if (err instanceof WarrenError || answered || !this.lost.has(model)) throw err;
      throw new BrokerUnavailableError(
        `the connection to the broker at ${this.broker} was lost during ${what} (${err instanceof Error ? err.message : String(err)})`,
        err,
      );
    }
  }

  /**
   * Runs `work` on a short-lived channel of its own and closes it. A failed declare closes
   * its channel on the broker side; keeping that away from shared channels is the point.
   */
  withTemporaryChannel<T>(work: (channel: TransportChannel) => Promise<T>): Promise<T> {
    return this.onConnection('work on a channel of its own', async (model) => {
      const channel = await model.createChannel();
      // A channel the broker closes (406, 404) emits 'error'; the awaited call rejects too.
      channel.on('error', () => undefined);
      try {
        return await work(channel);
      } finally {
        // Not awaited: nothing depends on the broker's close-ok, and it would cost a round trip.
        void channel.close().catch(() => undefined);
      }
    });
  }

  /**
   * A plain amqplib channel on the connection as it is now; it dies with that connection and
   * is not re-opened. For what must end with the connection, like the beat's leader lock, and
   * for consumers that open their channel again themselves after `onConnect` (worker, reply
   * queue, publisher), so that no delivery of a lost connection is ever acked on a new one.
   */
  openChannel(): Promise<TransportChannel> {
    return this.onConnection('the opening of a channel', async (model) => this.opened(model, await model.createChannel()));
  }

  /** As `openChannel`, a confirm channel: its unconfirmed publishes fail when the connection goes. */
  openConfirmChannel(): Promise<TransportConfirmChannel> {
    return this.onConnection('the opening of a channel', async (model) => this.opened(model, await model.createConfirmChannel()));
  }

  /**
   * A channel just opened, unless its connection closed meanwhile: amqplib handles every frame
   * of a read at once, so the connection's close may come before the caller could listen for
   * the channel's.
   */
  private opened<C extends Channel>(model: ChannelModel, channel: C): C {
    // A channel the broker closes emits 'error' before 'close'; its users listen for 'close'.
    channel.on('error', () => undefined);
    if (this.lost.has(model)) throw new BrokerUnavailableError(`the connection to the broker at ${this.broker} was lost as a channel opened`);
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
    this.first?.cancel();
    this.cancelBackoff?.();
    const manager = this.manager;
    this.manager = undefined;
    if (manager) {
      await manager.close();
      this.logger.debug('broker connection closed');
    }
  }
}

/** The URL amqp-connection-manager reports, password masked. */
function describeUrl(url: unknown): string {
  if (typeof url === 'string') return maskUrl(url);
  const parts = url as { hostname?: string; port?: number } | undefined;
  return `${parts?.hostname ?? 'localhost'}:${parts?.port ?? 5672}`;
}
