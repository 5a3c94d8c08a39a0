import { randomBytes } from 'node:crypto';
import type { DeliveredMessage, ReturnedMessage } from '../transport';
import { BrokerRefusal, connectionClosed } from './amqp-errors';
import { deliveredProperties, type StoredProperties } from './field-values';
import type { MemoryBroker } from './memory-broker';
import type { ConsumerChannel, MemoryQueue, QueueConsumer, QueuedMessage } from './memory-queue';
import type { ServerConnection } from './server-connection';

/** What the broker tells the client side of a channel; each call arrives through the connection's pipe. */
export interface ChannelPeer {
  /** The reply to the oldest call still waiting. */
  reply(result: unknown): void;
  /** The broker closed the channel because of `method` (a call, a publish, an ack). */
  closedByBroker(refusal: BrokerRefusal, method: string): void;
  deliver(consumerTag: string, message: DeliveredMessage): void;
  returned(message: ReturnedMessage): void;
  /** The confirm of the `seq`th publish on the channel: ack (true) or nack. */
  confirmed(seq: number, ok: boolean): void;
  /** The broker cancelled the consumer (its queue was deleted). */
  cancelled(consumerTag: string): void;
}

interface Unacked {
  readonly message: QueuedMessage;
  readonly queue: MemoryQueue;
  readonly consumer: QueueConsumer;
}

/**
 * The broker's side of one channel: its consumers, its deliveries not yet settled, its
 * prefetch limits, its confirm counter. Client calls arrive as frames in order; a frame the
 * broker refuses closes the channel (or, for RabbitMQ's hard errors, the connection), and
 * what the channel held unsettled goes back to its queues, flagged redelivered.
 */
export class ServerChannel implements ConsumerChannel {
  open = true;
  confirm = false;
  private publishSeq = 0;
  private nextDeliveryTag = 1;
  private readonly unacked = new Map<number, Unacked>();
  readonly consumers = new Map<string, QueueConsumer>();
  /** basic.qos without `global`: the limit each consumer made from now on gets. */
  private consumerPrefetch = 0;
  /** basic.qos with `global`: one limit shared by every consumer of the channel. */
  private globalPrefetch = 0;

  constructor(
    private readonly broker: MemoryBroker,
    readonly connection: ServerConnection,
    private readonly peer: ChannelPeer,
  ) {}

  private send(frame: (peer: ChannelPeer) => void): void {
    this.connection.toClient(() => frame(this.peer));
  }

  /**
   * Handles one frame from the client: runs `op` and, for a call, replies with what it
   * returned. A refusal closes the channel or the connection; frames for a channel or
   * connection that is closed are dropped, as the broker drops them.
   */
  receive(method: string, op: () => unknown, replies: boolean): void {
    if (!this.open || !this.connection.open) return;
    let result: unknown;
    try {
      result = op();
    } catch (error) {
      if (!(error instanceof BrokerRefusal)) throw error;
      const scope = error.closesConnection ? 'connection' : 'channel';
      this.broker.notify(() => ({ type: 'refused', scope, connection: this.connection.id, code: error.code, text: error.text }));
      if (error.closesConnection) this.broker.closeConnection(this.connection, connectionClosed(error));
      else this.closeByBroker(error, method);
      return;
    }
    if (replies) this.send((peer) => peer.reply(result));
  }

  private closeByBroker(refusal: BrokerRefusal, method: string): void {
    this.teardown();
    this.send((peer) => peer.closedByBroker(refusal, method));
  }

  /** The client closed the channel. */
  close(): void {
    this.teardown();
  }

  /**
   * The channel is gone: its consumers are removed first (so nothing is delivered to them
   * again), then every delivery it held unsettled goes back to its queue.
   */
  teardown(): void {
    if (!this.open) return;
    this.open = false;
    this.connection.channels.delete(this);
    for (const consumer of this.consumers.values()) consumer.queue.removeConsumer(consumer);
    this.consumers.clear();
    const held = [...this.unacked.values()];
    this.unacked.clear();
    for (const { message, queue } of held) this.requeue(queue, message, 'channel closed');
  }

  /** How many deliveries from `queue` this channel holds unsettled. */
  heldFrom(queue: MemoryQueue): number {
    let count = 0;
    for (const entry of this.unacked.values()) if (entry.queue === queue) count += 1;
    return count;
  }

  prefetch(count: number, global: boolean): Record<string, never> {
    if (global) this.globalPrefetch = count;
    else this.consumerPrefetch = count;
    for (const consumer of this.consumers.values()) consumer.queue.scheduleDispatch();
    return {};
  }

  consume(queueName: string, options: { noAck: boolean; exclusive: boolean }): { consumerTag: string } {
    const queue = this.broker.usableQueue(this.connection, queueName);
    if (queue.type === 'quorum' && this.globalPrefetch > 0) {
      throw new BrokerRefusal(540, `queue '${queueName}' in vhost '/' does not support global qos`);
    }
    if (queue.consumers.some((c) => c.exclusive) || (options.exclusive && queue.consumers.length > 0)) {
      throw new BrokerRefusal(403, `queue '${queueName}' in vhost '/' in exclusive use`);
    }
    const consumer: QueueConsumer = {
      tag: `amq.ctag-${randomBytes(16).toString('base64url').slice(0, 22)}`,
      channel: this,
      queue,
      noAck: options.noAck,
      exclusive: options.exclusive,
      prefetch: this.consumerPrefetch,
      unacked: 0,
    };
    this.consumers.set(consumer.tag, consumer);
    queue.addConsumer(consumer);
    return { consumerTag: consumer.tag };
  }

