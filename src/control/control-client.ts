import { randomUUID } from 'node:crypto';
import { UnroutableError, UsageError } from '../errors';
import type { Logger } from '../logging/logger';
import { Publisher, type Transport } from '../transport';
import type { LamportClock } from './lamport-clock';
import { OwnChannel } from './own-channel';
import {
  decodeReply,
  encodeRequest,
  PIDBOX_EXCHANGE,
  PIDBOX_EXCHANGE_OPTIONS,
  PIDBOX_QUEUE_OPTIONS,
  REPLY_EXCHANGE,
  replyQueueName,
  type ControlRequest,
} from './pidbox-protocol';

/** One node's reply: `{ 'warren@host': { ok: 'pong' } }`. */
export type NodeReply = Record<string, unknown>;

export interface BroadcastOptions {
  /** The command's keyword arguments. */
  arguments?: Record<string, unknown>;
  /** Node names to ask (`-d`); every node when absent. */
  destination?: readonly string[];
  /** With `matcher`: node names matching this (`glob`, fnmatch; or `pcre`). */
  pattern?: string;
  matcher?: 'glob' | 'pcre';
  /** Wait for replies. @defaultValue false */
  reply?: boolean;
  /** How long to wait for replies. @defaultValue 1000 */
  timeoutMs?: number;
  /** Stop waiting after this many replies. @defaultValue the number of destinations, else none */
  limit?: number;
  /** Called with each reply as it comes. */
  onReply?: (reply: NodeReply) => void;
  /**
   * Ask the broker to return the request when no node queue is bound (mingle uses this to know
   * at once that it is alone): then no reply is awaited. @defaultValue false
   */
  returnWhenAlone?: boolean;
}

export interface ControlClientOptions {
  transport: Transport;
  clock: LamportClock;
  logger: Logger;
  publishTimeoutMs?: number;
}

interface Collector {
  replies: NodeReply[];
  limit: number | undefined;
  onReply?: (reply: NodeReply) => void;
  done: () => void;
}

/**
 * The client side of kombu's `Mailbox`: broadcasts a command to the `celery.pidbox` fanout
 * exchange and collects the replies of every node, Python Celery workers and warren workers
 * alike, from a reply queue of its own (`<oid>.reply.celery.pidbox`, bound to
 * `reply.celery.pidbox` by its id), matched to the request by its ticket. Requests go out on a
 * publisher of its own, so a refused one never touches the app's task publishes.
 */
export class ControlClient {
  /** This client's id: the routing key of its replies. */
  readonly oid = randomUUID();
  private readonly publisher: Publisher;
  /** The reply queue's channel, made on the first broadcast that wants replies; again after each reconnect. */
  private replies: OwnChannel | undefined;
  private listening: Promise<void> | undefined;
  /** The exchanges, declared once per connection. */
  private declaredExchange: Promise<void> | undefined;
  private readonly collectors = new Map<string, Collector>();
  private unsubscribe: (() => void) | undefined;
  private closed = false;
  private readonly logger: Logger;

  constructor(private readonly options: ControlClientOptions) {
    this.logger = options.logger.child({ component: 'control' });
    this.publisher = new Publisher(options.transport, { name: 'control', logger: options.logger, publishTimeoutMs: options.publishTimeoutMs });
  }

  /**
   * Sends `command` to the nodes and, with `reply`, resolves with their replies once `limit`
   * came or `timeoutMs` passed (Celery's `broadcast(..., reply=True)`), in the order they came.
   */
  async broadcast(command: string, options: BroadcastOptions = {}): Promise<NodeReply[]> {
    if (this.closed) throw new UsageError('the control client is closed');
    if (options.destination !== undefined && !Array.isArray(options.destination)) throw new UsageError('destination must be a list of node names');
    await this.start();
    const wantsReply = options.reply ?? false;
    const ticket = wantsReply ? randomUUID() : undefined;
    const timeoutMs = options.timeoutMs ?? 1000;
    const request: ControlRequest = {
      method: command,
      arguments: options.arguments ?? {},
      destination: options.destination ? [...options.destination] : null,
      pattern: options.pattern ?? null,
      matcher: options.pattern ? (options.matcher ?? 'glob') : null,
      ...(ticket ? { ticket, reply_to: { exchange: REPLY_EXCHANGE, routing_key: this.oid } } : {}),
    };
    let collected: Promise<NodeReply[]> | undefined;
    if (ticket) {
      await this.listen();
      const limit = options.limit ?? (options.destination && options.destination.length > 0 ? options.destination.length : undefined);
      collected = this.collect(ticket, limit, timeoutMs, options.onReply);
    }
    const { body, properties } = encodeRequest(request, { clock: this.options.clock.forward(), expires: Date.now() / 1000 + timeoutMs / 1000 });
    try {
      await this.declareExchanges();
      await this.publisher.publish({ exchange: PIDBOX_EXCHANGE, routingKey: '', body, properties, mandatory: options.returnWhenAlone ?? false });
    } catch (err) {
      if (ticket) this.collectors.get(ticket)?.done();
      if (err instanceof UnroutableError && options.returnWhenAlone) return [];
      throw err;
    }
    return collected ?? [];
  }

