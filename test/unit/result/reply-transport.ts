import { EventEmitter } from 'node:events';
import { encodeResultMessage, type EncodeResultMessageInput } from '../../../src/protocol';
import type { DeliveredMessage, Transport, TransportChannel } from '../../../src/transport';

/**
 * Just enough of a transport for the result backend: channels that declare and consume the
 * reply queue, a connection the test can drop and bring back, and results delivered by hand.
 */
export class ReplyTransport implements Transport {
  readonly broker = 'amqp://guest:***@reply-test:5672/';
  connected = true;
  readonly declared: string[] = [];
  private consumer: { channel: EventEmitter; onMessage: (message: DeliveredMessage | null) => void } | undefined;
  private readonly channels = new Set<EventEmitter>();
  private readonly connectListeners = new Set<() => void>();

  async start(): Promise<void> {}

  connectedTo(): string | undefined {
    return this.connected ? this.broker : undefined;
  }

  async openChannel(): Promise<TransportChannel> {
    if (!this.connected) throw new Error('not connected');
    const channel = new EventEmitter();
    this.channels.add(channel);
    const closeChannel = async () => {
      if (!this.channels.delete(channel)) return;
      if (this.consumer?.channel === channel) this.consumer = undefined;
      channel.emit('close');
    };
    return Object.assign(channel, {
      assertQueue: async (queue: string) => {
        this.declared.push(queue);
        return { queue, messageCount: 0, consumerCount: 0 };
      },
      consume: async (_queue: string, onMessage: (message: DeliveredMessage | null) => void) => {
        this.consumer = { channel, onMessage };
        return { consumerTag: 'ctag' };
      },
      close: closeChannel,
    }) as unknown as TransportChannel;
  }

  openConfirmChannel(): never {
    throw new Error('not used');
  }

  withTemporaryChannel(): never {
    throw new Error('not used');
  }

  isConnected(): boolean {
    return this.connected;
  }

  onConnect(listener: () => void): () => void {
    this.connectListeners.add(listener);
    return () => this.connectListeners.delete(listener);
  }

  async close(): Promise<void> {
    this.drop();
  }

  /** The connection goes: every channel closes (and the broker deletes the auto-delete reply queue). */
  drop(): void {
    this.connected = false;
    for (const channel of [...this.channels]) {
      this.channels.delete(channel);
      channel.emit('close');
    }
    this.consumer = undefined;
  }

  reconnect(): void {
    this.connected = true;
    for (const listener of [...this.connectListeners]) listener();
  }

  get consuming(): boolean {
    return this.consumer !== undefined;
  }

  /** A worker's result message reaching the reply queue; false when nobody consumes it (lost). */
  deliver(input: EncodeResultMessageInput): boolean {
    if (!this.consumer) return false;
    const { body, properties } = encodeResultMessage(input);
    this.consumer.onMessage({
      content: body,
      properties,
      fields: { deliveryTag: 1, redelivered: false, exchange: '', routingKey: 'reply' },
    });
    return true;
  }
}
