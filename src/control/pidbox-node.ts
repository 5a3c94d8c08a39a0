import type { Logger } from '../logging/logger';
import { Publisher, type DeliveredMessage, type Transport } from '../transport';
import type { LamportClock } from './lamport-clock';
import { OwnChannel } from './own-channel';
import {
  decodeRequest,
  encodeReply,
  isForNode,
  nodeQueueName,
  PIDBOX_EXCHANGE,
  PIDBOX_EXCHANGE_OPTIONS,
  PIDBOX_QUEUE_OPTIONS,
  type ControlRequest,
} from './pidbox-protocol';

/** What a command came to: the node's reply, and what to do once it is sent (`shutdown` stops the worker then). */
export interface CommandResult {
  reply: unknown;
  afterReply?: () => void;
}

export type CommandHandler = (request: ControlRequest) => Promise<CommandResult>;

export interface PidboxNodeOptions {
  transport: Transport;
  hostname: string;
  clock: LamportClock;
  logger: Logger;
  /** Runs a command; a throw replies `{error}`. */
  handle: CommandHandler;
  publishTimeoutMs?: number;
}

/**
 * The worker side of kombu's `Mailbox`, as a Celery worker's `Pidbox`: consumes
 * `<hostname>.celery.pidbox` (bound to the `celery.pidbox` fanout exchange, so every broadcast
 * reaches it; no acks, messages kept 300 s), runs the commands meant for this node
 * (`destination`, or `pattern` + `matcher`), and sends each reply to the exchange and routing
 * key the request names, with its ticket. Declared again and consumed again after a reconnect.
 *
 * A message that is no control request (not JSON, no method, a reply address that is not one)
 * is ignored with its reason logged; a reply the broker cannot route is dropped. Replies go out
 * on a publisher of its own: a request naming an exchange that does not exist cannot close the
 * worker's result publishing.
 */
export class PidboxNode {
  private readonly channel: OwnChannel;
  private readonly publisher: Publisher;
  private unsubscribe: (() => void) | undefined;
  /** Reply exchanges declared on this connection (kombu declares the reply exchange before it replies). */
  private declared = new Map<string, Promise<boolean>>();
  private readonly logger: Logger;
  readonly queue: string;

  constructor(private readonly options: PidboxNodeOptions) {
    this.logger = options.logger.child({ component: 'pidbox' });
    this.queue = nodeQueueName(options.hostname);
    this.publisher = new Publisher(options.transport, { name: 'pidbox', logger: options.logger, publishTimeoutMs: options.publishTimeoutMs ?? 5000 });
    this.channel = new OwnChannel({
      transport: options.transport,
      logger: this.logger,
      what: 'the remote control channel',
      setUp: async (channel) => {
        await this.declareQueue();
        await channel.consume(this.queue, (message) => message && this.onMessage(message), { noAck: true });
      },
    });
  }

  async start(): Promise<void> {
    await this.publisher.start();
    this.unsubscribe = this.options.transport.onConnect(() => (this.declared = new Map()));
    await this.channel.start();
    this.logger.info({ queue: this.queue }, 'remote control ready');
  }

  async close(): Promise<void> {
    this.unsubscribe?.();
    await this.channel.close();
    await this.publisher.close().catch(() => undefined);
  }

  /** The node queue, bound to the fanout exchange, declared on a channel of its own (a refused declare closes it). */
  private async declareQueue(): Promise<void> {
    const { transport, hostname } = this.options;
    const consumers = await transport.withTemporaryChannel(async (ch) => {
      await ch.assertExchange(PIDBOX_EXCHANGE, 'fanout', PIDBOX_EXCHANGE_OPTIONS);
      const declared = await ch.assertQueue(this.queue, PIDBOX_QUEUE_OPTIONS);
      await ch.bindQueue(this.queue, PIDBOX_EXCHANGE, '', {});
      return declared.consumerCount;
    });
    if (consumers > 0) {
      // kombu's W_PIDBOX_IN_USE.
      this.logger.warn({ hostname, consumers }, `a node named ${hostname} is already using this mailbox: give each worker a node name of its own (-n)`);
    }
  }

  private onMessage(message: DeliveredMessage): void {
    const { clock } = this.options;
    const decoded = decodeRequest(message);
    if (!decoded.ok) {
      this.logger.warn({ reason: decoded.reason }, 'malformed control message ignored');
      return;
    }
    const request = decoded.value;
    clock.adjust(message.properties.headers?.clock ?? 0);
    if (!isForNode(request, this.options.hostname)) return;
    this.logger.debug({ method: request.method, ticket: request.ticket }, 'control command');
    void this.dispatch(request);
  }

  private async dispatch(request: ControlRequest): Promise<void> {
    let result: CommandResult;
    try {
      result = await this.options.handle(request);
    } catch (err) {
      this.logger.warn({ method: request.method, err: err instanceof Error ? err.message : String(err) }, 'control command failed');
      result = { reply: { error: err instanceof Error ? err.message : String(err) } };
    }
    if (request.reply_to && request.ticket) await this.reply(request.reply_to.exchange, request.reply_to.routing_key, request.ticket, result.reply);
    result.afterReply?.();
  }

  private async reply(exchange: string, routingKey: string, ticket: string, reply: unknown): Promise<void> {
    const { hostname, clock } = this.options;
    try {
      if (!(await this.declareReplyExchange(exchange))) return;
      let message: { body: Buffer; properties: Record<string, unknown> };
      try {
        message = encodeReply(hostname, reply, ticket, clock.forward());
      } catch (err) {
        message = encodeReply(hostname, { error: `the reply cannot be sent as JSON: ${(err as Error).message}` }, ticket, clock.forward());
      }
      await this.publisher.publish({ exchange, routingKey, body: message.body, properties: message.properties, mandatory: false });
    } catch (err) {
      this.logger.warn({ exchange, routingKey, err: (err as Error).message }, 'could not send a control reply');
    }
  }

  /** kombu declares the reply exchange (direct, non-durable) before replying; one that cannot be declared gets no reply. */
  private declareReplyExchange(exchange: string): Promise<boolean> {
    let declared = this.declared.get(exchange);
    if (!declared) {
      // Bounded: requests naming ever new exchanges must not grow it without end.
      if (this.declared.size >= 100) this.declared.clear();
      declared = this.options.transport
        .withTemporaryChannel((ch) => ch.assertExchange(exchange, 'direct', PIDBOX_EXCHANGE_OPTIONS))
        .then(
          () => true,
          (err: unknown) => {
            this.logger.warn({ exchange, err: (err as Error).message }, 'malformed control message: its reply exchange cannot be declared; no reply sent');
            this.declared.delete(exchange);
            return false;
          },
        );
      this.declared.set(exchange, declared);
    }
    return declared;
  }
}
