import { BrokerUnavailableError, ClosedError, PublishRejectedError, UnroutableError } from '../errors';
import type { Logger } from '../logging/logger';
import { RateLimitedLog } from '../logging/rate-limited-log';
import type { AmqpProperties } from '../protocol';
import type { ReturnedMessage, Transport, TransportConfirmChannel } from './transport';

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
   * `false`: a publish while disconnected rejects at once, and when the connection goes, every
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

/** One publish, from the call until it settles. */
interface Pending {
  readonly request: PublishRequest;
  readonly mandatory: boolean;
  /** `exchange "name"`, for messages. */
  readonly target: string;
  readonly began: number;
  /**
   * `queued`: not written yet; `sent`: written, waiting for its confirm; `refused`: the channel
   * would not write it, and the publisher waits to see whether that channel is closing.
   */
  state: 'queued' | 'sent' | 'refused' | 'settled';
  /** The channel it was written to (or refused by). */
  channel: OpenChannel | undefined;
  timer: NodeJS.Timeout | undefined;
  resolve(): void;
  reject(error: Error): void;
}

/** The publisher's confirm channel and what was sent on it. */
interface OpenChannel {
  readonly channel: TransportConfirmChannel;
  /** Written and not yet confirmed, in order. */
  readonly unconfirmed: Set<Pending>;
  /** The channel emitted `close`. */
  closed: boolean;
  /** publish() returned false: the buffers are full until `drain`. */
  full: boolean;
  /** The broker's reason when it closed this channel by itself (a 404 for a deleted exchange). */
  closeReason: string | undefined;
  /** Publishes the channel refused to write, in order, waiting for REFUSAL_GRACE_MS. */
  readonly refused: Array<{ entry: Pending; error: unknown }>;
  refusalTimer: NodeJS.Timeout | undefined;
}

/** How long a channel that refused a write has to show that it is closing. */
const REFUSAL_GRACE_MS = 500;

/**
 * Publishes with confirms on a confirm channel of its own, opened through the transport and
 * again after every reconnect (`onConnect`), or at once when the broker closes it while the
 * connection stays.
 *
 * - Confirms are pipelined: each publish is written as soon as a channel is there (and its
 *   buffers have room: after publish() returned false, the next wait for `drain`), and resolves
 *   when its own confirm arrives; nothing waits for another's confirm.
 * - Publishes go out in call order. While there is no channel (disconnected, or being opened)
 *   they wait in that order, each at most `publishTimeoutMs` from its call, at most `maxPending`
 *   of them in all (written-and-unconfirmed ones count too).
 * - Unroutable messages: the broker sends basic.return before the basic.ack of the same message
 *   on the same channel, and the channel emits them in that order, so by the time a publish's
 *   confirm resolves its return (if any) has been recorded.
 * - What a failure is comes from what the publisher saw, never from an error's text: a confirm
 *   that fails while its channel stays open is a nack (PublishRejectedError); one whose channel
 *   closed first (the channel tells `close` in the same turn as it fails its confirms) was cut
 *   off (BrokerUnavailableError: the broker may or may not have it); a deadline that passes is
 *   a timeout (BrokerUnavailableError).
 */
export class Publisher {
  private current: OpenChannel | undefined;
  /** The channel being opened; one at a time. */
  private opening: Promise<void> | undefined;
  private unsubscribe: (() => void) | undefined;
  private started = false;
  private closed = false;
  /** Not yet written, in call order. */
  private readonly queue: Pending[] = [];
  private pending = 0;
  /** Returned messages not yet matched to their confirm, by return key, with a count. */
  private readonly returned = new Map<string, { count: number; reply: string }>();
  private readonly logger: Logger;
  private readonly openFailures: RateLimitedLog;
  private readonly timeoutMs: number;
  private readonly maxPending: number;
  private readonly survivesReconnect: boolean;

  constructor(
    private readonly transport: Transport,
    private readonly options: PublisherOptions,
  ) {
    this.logger = options.logger.child({ component: 'publisher', publisher: options.name });
    this.openFailures = new RateLimitedLog(this.logger);
    this.timeoutMs = options.publishTimeoutMs ?? 10_000;
    this.maxPending = options.maxPending ?? 10_000;
    this.survivesReconnect = options.survivesReconnect ?? true;
  }

  /** Opens the confirm channel on the current connection, and after every reconnect. */
  async start(): Promise<void> {
    if (this.closed) throw new ClosedError('the publisher is closed');
    if (this.started) return;
    this.started = true;
    this.unsubscribe = this.transport.onConnect(() => this.onReconnect());
    try {
      if (this.transport.isConnected()) await this.open();
    } catch (error) {
      // Disconnected meanwhile: the reconnect opens it, and publishes wait for that.
      if (!this.transport.isConnected()) return;
      this.started = false;
      this.unsubscribe();
      this.unsubscribe = undefined;
      throw error;
    }
  }

