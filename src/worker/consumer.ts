import type { QueueDefinition } from '../config/types';
import type { Logger } from '../logging/logger';
import { RateLimitedLog } from '../logging/rate-limited-log';
import { UsageError } from '../errors';
import { declareOnOwnChannel, type Topology } from '../topology';
import { acksOf } from './ack-batch';
import type { DeliveredMessage, Transport, TransportChannel } from '../transport';

/** What the consumer hands on: deliveries, and the loss of the channel they came on. */
export interface ConsumerHooks {
  onDelivery(channel: TransportChannel, queue: string, message: DeliveredMessage): void;
  /** The channel is gone: its deliveries can no longer be settled (the broker requeued them). */
  onChannelClosed(channel: TransportChannel): void;
}

export interface ConsumerOptions {
  transport: Transport;
  queues: readonly QueueDefinition[];
  /** The part of the topology the queues need; declared on start and after every loss. */
  topology: Topology;
  prefetch: number;
  logger: Logger;
  hooks: ConsumerHooks;
}

/**
 * The channel lifecycle of a worker, as Celery's Consumer owns it: declare, open a channel with
 * the worker's prefetch and consume every queue on it; when the channel closes, open a new one
 * (at once when only the channel closed, after the reconnect when the connection went); when
 * the broker cancels one consumer, consume that queue again; `pause()` and `resume()` stop and
 * restart the flow of deliveries without giving up the channel, so deliveries in hand can still
 * be settled.
 */
export class Consumer {
  /** The channel of the current consumers; deliveries of an older one cannot be acked. */
  private current: TransportChannel | undefined;
  /** A channel being set up: consumers may already deliver on it before it becomes `current`. */
  private opening: TransportChannel | undefined;
  /** Consumer tag of each queue consumed on `current`. */
  private readonly consumerTags = new Map<string, string>();
  /** The loop that re-opens the channel after it closed; one at a time. */
  private reopening: Promise<void> | undefined;
  private wakeReopen: (() => void) | undefined;
  private unsubscribe: (() => void) | undefined;
  private paused = false;
  private stopped = false;
  /** The queues consumed: the ones given, then those added (`add`) and not removed. */
  private readonly names: string[];
  /** What the added queues need declared, besides `options.topology`. */
  private readonly added = new Map<string, Topology>();
  /** Whether channels get a channel-wide prefetch: only when every queue is classic. */
  private readonly globalPrefetch: boolean;
  private readonly logger: Logger;

  constructor(private readonly options: ConsumerOptions) {
    this.names = options.queues.map((q) => q.name);
    this.globalPrefetch = options.queues.every((q) => q.type !== 'quorum');
    this.logger = options.logger;
  }

  /** Declares the queues' topology (also what queues added since need). */
  async declare(): Promise<void> {
    await declareOnOwnChannel(this.options.transport, this.options.topology);
    for (const topology of this.added.values()) await declareOnOwnChannel(this.options.transport, topology);
  }

  /**
   * Consumes one more queue, on the current channel and every channel after it; declares
   * `topology` first (and again after every loss) when given.
   * @throws UsageError for a quorum queue while the channel has a channel-wide prefetch, which
   *   RabbitMQ answers by closing the whole connection (540 NOT_IMPLEMENTED).
   */
  async add(queue: QueueDefinition, topology?: Topology): Promise<void> {
    if (queue.type === 'quorum' && this.globalPrefetch) {
      throw new UsageError(
        `queue ${queue.name} is a quorum queue, and this worker's channel has a channel-wide prefetch (all the queues it started with are classic), ` +
          'which RabbitMQ refuses for quorum queues by closing the connection; start a worker with -Q naming it instead',
      );
    }
    if (topology) await declareOnOwnChannel(this.options.transport, topology);
    if (this.names.includes(queue.name)) return;
    if (topology) this.added.set(queue.name, topology);
    this.names.push(queue.name);
    const channel = this.current;
    if (channel && !this.paused && !this.stopped) await this.consume(channel, queue.name);
  }

  /** Stops consuming a queue: cancels its consumer; deliveries of it in hand can still be settled. */
  async remove(queue: string): Promise<void> {
    const index = this.names.indexOf(queue);
    if (index < 0) return;
    this.names.splice(index, 1);
    this.added.delete(queue);
    const tag = this.consumerTags.get(queue);
    this.consumerTags.delete(queue);
    const channel = this.current ?? this.opening;
    if (tag !== undefined && channel) await channel.cancel(tag).catch(() => undefined);
  }

