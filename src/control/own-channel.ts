import type { Logger } from '../logging/logger';
import type { Transport, TransportChannel } from '../transport';

export interface OwnChannelOptions {
  transport: Transport;
  logger: Logger;
  /** What the channel is for, in log lines: `the event channel`. */
  what: string;
  /**
   * Declares and consumes what the channel needs, each time one is opened; a throw closes that
   * channel and is logged (the next connect tries again).
   */
  setUp: (channel: TransportChannel) => Promise<void>;
  /** Called with each channel once it is set up (the current one from then on). */
  onOpen?: (channel: TransportChannel) => void;
}

/** How long to wait before opening a channel again that the broker closed while the connection stayed. */
const REOPEN_PAUSE_MS = 1000;

/**
 * A channel of its own for a part of the control plane (events, a pidbox node, an event
 * receiver, a reply queue): opened on `start()`, again after every reconnect, and again after a
 * pause when the broker closes it while the connection stays (someone deleted its queue or
 * exchange); never shared with task deliveries or results, so nothing it does or suffers reaches
 * them. `close()` closes it for good.
 */
export class OwnChannel {
  private channel: TransportChannel | undefined;
  private opening: Promise<void> | undefined;
  private unsubscribe: (() => void) | undefined;
  private closed = false;

  constructor(private readonly options: OwnChannelOptions) {}

  /** The channel now; undefined while there is none (disconnected, being opened). */
  get current(): TransportChannel | undefined {
    return this.channel;
  }

  /** Opens it now; the first failure rejects (later ones are logged and retried on the next connect). */
  async start(): Promise<void> {
    this.unsubscribe = this.options.transport.onConnect(() => void this.open().catch((err: unknown) => this.failed(err)));
    await this.open();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe?.();
    const channel = this.channel;
    this.channel = undefined;
    await channel?.close().catch(() => undefined);
  }

  private open(): Promise<void> {
    this.opening ??= (async () => {
      if (this.closed) return;
      const channel = await this.options.transport.openChannel();
      channel.on('error', (err: Error) => this.options.logger.warn({ err: err.message }, `the broker closed ${this.options.what}`));
      channel.on('close', () => this.onClosed(channel));
      try {
        await this.options.setUp(channel);
      } catch (err) {
        await channel.close().catch(() => undefined);
        throw err;
      }
      if (this.closed) {
        await channel.close().catch(() => undefined);
        return;
      }
      const previous = this.channel;
      this.channel = channel;
      this.options.onOpen?.(channel);
      if (previous && previous !== channel) await previous.close().catch(() => undefined);
    })().finally(() => {
      this.opening = undefined;
    });
    return this.opening;
  }

  private onClosed(channel: TransportChannel): void {
    if (channel !== this.channel) return;
    this.channel = undefined;
    if (this.closed) return;
    setTimeout(() => {
      if (this.closed || this.channel || !this.options.transport.isConnected()) return;
      void this.open().catch((err: unknown) => this.failed(err));
    }, REOPEN_PAUSE_MS).unref();
  }

  private failed(err: unknown): void {
    this.options.logger.warn({ err: err instanceof Error ? err.message : String(err) }, `could not open ${this.options.what} again; the next connect tries again`);
  }
}
