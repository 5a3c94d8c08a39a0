import { EventEmitter } from 'node:events';
import type {
  ConsumeOptions,
  DeliveredMessage,
  PublishOptions,
  QueueDeclareOptions,
  TransportConfirmChannel,
} from '../transport';
import { AmqpError, channelEnded, closedByServer, IllegalOperationError, operationFailed, type BrokerRefusal } from './amqp-errors';
import { publishedProperties } from './field-values';
import type { ExchangeDeclaration, MemoryBroker } from './memory-broker';
import { ServerChannel, type ChannelPeer } from './server-channel';
import type { ServerConnection } from './server-connection';

interface WaitingCall {
  readonly method: string;
  resolve(result: unknown): void;
  reject(error: Error): void;
  /** Runs as the reply is read, before any frame after it (amqplib registers a consumer so). */
  onReply?(result: unknown): void;
}

type ConfirmCallback = (error: Error | null) => void;

/**
 * The client's side of a channel to the memory broker, behaving as an amqplib channel does:
 * calls are answered in order, asynchronously; `ack`, `nack` and `publish` throw on a closed
 * channel; a refusal by the broker rejects the call that caused it ("Operation failed: ..."),
 * emits `error`, then `close`, and every call and confirm still waiting fails.
 */
export class MemoryChannel extends EventEmitter implements TransportConfirmChannel {
  private state: 'open' | 'closing' | 'closed' = 'open';
  private readonly waiting: WaitingCall[] = [];
  private readonly unconfirmed = new Map<number, ConfirmCallback | undefined>();
  private publishSeq = 0;
  private readonly consumers = new Map<string, (message: DeliveredMessage | null) => void>();
  private readonly server: ServerChannel;

  constructor(
    private readonly broker: MemoryBroker,
    private readonly connection: ServerConnection,
    confirm: boolean,
  ) {
    super();
    const peer: ChannelPeer = {
      reply: (result) => this.onReply(result),
      closedByBroker: (refusal, method) => this.onClosedByBroker(refusal, method),
      deliver: (tag, message) => {
        if (this.state !== 'closed') this.consumers.get(tag)?.(message);
      },
      returned: (message) => {
        if (this.state !== 'closed') this.emit('return', message);
      },
      confirmed: (seq, ok) => this.onConfirm(seq, ok),
      cancelled: (tag) => {
        const consumer = this.consumers.get(tag);
        this.consumers.delete(tag);
        consumer?.(null);
      },
    };
    this.server = new ServerChannel(broker, connection, peer);
    this.server.confirm = confirm;
    connection.channels.add(this.server);
  }

  /** Resolves once the broker opened the channel (one round trip, as channel.open). */
  opened(): Promise<void> {
    return this.call('ChannelOpen', () => ({})).then(() => undefined);
  }

  // ---- Frames from the broker ---------------------------------------------------------

  private onReply(result: unknown): void {
    const call = this.waiting.shift();
    if (!call) return;
    call.onReply?.(result);
    call.resolve(result);
  }

  private onClosedByBroker(refusal: BrokerRefusal, method: string): void {
    if (this.state === 'closed') return;
    const call = this.waiting.shift();
    call?.reject(call.method === method ? operationFailed(method, refusal) : closedByServer(refusal));
    this.emit('error', closedByServer(refusal));
    this.toClosed();
  }

  private onConfirm(seq: number, ok: boolean): void {
    if (!this.unconfirmed.has(seq)) return;
    const callback = this.unconfirmed.get(seq);
    this.unconfirmed.delete(seq);
    callback?.(ok ? null : new Error('message nacked'));
  }

  /**
   * The connection went: the channel closes without an error event of its own, as amqplib's
   * do. Calls still waiting reject with `cause` when the broker closed the connection for an
   * error (540 NOT_IMPLEMENTED, say), else as amqplib's: "Channel ended, no reply will be forthcoming".
   */
  connectionLost(cause?: AmqpError): void {
    if (this.state !== 'closed') this.toClosed(cause);
  }

  private toClosed(cause?: Error): void {
    this.state = 'closed';
    for (const call of this.waiting.splice(0)) call.reject(cause ?? channelEnded());
    const unconfirmed = [...this.unconfirmed.values()];
    this.unconfirmed.clear();
    for (const callback of unconfirmed) callback?.(new Error('channel closed'));
    this.consumers.clear();
    this.emit('close');
  }

  // ---- Calls ----------------------------------------------------------------------------

  private refuseIfNotOpen(): void {
    if (this.state === 'closed') throw new IllegalOperationError('Channel closed');
    if (this.state === 'closing') throw new IllegalOperationError('Channel closing');
  }

