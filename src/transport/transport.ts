import type { AmqpProperties } from '../protocol';
import type { TopologyChannel } from '../topology/declare-topology';

/**
 * What the roles (worker, producer, result backend, beat) need from a broker, and nothing
 * more. Two implementations: `BrokerConnection` (RabbitMQ through amqplib, the only code that
 * imports it) and `MemoryTransport` (`memory://`, a test double with the same semantics in
 * one process). The channel shapes are the subset of amqplib's `Channel` and `ConfirmChannel`
 * that warren uses, so an amqplib channel satisfies them as it is.
 */

/** How the broker delivered a message. */
export interface DeliveryFields {
  deliveryTag: number;
  /** The broker delivered this message before (to a consumer that did not settle it). */
  redelivered: boolean;
  exchange: string;
  routingKey: string;
  consumerTag?: string;
}

/** A message as a consumer receives it (amqplib's `ConsumeMessage` fits). */
export interface DeliveredMessage {
  content: Buffer;
  fields: DeliveryFields;
  properties: AmqpProperties;
}

/** A message the broker returned under `mandatory` (basic.return). */
export interface ReturnedMessage {
  content: Buffer;
  fields: { exchange: string; routingKey: string; replyCode?: number; replyText?: string };
  properties: AmqpProperties;
}

/** Options of `publish`: the message's properties, and `mandatory`. */
export interface PublishOptions extends AmqpProperties {
  /** Return the message (basic.return) when no queue is bound for it. */
  mandatory?: boolean;
}

export interface ConsumeOptions {
  noAck?: boolean;
  exclusive?: boolean;
}

export interface QueueDeclareOptions {
  durable?: boolean;
  autoDelete?: boolean;
  exclusive?: boolean;
  arguments?: Readonly<Record<string, unknown>>;
}

/**
 * A channel: declares, consumes, settles, publishes. It dies with its connection and is never
 * reopened by the transport: roles open a new one after `onConnect`, so no delivery of a lost
 * connection is ever acked on a new one.
 *
 * Events: `close` (the channel is gone, for whatever reason), `error` (the broker closed it:
 * the error says why; `close` follows), `return` (a `mandatory` message was unroutable).
 */
export interface TransportChannel extends TopologyChannel {
  assertQueue(
    queue: string,
    options?: QueueDeclareOptions,
  ): Promise<{ queue: string; messageCount: number; consumerCount: number }>;
  checkQueue(queue: string): Promise<{ queue: string; messageCount: number; consumerCount: number }>;
  deleteQueue(queue: string): Promise<unknown>;
  /** Removes the queue's ready messages (not the unacknowledged ones); resolves with how many. */
  purgeQueue(queue: string): Promise<{ messageCount: number }>;
  /** `global` true: the limit is shared by every consumer on the channel; false: per consumer. */
  prefetch(count: number, global?: boolean): Promise<unknown>;
  /** `onMessage(null)`: the broker cancelled the consumer (its queue was deleted, say). */
  consume(
    queue: string,
    onMessage: (message: DeliveredMessage | null) => void,
    options?: ConsumeOptions,
  ): Promise<{ consumerTag: string }>;
  cancel(consumerTag: string): Promise<unknown>;
  /** `allUpTo`: every unacknowledged delivery of the channel up to this one's tag too (`multiple`). */
  ack(message: DeliveredMessage, allUpTo?: boolean): void;
  nack(message: DeliveredMessage, allUpTo?: boolean, requeue?: boolean): void;
  /** False when the channel's buffer is full: wait for `drain` before publishing more. */
  publish(exchange: string, routingKey: string, content: Buffer, options?: PublishOptions): boolean;
  close(): Promise<void>;
  on(event: 'close', listener: () => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'return', listener: (message: ReturnedMessage) => void): unknown;
  on(event: 'drain', listener: () => void): unknown;
  removeListener(event: 'close', listener: () => void): unknown;
  removeListener(event: 'error', listener: (error: Error) => void): unknown;
  removeListener(event: 'return', listener: (message: ReturnedMessage) => void): unknown;
  removeListener(event: 'drain', listener: () => void): unknown;
}

/**
 * A channel in confirm mode: each publish's callback runs once, with `null` when the broker acked
 * the message, with an error when it nacked it or when the channel closed before its confirm.
 * The publisher tells those two apart by the channel's state, not by the error: a channel that
 * closes fails its unconfirmed callbacks and emits `close` in the same turn (in either order),
 * and `publish` throws once the channel is closing or closed (nothing written).
 */
export interface TransportConfirmChannel extends TransportChannel {
  publish(
    exchange: string,
    routingKey: string,
    content: Buffer,
    options?: PublishOptions,
    callback?: (error: Error | null) => void,
  ): boolean;
}

/**
 * The one connection of a process, shared by every channel and call. Nothing connects before
 * `start()`; after a loss the transport reconnects by itself and tells `onConnect` listeners,
 * who open their channels again.
 */
export interface Transport {
  /** The broker's address(es), password masked: for logs and error messages. */
  readonly broker: string;
  /** Connects once; concurrent callers share the one attempt. */
  start(): Promise<void>;
  /** A channel on the connection as it is now. @throws BrokerUnavailableError while disconnected */
  openChannel(): Promise<TransportChannel>;
  /** As `openChannel`, in confirm mode: its unconfirmed publishes fail when the connection goes. */
  openConfirmChannel(): Promise<TransportConfirmChannel>;
  /**
   * Runs `work` on a short-lived channel of its own and closes it: a declare the broker refuses
   * closes its channel, and that must never be a shared one.
   */
  withTemporaryChannel<T>(work: (channel: TransportChannel) => Promise<T>): Promise<T>;
  isConnected(): boolean;
  /**
   * The address of the node connected to now (a URL, password masked), undefined while
   * disconnected: for logs, error messages and status.
   */
  connectedTo(): string | undefined;
  /** Calls `listener` after each (re)connection; returns a function that removes it. */
  onConnect(listener: () => void): () => void;
  /** Closes every channel and the connection, for good. */
  close(): Promise<void>;
}
