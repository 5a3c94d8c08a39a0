import { TopologyMismatchError } from '../errors';
import type { Logger } from '../logging/logger';

/** The queue declared as the lock, before any suffix. */
export const DEFAULT_LOCK_QUEUE = 'warren.beat.lock';

/** The part of an amqplib `Channel` the lock uses. */
export interface LockChannel {
  assertQueue(queue: string, options: { exclusive: boolean; durable: boolean; autoDelete: boolean }): Promise<unknown>;
  /** `onMessage(null)` is the broker cancelling the consumer: the queue was deleted. */
  consume(queue: string, onMessage: (message: object | null) => void, options: { noAck: boolean; exclusive: boolean }): Promise<unknown>;
  deleteQueue(queue: string): Promise<unknown>;
  close(): Promise<void>;
  on(event: 'close' | 'error', listener: () => void): unknown;
  removeListener(event: 'close' | 'error', listener: () => void): unknown;
}

/**
 * Opens channels on the one connection the beat also publishes on: an amqplib `ChannelModel`
 * fits as it is. With amqp-connection-manager, pass
 * `{ createChannel: () => manager.connection?.createChannel() ?? Promise.reject(new Error('not connected')) }`,
 * so each attempt uses whatever connection is current.
 */
export interface LockConnection {
  createChannel(): Promise<LockChannel>;
}

export interface LeaderLockOptions {
  connection: LockConnection;
  /** Appended as `warren.beat.lock.<suffix>`: separate beats (tests, tenants) on one broker. */
  suffix?: string;
  logger?: Logger;
  /** The node the connection is on now, for the log (`Transport.connectedTo`). */
  node?: () => string | undefined;
}

/** Why the lock was lost. */
export interface LockLoss {
  readonly reason: string;
}

/** The AMQP reply code of a channel error amqplib raised (405, 406), if it is one. */
function replyCode(error: unknown): unknown {
  return typeof error === 'object' && error !== null && 'code' in error ? error.code : undefined;
}

/** Closes `channel`, whatever state it is in; amqplib throws on closing a closed channel. */
function closeQuietly(channel: LockChannel): Promise<void> {
  return Promise.resolve()
    .then(() => channel.close())
    .catch(() => undefined);
}

function message(error: unknown): string {
  return typeof error === 'object' && error !== null && 'message' in error ? String(error.message) : String(error);
}

/**
 * Exactly one beat fires: the one that holds this lock. The lock is an exclusive queue on the
 * broker. An exclusive queue belongs to the connection that declared it: a declare from any
 * other connection fails with 405 RESOURCE_LOCKED, and the broker deletes the queue as soon as
 * that connection closes, including when its process is SIGKILLed (the OS closes the socket at
 * once) or when heartbeats stop. No lease to renew, no clock to trust.
 *
 * The holder keeps one channel open with a consumer on the queue, so it learns at once that it
 * lost the lock: the channel closes with the connection, and the broker cancels the consumer
 * if someone deletes the queue by hand. A follower calls `tryAcquire` every second or so; a
 * refused declare closes its channel, so each attempt opens a fresh one.
 *
 * On a cluster the queue lives on the node of its holder's connection. When that node dies, the
 * holder loses its connection and with it the lock, at once; the other nodes delete the dead
 * node's exclusive queues as soon as they see it down (at once when its process died, within
 * the net tick time when its network did), so a follower connected to another node takes the lock
 * at its next try.
 *
 * The queue must be left to beats: RabbitMQ answers an exclusive declare of a queue someone
 * declared non-exclusive with the same 405 as a held lock, so no beat would ever fire.
 */
export class LeaderLock {
  /** The queue declared as the lock. */
  readonly queue: string;
  private held: { channel: LockChannel; onClose: () => void } | undefined;
  private attempt: Promise<boolean> | undefined;
  private readonly lostListeners = new Set<(loss: LockLoss) => void>();

  constructor(private readonly options: LeaderLockOptions) {
    this.queue = options.suffix === undefined || options.suffix === '' ? DEFAULT_LOCK_QUEUE : `${DEFAULT_LOCK_QUEUE}.${options.suffix}`;
  }

  isHeld(): boolean {
    return this.held !== undefined;
  }

  /**
   * Takes the lock if nobody holds it. True if this process holds it now (also if it already
   * did); false if another holds it or the broker cannot be reached right now.
   * @throws TopologyMismatchError if the broker answers 406 PRECONDITION_FAILED: a queue of that name exists with other arguments.
   */
  tryAcquire(): Promise<boolean> {
    if (this.held !== undefined) return Promise.resolve(true);
    this.attempt ??= this.acquire().finally(() => {
      this.attempt = undefined;
    });
    return this.attempt;
  }

  private async acquire(): Promise<boolean> {
    let channel: LockChannel;
    try {
      channel = await this.options.connection.createChannel();
    } catch (error) {
      this.options.logger?.debug({ err: message(error) }, 'no channel for the beat lock');
      return false;
    }
    let closed = false;
    const noteClose = () => {
      closed = true;
    };
    // A refused declare also emits 'error' on the channel; the rejected call below says the same.
    channel.on('error', () => undefined);
    channel.on('close', noteClose);
    try {
      await channel.assertQueue(this.queue, { exclusive: true, durable: false, autoDelete: false });
      const onDelivery = (delivery: object | null) => {
        if (delivery === null) this.lose('the broker cancelled the lock consumer: the lock queue was deleted');
      };
      await channel.consume(this.queue, onDelivery, { noAck: true, exclusive: true });
    } catch (error) {
      channel.removeListener('close', noteClose);
      await closeQuietly(channel);
      // 405 RESOURCE_LOCKED: another connection holds the exclusive queue.
      if (replyCode(error) === 405) return false;
      if (replyCode(error) === 406) {
        throw new TopologyMismatchError('queue', this.queue, undefined, `${message(error)}; the lock must be a queue only beats declare`, error);
      }
      this.options.logger?.debug({ err: message(error) }, 'beat lock attempt failed');
      return false;
    }
    channel.removeListener('close', noteClose);
    if (closed) return false;
    const onClose = () => this.lose('the broker connection or the lock channel closed');
    channel.on('close', onClose);
    this.held = { channel, onClose };
    this.options.logger?.info({ queue: this.queue, node: this.options.node?.() }, 'holding the beat lock');
    return true;
  }

  private lose(reason: string): void {
    const held = this.held;
    if (held === undefined) return;
    this.held = undefined;
    held.channel.removeListener('close', held.onClose);
    void closeQuietly(held.channel);
    this.options.logger?.warn({ queue: this.queue, reason }, 'lost the beat lock');
    for (const listener of this.lostListeners) listener({ reason });
  }

  /** Calls `listener` each time a held lock is lost (not on `release`); returns a function that removes it. */
  onLost(listener: (loss: LockLoss) => void): () => void {
    this.lostListeners.add(listener);
    return () => this.lostListeners.delete(listener);
  }

  /** Gives the lock up: deletes the queue, so a follower's next attempt succeeds at once. */
  async release(): Promise<void> {
    const held = this.held;
    if (held === undefined) return;
    this.held = undefined;
    held.channel.removeListener('close', held.onClose);
    try {
      await held.channel.deleteQueue(this.queue);
    } catch (error) {
      this.options.logger?.debug({ err: message(error) }, 'could not delete the beat lock queue; it goes when the connection closes');
    }
    await closeQuietly(held.channel);
    this.options.logger?.info({ queue: this.queue }, 'released the beat lock');
  }
}