  /**
   * Resolves once the broker confirmed the message; rejects when it was returned, nacked or
   * timed out. While disconnected the publish waits for the reconnect, at most
   * `publishTimeoutMs` in all, among at most `maxPending` others; then it rejects with
   * BrokerUnavailableError, naming the broker and how long it waited. A rejected publish may
   * still have reached the broker (the connection went before its confirm came).
   */
  async publish(request: PublishRequest): Promise<void> {
    if (this.closed) throw new ClosedError('the publisher is closed');
    if (!this.started) throw new BrokerUnavailableError('the publisher is not started');
    const broker = this.transport.broker;
    if (this.pending >= this.maxPending) {
      throw new BrokerUnavailableError(
        `${this.pending} publishes are already waiting for the broker at ${broker} (limit ${this.maxPending}); ` +
          (this.transport.isConnected() ? 'it is slow to confirm' : 'it is not connected'),
      );
    }
    if (!this.survivesReconnect && !this.transport.isConnected()) {
      throw new BrokerUnavailableError(`not connected to the broker at ${broker}`);
    }
    const mandatory = request.mandatory ?? true;
    await new Promise<void>((resolve, reject) => {
      const entry: Pending = {
        request,
        mandatory,
        target: `exchange "${request.exchange || '(default)'}"`,
        began: Date.now(),
        state: 'queued',
        channel: undefined,
        timer: undefined,
        resolve,
        reject,
      };
      entry.timer = setTimeout(() => this.timedOut(entry), this.timeoutMs);
      this.pending += 1;
      this.queue.push(entry);
      this.flush();
    });
    if (mandatory) {
      const reply = this.takeReturn(returnKey(request.exchange, request.routingKey, request.properties.correlationId));
      if (reply !== undefined) throw new UnroutableError(request.exchange, request.routingKey, reply);
    }
  }

  /** Writes queued publishes, in order, while the channel is open and its buffers have room. */
  private flush(): void {
    const open = this.current;
    if (!open) {
      if (this.queue.length > 0 && this.transport.isConnected()) this.reopen();
      return;
    }
    while (this.queue.length > 0 && !open.closed && !open.full) {
      const entry = this.queue.shift()!;
      const { exchange, routingKey, body, properties } = entry.request;
      entry.state = 'sent';
      entry.channel = open;
      open.unconfirmed.add(entry);
      let room: boolean;
      try {
        room = open.channel.publish(exchange, routingKey, body, { ...properties, mandatory: entry.mandatory }, (error) =>
          this.confirmed(open, entry, error),
        );
      } catch (error) {
        // Nothing was written: the channel is closing (it refuses writes a round trip before it
        // tells `close`), or it cannot encode this message. Which one shows when the channel
        // closes, or does not, within REFUSAL_GRACE_MS.
        open.unconfirmed.delete(entry);
        entry.state = 'refused';
        open.refused.push({ entry, error });
        open.refusalTimer ??= setTimeout(() => this.judgeRefusals(open), REFUSAL_GRACE_MS);
        continue;
      }
      if (!room) open.full = true;
    }
  }

  /** The channel's callback: `null` once the broker acked, an error when it nacked or the channel closed first. */
  private confirmed(open: OpenChannel, entry: Pending, error: Error | null): void {
    if (entry.state !== 'sent') return;
    if (error === null) {
      open.unconfirmed.delete(entry);
      this.settle(entry);
      return;
    }
    // A channel closing fails its unconfirmed publishes and tells `close` in the same turn, in
    // either order: decide once that turn is over.
    setImmediate(() => {
      if (entry.state !== 'sent') return;
      open.unconfirmed.delete(entry);
      if (open.closed) this.settle(entry, this.cutOff(open, entry, error));
      else this.settle(entry, new PublishRejectedError(`the broker refused the message to ${entry.target} (basic.nack)`, error));
    });
  }

  /**
   * The channel did not tell `close`: with the connection up, it refused those messages
   * themselves; with the connection gone, it died without a word, and counts as closed.
   */
  private judgeRefusals(open: OpenChannel): void {
    open.refusalTimer = undefined;
    if (open.closed) return;
    if (!this.transport.isConnected()) {
      this.onChannelClosed(open);
      return;
    }
    for (const { entry, error } of open.refused.splice(0)) {
      this.settle(entry, new PublishRejectedError(`the message to ${entry.target} could not be published: ${describe(error)}`, error));
    }
  }

  private cutOff(open: OpenChannel, entry: Pending, cause?: unknown): BrokerUnavailableError {
    const reason = open.closeReason ? `: ${open.closeReason}` : '';
    return new BrokerUnavailableError(
      `the channel to the broker at ${this.transport.broker} closed before it confirmed the message to ${entry.target} ` +
        `(waited ${Date.now() - entry.began} ms); it may or may not have it${reason}`,
      cause,
    );
  }