  /** Opens the channel and consumes; from then on follows reconnects. */
  async start(): Promise<void> {
    await this.openChannel(false);
    this.unsubscribe = this.options.transport.onConnect(() => this.reopen());
  }

  /** Whether deliveries of `channel` can still be settled. */
  isCurrent(channel: TransportChannel): boolean {
    return channel === this.current;
  }

  /**
   * Stops new deliveries (cancels every consumer) and keeps the channel, so deliveries in hand
   * can still be acked. A channel opened meanwhile (after a loss) consumes nothing until `resume()`.
   */
  async pause(): Promise<void> {
    if (this.paused) return;
    this.paused = true;
    await this.cancelAll();
  }

  /** Consumes every queue again after `pause()`. */
  async resume(): Promise<void> {
    if (!this.paused) return;
    this.paused = false;
    const channel = this.current;
    if (!channel || this.stopped) return;
    try {
      for (const queue of this.names) if (!this.consumerTags.has(queue)) await this.consume(channel, queue);
    } catch (err) {
      // The channel went meanwhile; the reopen loop consumes on the next one.
      this.logger.debug({ err: (err as Error).message }, 'could not consume again after a pause; the next channel will');
    }
  }

  /**
   * Resolves once the broker has taken in every ack and nack sent on the current channel so
   * far. Acks have no reply, and a process killed right after one may never have written it to
   * the socket; but the broker handles a channel's frames in order, so the reply to a
   * synchronous method sent after them comes after them: `basic.qos` with the per-consumer
   * prefetch the channel already has, which changes nothing. The acks the channel's batch holds
   * for the end of this turn go out first. Without a channel (it closed) the broker has requeued
   * what was unsettled, and there is nothing to wait for.
   */
  async flushAcks(): Promise<void> {
    const channel = this.current;
    if (!channel) return;
    acksOf(channel).flush();
    await channel.prefetch(this.options.prefetch, false).catch(() => undefined);
  }

  /** Stops following reconnects and cancels the consumers: no new deliveries. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.unsubscribe?.();
    this.wakeReopen?.();
    await this.cancelAll();
  }

  /** Closes the channel: the broker requeues whatever was not settled on it. */
  async close(): Promise<void> {
    const last = this.current;
    this.current = undefined;
    if (last) acksOf(last).flush();
    await last?.close().catch(() => undefined);
  }

  private async cancelAll(): Promise<void> {
    const channel = this.current ?? this.opening;
    const tags = [...this.consumerTags.values()];
    this.consumerTags.clear();
    if (channel) await Promise.all(tags.map((tag) => channel.cancel(tag).catch(() => undefined)));
  }

  /**
   * Opens a channel with the worker's prefetch and consumes every queue on it. After a loss
   * (`redeclare`), the topology is declared again first: a restarted broker keeps durable
   * queues, but not the others, and someone may have deleted one meanwhile.
   */
  private async openChannel(redeclare: boolean): Promise<void> {
    const { transport, prefetch } = this.options;
    if (redeclare) {
      await this.declare();
      this.logger.info({ queues: this.names }, 'topology re-declared');
    }
    const channel = await transport.openChannel();
    channel.on('close', () => this.onChannelClosed(channel));
    try {
      // Quorum queues refuse a channel-wide (global) prefetch, so the channel limit is set only
      // when every consumed queue is classic; the per-consumer limit applies always.
      await channel.prefetch(prefetch, false);
      if (this.globalPrefetch) await channel.prefetch(prefetch, true);
      this.consumerTags.clear();
      // Deliveries start with the first consume, so a pause() from then on must find this channel.
      this.opening = channel;
      // Live: a queue added (add_consumer) while this channel was being set up is consumed too.
      for (let i = 0; i < this.names.length && !this.paused && !this.stopped; i += 1) {
        if (!this.consumerTags.has(this.names[i])) await this.consume(channel, this.names[i]);
      }
    } catch (err) {
      if (this.opening === channel) this.consumerTags.clear();
      await channel.close().catch(() => undefined);
      throw err;
    } finally {
      if (this.opening === channel) this.opening = undefined;
    }
    this.current = channel;
    if (redeclare) this.logger.info({ queues: this.names, prefetch, paused: this.paused || undefined, node: transport.connectedTo() }, 'consuming again');
  }

