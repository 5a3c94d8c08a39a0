import { randomUUID } from 'node:crypto';
import { BrokerUnavailableError, ClosedError } from '../errors';
import type { Logger } from '../logging/logger';
import { decodeResultMessage } from '../protocol';
import { replyQueueSpec } from '../topology/reply-queue';
import type { DeliveredMessage, Transport, TransportChannel } from '../transport';
import { ResultTracker, type ResultTrackerOptions } from './result-tracker';

/** How many task ids a warning about lost results names before it only counts. */
const NAMED_IN_LOG = 20;

export type RpcResultBackendOptions = ResultTrackerOptions;

export { DEFAULT_MAX_TRACKED_RESULTS, MAX_TIMED_OUT_RESULTS } from './result-tracker';

/**
 * Celery's `rpc://` result backend, caller side: one reply queue per process, named by a UUID
 * and sent as `reply_to` with every task. Workers publish result messages to it through the
 * default exchange; this class hands each to the AsyncResult with the same task id.
 *
 * The reply queue is auto-delete and non-durable, as Celery declares it: when the connection
 * goes, so does the queue (with its consumer, or with the broker's restart). After the
 * reconnect it is declared again under the same name and consumed again, but results that
 * workers published while it was gone are lost (they were unroutable; the worker logs and
 * drops them). Which tasks that hit cannot be known here (a task still running publishes its
 * result later and it arrives), so the tasks pending across the loss are logged, and a `get()`
 * that then times out says that the reply queue was lost meanwhile.
 *
 * Tracking is bounded: see {@link ResultTracker}.
 */
export class RpcResultBackend extends ResultTracker {
  readonly replyQueue: string;
  private channel: TransportChannel | undefined;
  private started = false;
  private reopening: Promise<void> | undefined;
  private unsubscribe: (() => void) | undefined;
  /** `whenReady` callers: told when the reply queue is consumed again, or the backend closed. */
  private readonly readyWaiters = new Set<{ opened: () => void; closed: (error: Error) => void }>();
  /** When the reply queue went (its channel closed); cleared once it is consumed again. */
  private lostAt: Date | undefined;

  constructor(
    private readonly connection: Transport,
    logger: Logger,
    replyQueue: string = randomUUID(),
    options: RpcResultBackendOptions = {},
  ) {
    super(logger.child({ component: 'result-backend', replyQueue }), options);
    this.replyQueue = replyQueue;
  }

  /** Results arrive on the reply queue whether or not anyone listens for them: nothing to do per task. */
  protected followed(): void {}

  protected unfollowed(): void {}

  /** Declares the reply queue and starts consuming it; both are redone after a reconnect. */
  async start(): Promise<void> {
    if (this.closed) throw new ClosedError('the result backend is closed');
    if (this.started) return;
    this.started = true;
    try {
      await this.open(false);
    } catch (err) {
      this.started = false;
      throw err;
    }
    this.unsubscribe = this.connection.onConnect(() => this.reopen());
  }

  private async open(again: boolean): Promise<void> {
    const spec = replyQueueSpec(this.replyQueue);
    const channel = await this.connection.openChannel();
    try {
      await channel.assertQueue(spec.name, spec.options);
      // null: the broker cancelled the consumer, because someone deleted the queue.
      await channel.consume(spec.name, (message) => (message ? this.onMessage(message) : this.onLost(channel)), { noAck: true });
    } catch (err) {
      await channel.close().catch(() => undefined);
      throw err;
    }
    channel.on('close', () => this.onLost(channel));
    this.channel = channel;
    for (const waiter of [...this.readyWaiters]) waiter.opened();
    if (again) this.noteLostResults();
    else this.logger.debug({ queue: spec.name, node: this.connection.connectedTo() }, 'reply queue declared and consumed');
  }

