import type { ChannelWrapper } from 'amqp-connection-manager';
import type { ConfirmChannel, Message } from 'amqplib';
import { BrokerUnavailableError, PublishRejectedError, UnroutableError } from '../errors';
import type { Logger } from '../logging/logger';
import type { AmqpProperties } from '../protocol';
import type { BrokerConnection } from './broker-connection';

/** AMQP basic properties of a publish: the protocol layer's, camelCase as amqplib names them. */
export type PublishProperties = AmqpProperties;

export interface PublisherOptions {
  name: string;
  logger: Logger;
  /** A publish not confirmed within this time rejects with BrokerUnavailableError. @defaultValue 10000 */
  publishTimeoutMs?: number;
  /** Publishes waiting for the broker at once; one more rejects at once. @defaultValue 10000 */
  maxPending?: number;
}

export interface PublishRequest {
  exchange: string;
  routingKey: string;
  body: Buffer;
  properties: PublishProperties;
  /** Ask the broker to return the message when no queue is bound for it. @defaultValue true */
  mandatory?: boolean;
}

/**
 * Publishes on a confirm channel. Confirms are pipelined: every publish goes out at once and
 * resolves when its own ack arrives, so throughput never waits on one confirm at a time.
 *
 * Unroutable messages: the broker sends basic.return before the basic.ack of the same message
 * on the same channel, and amqplib emits them in that order, so by the time a publish's
 * confirm resolves its return (if any) has been recorded.
 */
export class Publisher {
  private channel: ChannelWrapper | undefined;
  private pending = 0;
  /** Returned messages not yet matched to their confirm, by return key, with a count. */
  private readonly returned = new Map<string, { count: number; reply: string }>();
  private readonly logger: Logger;

  constructor(
    private readonly connection: BrokerConnection,
    private readonly options: PublisherOptions,
  ) {
    this.logger = options.logger.child({ component: 'publisher' });
  }

  async start(): Promise<void> {
    if (this.channel) return;
    this.channel = this.connection.createChannel({
      name: this.options.name,
      confirm: true,
      publishTimeoutMs: this.options.publishTimeoutMs ?? 10_000,
      setup: async (channel: ConfirmChannel) => {
        channel.on('return', (message: Message) => this.recordReturn(message));
      },
    });
    await this.channel.waitForConnect();
  }

  private recordReturn(message: Message): void {
    const key = returnKey(message.fields.exchange, message.fields.routingKey, message.properties.correlationId);
    const entry = this.returned.get(key);
    // basic.return carries reply-code and reply-text; amqplib's types leave them out.
    const fields = message.fields as typeof message.fields & { replyCode?: number; replyText?: string };
    const reply = `${fields.replyCode ?? 312} ${fields.replyText ?? 'NO_ROUTE'}`;
    this.returned.set(key, { count: (entry?.count ?? 0) + 1, reply });
  }

  private takeReturn(key: string): string | undefined {
    const entry = this.returned.get(key);
    if (!entry) return undefined;
    if (entry.count <= 1) this.returned.delete(key);
    else entry.count -= 1;
    return entry.reply;
  }

  /** Resolves once the broker confirmed the message; rejects when it was returned, nacked or timed out. */
  async publish(request: PublishRequest): Promise<void> {
    const channel = this.channel;
    if (!channel) throw new BrokerUnavailableError('the publisher is not started');
    const maxPending = this.options.maxPending ?? 10_000;
    if (this.pending >= maxPending) {
      throw new BrokerUnavailableError(`${this.pending} publishes are already waiting for the broker (limit ${maxPending})`);
    }
    const mandatory = request.mandatory ?? true;
    const { exchange, routingKey } = request;
    this.pending += 1;
    try {
      await channel.publish(exchange, routingKey, request.body, {
        ...request.properties,
        mandatory,
      });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (message === 'timeout') {
        throw new BrokerUnavailableError(
          `the broker did not confirm the message to exchange "${exchange || '(default)'}" within ${this.options.publishTimeoutMs ?? 10_000} ms`,
          err,
        );
      }
      throw new PublishRejectedError(`the broker refused the message to exchange "${exchange || '(default)'}": ${message}`, err);
    } finally {
      this.pending -= 1;
    }
    if (mandatory) {
      const reply = this.takeReturn(returnKey(exchange, routingKey, request.properties.correlationId));
      if (reply !== undefined) throw new UnroutableError(exchange, routingKey, reply);
    }
  }

  async close(): Promise<void> {
    const channel = this.channel;
    this.channel = undefined;
    if (channel) await channel.close();
  }
}

function returnKey(exchange: string, routingKey: string, correlationId: unknown): string {
  return `${exchange}\u0000${routingKey}\u0000${typeof correlationId === 'string' ? correlationId : ''}`;
}
