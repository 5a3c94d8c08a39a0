import { randomUUID } from 'node:crypto';
import { BrokerUnavailableError } from '../errors';
import type { Logger } from '../logging/logger';
import { decodeError, decodeResultMessage } from '../protocol';
import { replyQueueSpec } from '../topology/reply-queue';
import type { DeliveredMessage, Transport, TransportChannel } from '../transport';
import { AsyncResult, type ResultState } from './async-result';

/**
 * Celery's `rpc://` result backend, caller side: one reply queue per process, named by a UUID
 * and sent as `reply_to` with every task. Workers publish result messages to it through the
 * default exchange; this class hands each to the AsyncResult with the same task id.
 *
 * The reply queue is auto-delete and non-durable, as Celery declares it: when the connection
 * goes, so does the queue (with its consumer, or with the broker's restart). After the
 * reconnect it is declared again under the same name and consumed again, but results that
 * workers published while it was gone are lost (they were unroutable; the worker logs and
 * drops them), and `get()` for those tasks runs into its timeout.
 */
export class RpcResultBackend {
  readonly replyQueue: string;
  private channel: TransportChannel | undefined;
  private started = false;
  private reopening: Promise<void> | undefined;
  private unsubscribe: (() => void) | undefined;
  /** Called each time the reply queue is consumed again. */
  private readonly openListeners = new Set<() => void>();
  private readonly waiting = new Map<string, AsyncResult>();
  private readonly logger: Logger;

  constructor(
    private readonly connection: Transport,
    logger: Logger,
    replyQueue: string = randomUUID(),
  ) {
    this.replyQueue = replyQueue;
    this.logger = logger.child({ component: 'result-backend', replyQueue });
  }

  /** Declares the reply queue and starts consuming it; both are redone after a reconnect. */
  async start(): Promise<void> {
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
    for (const listener of [...this.openListeners]) listener();
    if (again) {
      this.logger.warn({ waiting: this.waiting.size }, 'reply queue declared again and consumed; results published while it was gone are lost');
    }
  }

  private onLost(channel: TransportChannel): void {
    if (this.channel !== channel) return;
    this.channel = undefined;
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

  /**
   * Resolves once the reply queue is there and consumed: at once while connected, else after
   * the reconnect declared it again. A task sent before would have its result published to a
   * queue that does not exist yet, and lost. Rejects with BrokerUnavailableError after
   * `timeoutMs`.
   */
  whenReady(timeoutMs: number): Promise<void> {
    if (this.channel) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const began = Date.now();
      const listener = (): void => {
        clearTimeout(timer);
        this.openListeners.delete(listener);
        resolve();
      };
      const timer = setTimeout(() => {
        this.openListeners.delete(listener);
        reject(
          new BrokerUnavailableError(
            `the reply queue ${this.replyQueue} on the broker at ${this.connection.broker} was not declared again within ${timeoutMs} ms ` +
              `(waited ${Date.now() - began} ms, ${this.connection.isConnected() ? 'connected' : 'disconnected'})`,
          ),
        );
      }, timeoutMs);
      this.openListeners.add(listener);
    });
  }

  /** An AsyncResult that follows the results of `taskId` from now on. */
  track<T>(taskId: string): AsyncResult<T> {
    const result = new AsyncResult<T>(taskId, decodeError);
    this.waiting.set(taskId, result as AsyncResult);
    return result;
  }

  /** Stops following `taskId` (its publish failed). */
  forget(taskId: string): void {
    this.waiting.delete(taskId);
  }

  private onMessage(message: DeliveredMessage): void {
    let decoded: ReturnType<typeof decodeResultMessage>;
    try {
      decoded = decodeResultMessage(message.content, message.properties);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'dropped a reply that is not a result message');
      return;
    }
    const result = this.waiting.get(decoded.taskId);
    if (!result) {
      this.logger.debug({ taskId: decoded.taskId, state: decoded.status }, 'result for a task this client does not follow');
      return;
    }
    result.update({
      state: decoded.status as ResultState,
      result: decoded.result,
      traceback: decoded.traceback ?? null,
      dateDone: decoded.dateDone ?? null,
      worker: decoded.worker,
      queue: decoded.queue,
    });
    if (result.ready) this.waiting.delete(decoded.taskId);
  }

  async close(): Promise<void> {
    this.started = false;
    this.unsubscribe?.();
    const channel = this.channel;
    this.channel = undefined;
    if (channel) await channel.close().catch(() => undefined);
  }
}