  /**
   * After the reply queue was declared again: the results pending across the gap may have been
   * published to a queue that did not exist, and dropped. Says which tasks were pending.
   */
  private noteLostResults(): void {
    const at = new Date();
    const pending = this.all();
    for (const result of pending) result.noteReplyQueueLost(at);
    const ids = pending.map((result) => result.id);
    this.logger.warn(
      {
        waiting: ids.length,
        taskIds: ids.slice(0, NAMED_IN_LOG),
        more: Math.max(0, ids.length - NAMED_IN_LOG) || undefined,
        goneMs: this.lostAt ? at.getTime() - this.lostAt.getTime() : undefined,
        node: this.connection.connectedTo(),
      },
      'reply queue declared again and consumed; results published while it was gone are lost: those of the tasks listed, if they finished meanwhile',
    );
    this.lostAt = undefined;
  }

  private onLost(channel: TransportChannel): void {
    if (this.channel !== channel) return;
    this.channel = undefined;
    this.lostAt ??= new Date();
    void channel.close().catch(() => undefined);
    // After a lost connection, the reconnect calls reopen(); a channel closed alone reopens now.
    // The connection reports its own close just after its channels': look after that.
    setImmediate(() => {
      if (this.connection.isConnected()) this.reopen();
    });
  }

  /** Declares and consumes the reply queue again until it works (once a second at most). */
  private reopen(): void {
    if (!this.started || this.reopening) return;
    this.reopening = (async () => {
      let logged: string | undefined;
      while (this.started && !this.channel && this.connection.isConnected()) {
        try {
          await this.open(true);
        } catch (err) {
          const reason = (err as Error).message;
          if (reason !== logged && this.connection.isConnected()) this.logger.error({ err: reason }, 'could not declare the reply queue again; retrying');
          logged = reason;
          await new Promise((resolve) => setTimeout(resolve, 1000).unref());
        }
      }
    })().finally(() => {
      this.reopening = undefined;
    });
  }

  /** The reply queue is there and consumed now: {@link whenReady} would resolve at once. */
  get consuming(): boolean {
    return !this.closed && this.channel !== undefined;
  }

  /**
   * Resolves once the reply queue is there and consumed: at once while connected, else after
   * the reconnect declared it again. A task sent before would have its result published to a
   * queue that does not exist yet, and lost. Rejects with BrokerUnavailableError after
   * `timeoutMs`.
   */
  whenReady(timeoutMs: number): Promise<void> {
    if (this.closed) return Promise.reject(new ClosedError('the result backend is closed'));
    if (this.channel) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const began = Date.now();
      const waiter = {
        opened: (): void => {
          clearTimeout(timer);
          this.readyWaiters.delete(waiter);
          resolve();
        },
        closed: (error: Error): void => {
          clearTimeout(timer);
          this.readyWaiters.delete(waiter);
          reject(error);
        },
      };
      const timer = setTimeout(() => {
        this.readyWaiters.delete(waiter);
        reject(
          new BrokerUnavailableError(
            `the reply queue ${this.replyQueue} on the broker at ${this.connection.broker} was not declared again within ${timeoutMs} ms ` +
              `(waited ${Date.now() - began} ms, ${this.connection.isConnected() ? 'connected' : 'disconnected'})`,
          ),
        );
      }, timeoutMs);
      this.readyWaiters.add(waiter);
    });
  }

  private onMessage(message: DeliveredMessage): void {
    let decoded: ReturnType<typeof decodeResultMessage>;
    try {
      decoded = decodeResultMessage(message.content, message.properties);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'dropped a reply that is not a result message');
      return;
    }
    if (!this.deliver(decoded)) {
      this.logger.debug({ taskId: decoded.taskId, state: decoded.status }, 'result for a task this client does not follow');
    }
  }

  /**
   * Stops consuming and deletes nothing (the reply queue goes with the connection). Every result
   * still pending rejects its `get()` with ClosedError, now and later.
   */
  async close(): Promise<void> {
    this.closed = true;
    this.started = false;
    this.detachAll();
    for (const waiter of [...this.readyWaiters]) waiter.closed(new ClosedError('the result backend was closed while waiting for the reply queue'));
    this.unsubscribe?.();
    const channel = this.channel;
    this.channel = undefined;
    if (channel) await channel.close().catch(() => undefined);
  }
}
