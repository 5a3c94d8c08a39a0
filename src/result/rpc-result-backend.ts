import { randomUUID } from 'node:crypto';
import { BrokerUnavailableError, ClosedError, ResultForgottenError } from '../errors';
import type { Logger } from '../logging/logger';
import { decodeError, decodeResultMessage } from '../protocol';
import { replyQueueSpec } from '../topology/reply-queue';
import type { DeliveredMessage, Transport, TransportChannel } from '../transport';
import { AsyncResult, DEFAULT_RESULT_TIMEOUT_MS, type RemoteError, type ResultFollower, type ResultState } from './async-result';

/** How many results the backend follows at once unless told otherwise. */
export const DEFAULT_MAX_TRACKED_RESULTS = 100_000;

/** How many timed-out results still take a late result, so that a later `get()` finds it. */
export const MAX_TIMED_OUT_RESULTS = 1000;

/** How many task ids a warning about lost results names before it only counts. */
const NAMED_IN_LOG = 20;

export interface RpcResultBackendOptions {
  /** How long `get()` waits when the call sets no `timeout`. @defaultValue 60000 */
  resultTimeoutMs?: number;
  /**
   * The most results followed at once; past it the oldest is dropped (with a warning) and its
   * `get()` rejects with `ResultForgottenError`. @defaultValue 100000
   */
  maxTrackedResults?: number;
}

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
 * Tracking is bounded. A result is followed from `sendTask` until it is ready, `forget()` is
 * called, or the last `get()` waiting for it times out; then it moves to a short list of timed-out
 * results (the last {@link MAX_TIMED_OUT_RESULTS}) that still take a late result, so a later
 * `get()` finds it. At most `maxTrackedResults` are followed at once: past it the oldest is
 * dropped with a warning, and its `get()` rejects with `ResultForgottenError` instead of hanging.
 */
export class RpcResultBackend implements ResultFollower {
  readonly replyQueue: string;
  readonly defaultTimeoutMs: number;
  private readonly maxTracked: number;
  private channel: TransportChannel | undefined;
  private started = false;
  private closed = false;
  private reopening: Promise<void> | undefined;
  private unsubscribe: (() => void) | undefined;
  /** `whenReady` callers: told when the reply queue is consumed again, or the backend closed. */
  private readonly readyWaiters = new Set<{ opened: () => void; closed: (error: Error) => void }>();
  /** Results followed, oldest first. */
  private readonly followed = new Map<string, AsyncResult>();
  /** Results whose last `get()` timed out, oldest first; they still take a late result. */
  private readonly timedOutResults = new Map<string, AsyncResult>();
  /** When the reply queue went (its channel closed); cleared once it is consumed again. */
  private lostAt: Date | undefined;
  private droppedSinceWarning = 0;
  private lastDropWarning = 0;
  private readonly logger: Logger;

  constructor(
    private readonly connection: Transport,
    logger: Logger,
    replyQueue: string = randomUUID(),
    options: RpcResultBackendOptions = {},
  ) {
    this.replyQueue = replyQueue;
    this.logger = logger.child({ component: 'result-backend', replyQueue });
    this.defaultTimeoutMs = options.resultTimeoutMs ?? DEFAULT_RESULT_TIMEOUT_MS;
    this.maxTracked = options.maxTrackedResults ?? DEFAULT_MAX_TRACKED_RESULTS;
  }

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
    const pending = [...this.followed.values(), ...this.timedOutResults.values()];
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

  /** An AsyncResult that follows the results of `taskId` from now on. */
  track<T>(taskId: string): AsyncResult<T> {
    if (this.closed) throw new ClosedError(`the result backend is closed: the result of task ${taskId} cannot be followed`);
    const result = new AsyncResult<T>(taskId, this);
    this.follow(result as AsyncResult);
    return result;
  }

  /** Stops following `taskId` without a word (its publish failed, so nobody holds its result). */
  untrack(taskId: string): void {
    this.followed.delete(taskId);
    this.timedOutResults.delete(taskId);
  }