  private call<T>(method: string, op: () => T, onReply?: (result: T) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.refuseIfNotOpen();
      this.waiting.push({ method, resolve: resolve as (result: unknown) => void, reject, onReply: onReply as ((result: unknown) => void) | undefined });
      this.connection.toBroker(() => this.server.receive(method, op, true));
    });
  }

  /** A frame that gets no reply (ack, nack, publish); throws at once on a channel that is not open. */
  private tell(method: string, op: () => void): void {
    this.refuseIfNotOpen();
    this.connection.toBroker(() => this.server.receive(method, op, false));
  }

  assertQueue(queue: string, options: QueueDeclareOptions = {}): Promise<{ queue: string; messageCount: number; consumerCount: number }> {
    // amqplib's defaults: durable, not exclusive, not auto-delete.
    const declared = { durable: options.durable ?? true, autoDelete: !!options.autoDelete, exclusive: !!options.exclusive, arguments: options.arguments };
    return this.call('QueueDeclare', () => this.broker.declareQueue(this.connection, queue, declared, false));
  }

  checkQueue(queue: string): Promise<{ queue: string; messageCount: number; consumerCount: number }> {
    return this.call('QueueDeclare', () => this.broker.declareQueue(this.connection, queue, {}, true));
  }

  deleteQueue(queue: string, options: { ifUnused?: boolean; ifEmpty?: boolean } = {}): Promise<{ messageCount: number }> {
    return this.call('QueueDelete', () => this.broker.removeQueue(this.connection, queue, options));
  }

  purgeQueue(queue: string): Promise<{ messageCount: number }> {
    return this.call('QueuePurge', () => ({ messageCount: this.broker.usableQueue(this.connection, queue).purge() }));
  }

  assertExchange(exchange: string, type: string, options: ExchangeDeclaration = {}): Promise<{ exchange: string }> {
    return this.call('ExchangeDeclare', () => this.broker.declareExchange(exchange, type, options, false));
  }

  checkExchange(exchange: string): Promise<{ exchange: string }> {
    return this.call('ExchangeDeclare', () => this.broker.declareExchange(exchange, '', {}, true));
  }

  deleteExchange(exchange: string, options: { ifUnused?: boolean } = {}): Promise<Record<string, never>> {
    return this.call('ExchangeDelete', () => this.broker.removeExchange(exchange, options));
  }

  bindQueue(queue: string, source: string, pattern: string, args: Readonly<Record<string, unknown>> = {}): Promise<Record<string, never>> {
    return this.call('QueueBind', () => this.broker.bindQueue(this.connection, queue, source, pattern, args));
  }

  bindExchange(destination: string, source: string, pattern: string, args: Readonly<Record<string, unknown>> = {}): Promise<Record<string, never>> {
    return this.call('ExchangeBind', () => this.broker.bindExchange(destination, source, pattern, args));
  }

  prefetch(count: number, global = false): Promise<Record<string, never>> {
    return this.call('BasicQos', () => this.server.prefetch(count, global));
  }

  consume(queue: string, onMessage: (message: DeliveredMessage | null) => void, options: ConsumeOptions = {}): Promise<{ consumerTag: string }> {
    const settings = { noAck: !!options.noAck, exclusive: !!options.exclusive };
    return this.call('BasicConsume', () => this.server.consume(queue, settings), ({ consumerTag }) => this.consumers.set(consumerTag, onMessage));
  }

  cancel(consumerTag: string): Promise<{ consumerTag: string }> {
    return this.call('BasicCancel', () => this.server.cancel(consumerTag), () => this.consumers.delete(consumerTag));
  }

  ack(message: DeliveredMessage, allUpTo = false): void {
    const tag = message.fields.deliveryTag;
    this.tell('BasicAck', () => this.server.ack(tag, allUpTo));
  }

  nack(message: DeliveredMessage, allUpTo = false, requeue = true): void {
    const tag = message.fields.deliveryTag;
    this.tell('BasicNack', () => this.server.nack(tag, allUpTo, requeue));
  }

  /**
   * Publishes a copy of `content` and `options` (what the caller does with its Buffer after
   * this returns changes nothing). On a confirm channel `callback` runs with `null` once the
   * broker confirmed it, with an error when it nacked it or the channel closed first.
   * @throws IllegalOperationError on a closed channel; TypeError for a header amqplib cannot encode
   */
  publish(exchange: string, routingKey: string, content: Buffer, options: PublishOptions = {}, callback?: ConfirmCallback): boolean {
    this.refuseIfNotOpen();
    if (!Buffer.isBuffer(content)) throw new TypeError('content is not a buffer');
    const body = Buffer.from(content);
    const properties = publishedProperties(options);
    const mandatory = !!options.mandatory;
    if (this.server.confirm) this.unconfirmed.set(++this.publishSeq, callback);
    this.tell('BasicPublish', () => this.server.publish(exchange, routingKey, body, properties, mandatory));
    return true;
  }

  /** Closes the channel: calls sent before are answered first; then `close` is emitted. */
  close(): Promise<void> {
    if (this.state !== 'open') return Promise.reject(new IllegalOperationError(this.state === 'closed' ? 'Channel closed' : 'Channel closing'));
    this.state = 'closing';
    return new Promise((resolve) => {
      this.connection.toBroker(() => {
        this.server.close();
        this.connection.toClient(() => {
          if (this.state !== 'closed') this.toClosed();
          resolve();
        });
      });
      this.once('close', () => resolve());
    });
  }
}
