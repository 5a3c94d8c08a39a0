import type { ChannelWrapper } from 'amqp-connection-manager';
import type { ConfirmChannel, Message } from 'amqplib';
import { BrokerUnavailableError, PublishRejectedError, UnroutableError } from '../errors';
import type { Logger } from '../logging/logger';
import type { AmqpProperties } from '../protocol';
import type { BrokerConnection } from './broker-connection';
import type { ReturnedMessage, TransportConfirmChannel } from './transport';

/** AMQP basic properties of a publish: the protocol layer's, camelCase as amqplib names them. */
export type PublishProperties = AmqpProperties;

export interface PublisherOptions {
  name: string;
  logger: Logger;
  /** A publish not confirmed within this time rejects with BrokerUnavailableError. @defaultValue 10000 */
  publishTimeoutMs?: number;
  /** Publishes waiting for the broker at once; one more rejects at once. @defaultValue 10000 */
  maxPending?: number;
  /**
   * Whether a publish may outlive the connection it started on. `true` (the default): while
   * disconnected, publishes wait (at most `publishTimeoutMs`) and go out after the reconnect.
   * `false`: publishes use a channel of the current connection, and when it goes, every
   * publish not yet confirmed rejects at once and is never sent again (beat: its lock went with
   * the connection, so a buffered fire must not go out after the reconnect).
   * @defaultValue true
   */
  survivesReconnect?: boolean;
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
  /** With `survivesReconnect: false`: the confirm channel of the current connection. */
  private bound: Promise<TransportConfirmChannel> | undefined;
  private started = false;
  /** Why the broker last closed a publish channel by itself (a 404 for a deleted exchange, say). */
  private closeReason: string | undefined;
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
    if (this.started) return;
    this.started = true;
    if (this.options.survivesReconnect === false) return;
    this.channel = this.openWrapper();
    await this.channel.waitForConnect();
  }

  private openWrapper(): ChannelWrapper {
    const wrapper = this.connection.createChannel({
      name: this.options.name,
      confirm: true,
      publishTimeoutMs: this.options.publishTimeoutMs ?? 10_000,
      setup: async (channel: ConfirmChannel) => {
        this.closeReason = undefined;
        channel.on('return', (message: Message) => this.recordReturn(message));
        channel.on('error', (err: Error) => {
          this.closeReason = err.message;
        });
        // The connection's own close comes right after its channels' (same tick).
        channel.on('close', () => setImmediate(() => this.replaceIfStranded(wrapper)));
      },
    });
    return wrapper;
  }

  /**
   * amqp-connection-manager opens a channel again only after a reconnect. A channel the broker
   * closed by itself while the connection stays (a publish to a deleted exchange: 404) would
   * stay closed, and every later publish would wait out its timeout: open a new one instead.
   * What waited on the old one rejects (BrokerUnavailableError); none of it was confirmed.
   */
  private replaceIfStranded(wrapper: ChannelWrapper): void {
    if (!this.started || this.channel !== wrapper || !this.connection.isConnected()) return;
    this.logger.warn({ reason: this.closeReason }, 'the broker closed the publish channel; opening a new one');
    this.channel = this.openWrapper();
    void wrapper.close().catch(() => undefined);
  }

  private recordReturn(message: ReturnedMessage): void {
    const key = returnKey(message.fields.exchange, message.fields.routingKey, message.properties.correlationId);
    const entry = this.returned.get(key);
    const { fields } = message;
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

  /**
   * Resolves once the broker confirmed the message; rejects when it was returned, nacked or
   * timed out. While disconnected the publish waits for the reconnect, at most
   * `publishTimeoutMs` in all, among at most `maxPending` others; then it rejects with
   * BrokerUnavailableError, naming the broker and how long it waited. A rejected publish may
   * still have reached the broker (the connection went before its confirm came).
   */
  async publish(request: PublishRequest): Promise<void> {
    if (!this.started) throw new BrokerUnavailableError('the publisher is not started');
    const broker = this.connection.broker;
    const maxPending = this.options.maxPending ?? 10_000;
    if (this.pending >= maxPending) {
      throw new BrokerUnavailableError(
        `${this.pending} publishes are already waiting for the broker at ${broker} (limit ${maxPending}); ` +
          (this.connection.isConnected() ? 'it is slow to confirm' : 'it is not connected'),
      );
    }
    const mandatory = request.mandatory ?? true;
    const { exchange, routingKey } = request;
    const target = `exchange "${exchange || '(default)'}"`;
    const began = Date.now();
    this.pending += 1;
    try {
      if (this.channel) {
        await this.channel.publish(exchange, routingKey, request.body, { ...request.properties, mandatory });
      } else {
        await this.publishBound(request, mandatory);
      }
    } catch (err) {
      if (err instanceof BrokerUnavailableError) throw err;
      const message = err instanceof Error ? err.message : String(err);
      const waited = Date.now() - began;
      if (message === 'timeout') {
        throw new BrokerUnavailableError(
          `the broker at ${broker} did not confirm the message to ${target} within ${this.options.publishTimeoutMs ?? 10_000} ms ` +
            `(waited ${waited} ms, ${this.connection.isConnected() ? 'connected' : 'disconnected'})`,
          err,
        );
      }
      if (message === 'channel closed' || message === 'Channel closed') {
        const reason = this.closeReason && this.connection.isConnected() ? `: ${this.closeReason}` : '';
        throw new BrokerUnavailableError(
          `the channel to the broker at ${broker} closed before it confirmed the message to ${target} (waited ${waited} ms); ` +
            `it may or may not have it${reason}`,
          err,
        );
      }
      throw new PublishRejectedError(`the broker refused the message to ${target}: ${message}`, err);
    } finally {
      this.pending -= 1;
    }
    if (mandatory) {
      const reply = this.takeReturn(returnKey(exchange, routingKey, request.properties.correlationId));
      if (reply !== undefined) throw new UnroutableError(exchange, routingKey, reply);
    }
  }

  /** Publishes on the current connection's confirm channel; never waits for a reconnect. */
  private async publishBound(request: PublishRequest, mandatory: boolean): Promise<void> {
    const channel = await this.boundChannel();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timeout')), this.options.publishTimeoutMs ?? 10_000);
      try {
        channel.publish(request.exchange, request.routingKey, request.body, { ...request.properties, mandatory }, (err) => {
          clearTimeout(timer);
          if (err) reject(err);
          else resolve();
        });
      } catch (err) {
        // amqplib throws on a channel that closed meanwhile.
        clearTimeout(timer);
        reject(new Error('channel closed', { cause: err }));
      }
    });
  }

  private boundChannel(): Promise<TransportConfirmChannel> {
    this.bound ??= this.connection.openConfirmChannel().then(
      (channel) => {
        channel.on('return', (message: ReturnedMessage) => this.recordReturn(message));
        channel.on('close', () => {
          this.bound = undefined;
        });
        return channel;
      },
      (err: unknown) => {
        this.bound = undefined;
        throw err;
      },
    );
    return this.bound;
  }

  async close(): Promise<void> {
    this.started = false;
    const channel = this.channel;
    this.channel = undefined;
    if (channel) await channel.close();
    const bound = this.bound;
    this.bound = undefined;
    if (bound) await (await bound.catch(() => undefined))?.close().catch(() => undefined);
  }
}

function returnKey(exchange: string, routingKey: string, correlationId: unknown): string {
  return `${exchange}\u0000${routingKey}\u0000${typeof correlationId === 'string' ? correlationId : ''}`;
}