  /** How many results are followed, and how many timed-out ones still take a late result. */
  get tracked(): { followed: number; timedOut: number } {
    return { followed: this.followed.size, timedOut: this.timedOutResults.size };
  }

  /** @internal */
  decodeError(encoded: unknown): RemoteError {
    return decodeError(encoded);
  }

  /** @internal A `get()` on a timed-out result follows it again. */
  waiting(result: AsyncResult): void {
    if (this.timedOutResults.get(result.id) !== result) return;
    this.timedOutResults.delete(result.id);
    this.follow(result);
  }

  /** @internal The last `get()` waiting for `result` timed out. */
  timedOut(result: AsyncResult): void {
    if (this.followed.get(result.id) !== result) return;
    this.followed.delete(result.id);
    this.timedOutResults.set(result.id, result);
    if (this.timedOutResults.size <= MAX_TIMED_OUT_RESULTS) return;
    const [oldestId, oldest] = this.timedOutResults.entries().next().value as [string, AsyncResult];
    this.timedOutResults.delete(oldestId);
    oldest.detach(new ResultForgottenError(oldestId, `its get() timed out, and ${MAX_TIMED_OUT_RESULTS} results have timed out since`));
  }

  /** @internal `AsyncResult.forget()`. */
  forget(result: AsyncResult): void {
    if (this.followed.get(result.id) === result) this.followed.delete(result.id);
    if (this.timedOutResults.get(result.id) === result) this.timedOutResults.delete(result.id);
  }

  private follow(result: AsyncResult): void {
    const earlier = this.followed.get(result.id) ?? this.timedOutResults.get(result.id);
    if (earlier && earlier !== result) {
      earlier.detach(new ResultForgottenError(result.id, 'a task was sent again with the same id; the AsyncResult of the later send follows it'));
    }
    this.untrack(result.id);
    this.followed.set(result.id, result);
    if (this.followed.size <= this.maxTracked) return;
    const [oldestId, oldest] = this.followed.entries().next().value as [string, AsyncResult];
    this.followed.delete(oldestId);
    oldest.detach(
      new ResultForgottenError(
        oldestId,
        `more than ${this.maxTracked} results were followed at once (maxTrackedResults), and it was the oldest`,
      ),
    );
    this.warnDropped(oldestId);
  }

  /** At the first drop, then at most once a minute with the count since. */
  private warnDropped(taskId: string): void {
    this.droppedSinceWarning += 1;
    if (Date.now() - this.lastDropWarning < 60_000) return;
    this.logger.warn(
      { taskId, dropped: this.droppedSinceWarning, maxTrackedResults: this.maxTracked },
      'too many results followed at once: the oldest are no longer followed and their get() rejects; ' +
        'send tasks whose result you do not wait for with ignoreResult, or call forget()',
    );
    this.droppedSinceWarning = 0;
    this.lastDropWarning = Date.now();
  }

  private onMessage(message: DeliveredMessage): void {
    let decoded: ReturnType<typeof decodeResultMessage>;
    try {
      decoded = decodeResultMessage(message.content, message.properties);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'dropped a reply that is not a result message');
      return;
    }
    const result = this.followed.get(decoded.taskId) ?? this.timedOutResults.get(decoded.taskId);
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
    if (result.ready) this.untrack(decoded.taskId);
  }

  /**
   * Stops consuming and deletes nothing (the reply queue goes with the connection). Every result
   * still pending rejects its `get()` with ClosedError, now and later.
   */
  async close(): Promise<void> {
    this.closed = true;
    this.started = false;
    for (const result of [...this.followed.values(), ...this.timedOutResults.values()]) {
      result.detach(new ClosedError(`the app was closed while the result of task ${result.id} was pending; it will not come`));
    }
    this.followed.clear();
    this.timedOutResults.clear();
    for (const waiter of [...this.readyWaiters]) waiter.closed(new ClosedError('the result backend was closed while waiting for the reply queue'));
    this.unsubscribe?.();
    const channel = this.channel;
    this.channel = undefined;
    if (channel) await channel.close().catch(() => undefined);
  }
}