  private timedOut(entry: Pending): void {
    if (entry.state === 'settled') return;
    if (entry.state === 'queued') this.queue.splice(this.queue.indexOf(entry), 1);
    else if (entry.state === 'refused') entry.channel?.refused.splice(entry.channel.refused.findIndex((r) => r.entry === entry), 1);
    else entry.channel?.unconfirmed.delete(entry);
    this.settle(
      entry,
      new BrokerUnavailableError(
        `the broker at ${this.transport.broker} did not confirm the message to ${entry.target} within ${this.timeoutMs} ms ` +
          `(waited ${Date.now() - entry.began} ms, ${this.transport.isConnected() ? 'connected' : 'disconnected'})`,
      ),
    );
  }

  private settle(entry: Pending, error?: Error): void {
    if (entry.state === 'settled') return;
    entry.state = 'settled';
    clearTimeout(entry.timer);
    this.pending -= 1;
    if (error) entry.reject(error);
    else entry.resolve();
  }

  /** Opens a confirm channel, once at a time; what is queued goes out on it. */
  private open(): Promise<void> {
    this.opening ??= (async () => {
      try {
        const channel = await this.transport.openConfirmChannel();
        if (this.closed) {
          await channel.close().catch(() => undefined);
          return;
        }
        this.attach(channel);
      } finally {
        this.opening = undefined;
      }
    })();
    return this.opening.then(() => this.flush());
  }

  /**
   * Opens a channel in the background. A failure while connected is logged (at most once a
   * minute while it repeats); what is queued waits for the next try (the next publish, the next
   * reconnect) or its deadline. One while disconnected is the reconnect's to mend.
   */
  private reopen(): void {
    this.open().catch((error: unknown) => {
      if (this.transport.isConnected() && !this.closed) this.openFailures.error({ err: describe(error) }, 'could not open a publish channel');
    });
  }

  private attach(channel: TransportConfirmChannel): void {
    const open: OpenChannel = {
      channel,
      unconfirmed: new Set(),
      closed: false,
      full: false,
      closeReason: undefined,
      refused: [],
      refusalTimer: undefined,
    };
    channel.on('return', (message: ReturnedMessage) => this.recordReturn(message));
    channel.on('error', (error: Error) => {
      open.closeReason = error.message;
    });
    channel.on('drain', () => {
      open.full = false;
      if (this.current === open) this.flush();
    });
    channel.on('close', () => this.onChannelClosed(open));
    this.current = open;
  }

  /**
   * What was written and not confirmed is cut off: the broker may or may not have it. What is
   * queued waits for the next channel: at once when the broker closed this one while the
   * connection stays (a 404 for a deleted exchange: every later publish would otherwise wait
   * out its timeout), after the reconnect when the connection went (the connection reports its
   * own close just after its channels'), except without `survivesReconnect`.
   */
  private onChannelClosed(open: OpenChannel): void {
    open.closed = true;
    for (const entry of open.unconfirmed) this.settle(entry, this.cutOff(open, entry));
    open.unconfirmed.clear();
    // Refused while closing: never written, so they wait for the next channel, first in line.
    clearTimeout(open.refusalTimer);
    const refused = open.refused.splice(0).map(({ entry }) => entry);
    for (const entry of refused) entry.state = 'queued';
    this.queue.unshift(...refused);
    if (this.current !== open) return;
    this.current = undefined;
    setImmediate(() => {
      if (!this.started || this.closed || this.current) return;
      if (this.transport.isConnected()) {
        this.logger.warn({ reason: open.closeReason }, 'the broker closed the publish channel; opening a new one');
        this.reopen();
      } else if (!this.survivesReconnect) {
        this.dropQueued('the connection went before it was sent; it is not sent after the reconnect');
      }
    });
  }

  private onReconnect(): void {
    if (!this.started || this.closed) return;
    // Without survivesReconnect nothing of an older connection goes out on this one.
    if (!this.survivesReconnect) this.dropQueued('the connection went before it was sent; it is not sent after the reconnect');
    this.reopen();
  }

  private dropQueued(why: string): void {
    for (const entry of this.queue.splice(0)) {
      this.settle(entry, new BrokerUnavailableError(`the message to ${entry.target} was not sent to the broker at ${this.transport.broker}: ${why}`));
    }
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
   * Stops publishing: what is queued rejects with ClosedError, and the channel closes (the broker
   * confirms what was written before it answers the close).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.started = false;
    this.unsubscribe?.();
    const open = this.current;
    const refused = open?.refused.splice(0).map(({ entry }) => entry) ?? [];
    clearTimeout(open?.refusalTimer);
    for (const entry of [...refused, ...this.queue.splice(0)]) this.settle(entry, new ClosedError('the publisher is closed'));
    await this.opening?.catch(() => undefined);
    this.current = undefined;
    if (open && !open.closed) await open.channel.close().catch(() => undefined);
  }
}

function returnKey(exchange: string, routingKey: string, correlationId: unknown): string {
  return `${exchange}\u0000${routingKey}\u0000${typeof correlationId === 'string' ? correlationId : ''}`;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