  private async consume(channel: TransportChannel, queue: string): Promise<void> {
    const { consumerTag } = await channel.consume(queue, (message) => this.onMessage(channel, queue, message), { noAck: false });
    this.consumerTags.set(queue, consumerTag);
    // Deliveries can come before the consume call returns here, and one of them may have paused
    // the consumer already (or the worker stopped meanwhile): then this consumer must go too.
    if (this.paused || this.stopped) {
      this.consumerTags.delete(queue);
      await channel.cancel(consumerTag).catch(() => undefined);
    }
  }

  private onMessage(channel: TransportChannel, queue: string, message: DeliveredMessage | null): void {
    if (message !== null) {
      acksOf(channel).received(message);
      this.options.hooks.onDelivery(channel, queue, message);
      return;
    }
    if (this.stopped || channel !== this.current) return;
    this.consumerTags.delete(queue);
    this.logger.error({ queue }, 'the broker cancelled the consumer (was the queue deleted?); declaring it again and consuming it');
    void this.restoreConsumer(channel, queue);
  }

  /**
   * Deliveries of a closed channel can no longer be acked: the broker has requeued them. Unless
   * the worker is stopping, a new channel is opened: at once when only the channel closed, after
   * the reconnect when the connection went (the connection logs that).
   */
  private onChannelClosed(channel: TransportChannel): void {
    acksOf(channel).close();
    this.options.hooks.onChannelClosed(channel);
    if (channel !== this.current) return;
    this.current = undefined;
    this.consumerTags.clear();
    if (this.stopped) return;
    // A lost connection closes its channels just before it reports its own close: look after that.
    setImmediate(() => {
      if (this.current || this.stopped || !this.options.transport.isConnected()) return;
      this.logger.warn('the broker closed the worker channel; opening a new one');
      this.reopen();
    });
  }

  /**
   * Re-declares and consumes again until it works, once at a time. While disconnected it waits
   * for the reconnect (which wakes it). A failure is logged at error level when it is new, and
   * at most once a minute while it repeats; attempts back off up to 30 s.
   */
  private reopen(): void {
    if (this.stopped) return;
    if (this.reopening) {
      this.wakeReopen?.();
      return;
    }
    this.reopening = (async () => {
      const failures = new RateLimitedLog(this.logger);
      for (let attempt = 1; !this.stopped && !this.current; attempt += 1) {
        if (!this.options.transport.isConnected()) {
          // The reconnect wakes it; the timeout only guards against a missed wake.
          await this.sleep(5000, true);
          attempt = 0;
          continue;
        }
        try {
          await this.openChannel(true);
        } catch (err) {
          if (!this.options.transport.isConnected()) continue;
          failures.error({ err: (err as Error).message, attempt }, 'could not re-declare the queues and consume them again; retrying');
          await this.sleep(Math.min(30_000, 1000 * 2 ** (attempt - 1)), true);
        }
      }
    })().finally(() => {
      this.reopening = undefined;
    });
  }

  /** Waits `ms` (without keeping the process alive); `wakeable` lets `reopen()` and `stop()` end it early. */
  private sleep(ms: number, wakeable = false): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        if (this.wakeReopen === done) this.wakeReopen = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      if (wakeable) this.wakeReopen = done;
    });
  }

  /**
   * The broker cancelled one consumer (its queue was deleted, or a quorum queue lost its
   * leader): re-declare the topology and consume the queue again on the same channel, so the
   * tasks running from other queues are not disturbed. Retries with backoff, logging at a
   * bounded rate, until it works, the worker stops, or the channel is replaced (the new one
   * consumes every queue).
   */
  private async restoreConsumer(channel: TransportChannel, queue: string): Promise<void> {
    const failures = new RateLimitedLog(this.logger);
    for (let attempt = 1; ; attempt += 1) {
      if (this.stopped || channel !== this.current || this.consumerTags.has(queue)) return;
      try {
        await this.declare();
        if (this.stopped || channel !== this.current) return;
        if (this.paused) return; // resume() consumes it
        await this.consume(channel, queue);
        this.logger.info({ queue, prefetch: this.options.prefetch }, 'consuming again');
        return;
      } catch (err) {
        failures.error({ queue, err: (err as Error).message, attempt }, 'could not consume the queue again; retrying');
        await this.sleep(Math.min(30_000, 1000 * 2 ** (attempt - 1)));
      }
    }
  }
}
