import type { ConfirmChannel } from 'amqplib';
import type { ChannelOptions } from '../broker-connection';
import type { PublishOptions, Transport, TransportConfirmChannel } from '../transport';

interface Queued {
  readonly exchange: string;
  readonly routingKey: string;
  readonly content: Buffer;
  readonly options: PublishOptions;
  readonly resolve: (sent: boolean) => void;
  readonly reject: (error: Error) => void;
  timer: NodeJS.Timeout | undefined;
  timedOut: boolean;
}

/**
 * The part of amqp-connection-manager's ChannelWrapper that `Publisher` uses, on a
 * `MemoryTransport`: a confirm channel opened again (and set up again) after each reconnect;
 * publishes made while disconnected wait for it, each at most `publishTimeoutMs` (then
 * `Error('timeout')`); a publish whose channel closed before its confirm rejects with the
 * channel's error, as the wrapper's do. It goes once the publisher owns its confirm channel.
 */
export class PublishChannelStandIn {
  private channel: TransportConfirmChannel | undefined;
  private readonly queued: Queued[] = [];
  private readonly connectWaiters: Array<() => void> = [];
  private readonly unsubscribe: () => void;
  private closed = false;
  private opening = false;

  constructor(
    private readonly transport: Transport,
    private readonly options: ChannelOptions,
  ) {
    this.unsubscribe = transport.onConnect(() => void this.open());
    if (transport.isConnected()) void this.open();
  }

  private async open(): Promise<void> {
    if (this.closed || this.channel || this.opening) return;
    this.opening = true;
    try {
      const channel = await this.transport.openConfirmChannel();
      await this.options.setup?.(channel as unknown as ConfirmChannel);
      channel.on('close', () => {
        if (this.channel === channel) this.channel = undefined;
      });
      if (this.closed) {
        await channel.close().catch(() => undefined);
        return;
      }
      this.channel = channel;
    } catch {
      // Disconnected meanwhile: the next reconnect opens it.
      return;
    } finally {
      this.opening = false;
    }
    for (const resolve of this.connectWaiters.splice(0)) resolve();
    this.flush();
  }

  waitForConnect(): Promise<void> {
    if (this.channel) return Promise.resolve();
    return new Promise((resolve) => this.connectWaiters.push(resolve));
  }

  publish(exchange: string, routingKey: string, content: Buffer, options: PublishOptions = {}): Promise<boolean> {
    if (this.closed) return Promise.reject(new Error('Channel closed'));
    return new Promise((resolve, reject) => {
      const message: Queued = { exchange, routingKey, content, options, resolve, reject, timer: undefined, timedOut: false };
      const timeoutMs = this.options.publishTimeoutMs;
      if (timeoutMs) {
        message.timer = setTimeout(() => {
          message.timedOut = true;
          const index = this.queued.indexOf(message);
          if (index >= 0) this.queued.splice(index, 1);
          reject(new Error('timeout'));
        }, timeoutMs);
      }
      this.queued.push(message);
      this.flush();
    });
  }

  private flush(): void {
    while (this.channel && this.queued.length > 0) {
      const message = this.queued.shift()!;
      const settle = (error: Error | null): void => {
        if (message.timedOut) return;
        if (message.timer) clearTimeout(message.timer);
        if (error) message.reject(error);
        else message.resolve(true);
      };
      try {
        this.channel.publish(message.exchange, message.routingKey, message.content, message.options, settle);
      } catch {
        // The channel closed under it: send it on the next one.
        this.channel = undefined;
        this.queued.unshift(message);
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.unsubscribe();
    for (const message of this.queued.splice(0)) {
      if (message.timer) clearTimeout(message.timer);
      message.reject(new Error('Channel closed'));
    }
    const channel = this.channel;
    this.channel = undefined;
    await channel?.close().catch(() => undefined);
  }
}