  /** Stops collecting and closes its channels; the reply queue goes with its consumer (auto-delete). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe?.();
    for (const collector of this.collectors.values()) collector.done();
    await this.replies?.close();
    await this.publisher.close().catch(() => undefined);
  }

  private started: Promise<void> | undefined;

  private start(): Promise<void> {
    this.started ??= (async () => {
      await this.options.transport.start();
      await this.publisher.start();
      // Non-durable exchanges are gone after a broker restart: declared again on each connect.
      this.unsubscribe = this.options.transport.onConnect(() => (this.declaredExchange = undefined));
    })();
    return this.started;
  }

  /** Declares the request and reply exchanges (non-durable, as kombu), once per connection. */
  private declareExchanges(): Promise<void> {
    this.declaredExchange ??= this.options.transport
      .withTemporaryChannel(async (ch) => {
        await ch.assertExchange(PIDBOX_EXCHANGE, 'fanout', PIDBOX_EXCHANGE_OPTIONS);
        await ch.assertExchange(REPLY_EXCHANGE, 'direct', PIDBOX_EXCHANGE_OPTIONS);
      })
      .catch((err: unknown) => {
        this.declaredExchange = undefined;
        throw err;
      });
    return this.declaredExchange;
  }

  /** Declares the reply queue, binds it by this client's id and consumes it (no ack); again after each reconnect. */
  private listen(): Promise<void> {
    const queue = replyQueueName(this.oid);
    this.replies ??= new OwnChannel({
      transport: this.options.transport,
      logger: this.logger,
      what: 'the control reply channel',
      setUp: async (channel) => {
        this.declaredExchange = undefined;
        await this.declareExchanges();
        await channel.assertQueue(queue, PIDBOX_QUEUE_OPTIONS);
        await channel.bindQueue(queue, REPLY_EXCHANGE, this.oid, {});
        await channel.consume(queue, (message) => message && this.onReply(message), { noAck: true });
      },
    });
    const replies = this.replies;
    this.listening ??= replies.start().catch((err: unknown) => {
      this.listening = undefined;
      this.replies = undefined;
      void replies.close();
      throw err;
    });
    return this.listening;
  }

  private collect(ticket: string, limit: number | undefined, timeoutMs: number, onReply?: (reply: NodeReply) => void): Promise<NodeReply[]> {
    return new Promise((resolve) => {
      const collector: Collector = {
        replies: [],
        limit,
        onReply,
        done: () => {
          clearTimeout(timer);
          this.collectors.delete(ticket);
          resolve(collector.replies);
        },
      };
      const timer = setTimeout(() => collector.done(), timeoutMs);
      this.collectors.set(ticket, collector);
    });
  }

  private onReply(message: { content: Buffer; properties: { contentType?: string; contentEncoding?: string; headers?: Record<string, unknown> } }): void {
    const decoded = decodeReply(message);
    if (!decoded.ok) {
      this.logger.warn({ reason: decoded.reason }, 'malformed control reply ignored');
      return;
    }
    const { ticket, clock, expires, replies } = decoded.value;
    this.options.clock.adjust(clock);
    if (typeof expires === 'number' && expires > 0 && Date.now() / 1000 > expires) return;
    // kombu takes a reply without a ticket as one for the request being collected.
    const collector = ticket !== undefined ? this.collectors.get(ticket) : this.collectors.values().next().value;
    if (!collector) return; // late: its broadcast stopped waiting
    collector.replies.push(replies);
    try {
      collector.onReply?.(replies);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'a control reply callback threw; ignored');
    }
    if (collector.limit !== undefined && collector.replies.length >= collector.limit) collector.done();
  }
}