  cancel(consumerTag: string): { consumerTag: string } {
    const consumer = this.consumers.get(consumerTag);
    if (consumer) {
      this.consumers.delete(consumerTag);
      consumer.queue.removeConsumer(consumer);
    }
    return { consumerTag };
  }

  /** The broker cancels a consumer whose queue was deleted, and tells the client. */
  cancelledByBroker(consumer: QueueConsumer): void {
    if (!this.consumers.delete(consumer.tag)) return;
    this.send((peer) => peer.cancelled(consumer.tag));
  }

  canDeliver(consumer: QueueConsumer): boolean {
    if (!this.open) return false;
    if (consumer.noAck) return true;
    if (consumer.prefetch > 0 && consumer.unacked >= consumer.prefetch) return false;
    return this.globalPrefetch === 0 || this.unacked.size < this.globalPrefetch;
  }

  deliver(consumer: QueueConsumer, message: QueuedMessage): void {
    const deliveryTag = this.nextDeliveryTag++;
    if (!consumer.noAck) {
      this.unacked.set(deliveryTag, { message, queue: consumer.queue, consumer });
      consumer.unacked += 1;
    }
    const properties = deliveredProperties(message.properties);
    Object.assign(properties.headers!, consumer.queue.deliveryHeaders(message));
    const delivered: DeliveredMessage = {
      content: Buffer.from(message.content),
      fields: {
        consumerTag: consumer.tag,
        deliveryTag,
        redelivered: message.redelivered,
        exchange: message.exchange,
        routingKey: message.routingKey,
      },
      properties,
    };
    this.send((peer) => peer.deliver(consumer.tag, delivered));
  }

  /**
   * The deliveries an ack or nack of `deliveryTag` settles: that one, or with `allUpTo` every
   * one up to it (all of them for tag 0). RabbitMQ refuses a tag the channel does not hold.
   */
  private settled(deliveryTag: number, allUpTo: boolean): Unacked[] {
    if (allUpTo && deliveryTag === 0) return [...this.unacked.keys()].map((tag) => this.take(tag));
    if (!this.unacked.has(deliveryTag)) throw new BrokerRefusal(406, `unknown delivery tag ${deliveryTag}`);
    if (!allUpTo) return [this.take(deliveryTag)];
    return [...this.unacked.keys()].filter((tag) => tag <= deliveryTag).map((tag) => this.take(tag));
  }

  private take(tag: number): Unacked {
    const entry = this.unacked.get(tag)!;
    this.unacked.delete(tag);
    entry.consumer.unacked -= 1;
    return entry;
  }

  private requeue(queue: MemoryQueue, message: QueuedMessage, cause: 'nack' | 'channel closed'): void {
    this.broker.notify(() => ({ type: 'requeued', queue: queue.name, cause, message: this.broker.snapshot(message) }));
    queue.requeue(message);
  }

  ack(deliveryTag: number, allUpTo: boolean): void {
    const settled = this.settled(deliveryTag, allUpTo);
    for (const { message, queue } of settled) this.broker.notify(() => ({ type: 'acked', queue: queue.name, message: this.broker.snapshot(message) }));
    this.afterSettle(settled);
  }

  nack(deliveryTag: number, allUpTo: boolean, requeue: boolean): void {
    const settled = this.settled(deliveryTag, allUpTo);
    for (const { message, queue } of settled) {
      if (requeue) {
        this.requeue(queue, message, 'nack');
      } else {
        this.broker.notify(() => ({ type: 'rejected', queue: queue.name, message: this.broker.snapshot(message) }));
        this.broker.deadLetter(queue, message, 'rejected');
      }
    }
    this.afterSettle(settled);
  }

  /** A settled delivery frees prefetch room: on its queue, and on every queue this channel consumes. */
  private afterSettle(settled: readonly Unacked[]): void {
    for (const { queue } of settled) queue.scheduleDispatch();
    for (const consumer of this.consumers.values()) consumer.queue.scheduleDispatch();
  }

  publish(exchange: string, routingKey: string, content: Buffer, properties: StoredProperties, mandatory: boolean): void {
    const seq = this.confirm ? ++this.publishSeq : 0;
    const { routed, rejected } = this.broker.route(exchange, routingKey, content, properties);
    if (!routed && mandatory) {
      const returned: ReturnedMessage = {
        content: Buffer.from(content),
        fields: { exchange, routingKey, replyCode: 312, replyText: 'NO_ROUTE' },
        properties: deliveredProperties(properties),
      };
      this.send((peer) => peer.returned(returned));
    }
    // RabbitMQ sends basic.return before the confirm of the same message.
    if (this.confirm) this.send((peer) => peer.confirmed(seq, !rejected));
  }
}
