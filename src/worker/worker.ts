import { hostname as osHostname } from 'node:os';
import type { QueueDefinition } from '../config/types';
import {
  InvalidMessageError,
  MaxRetriesExceededError,
  MessageTooLargeError,
  Retry,
  UnroutableError,
} from '../errors';
import type { Logger } from '../logging/logger';
import {
  clip,
  copiedProperties,
  DEFAULT_MAX_MESSAGE_BYTES,
  decodeTaskMessage,
  encodeError,
  encodeResultMessage,
  formatTraceback,
  republishTaskMessage,
  type TaskMessage,
} from '../protocol';
import {
  deadLetterExchange,
  deadLetterHeaders,
  deadLetterRoutingKey,
  declareOnOwnChannel,
  deliveryCountHeader,
  isBrokerHeader,
  isDelayHeader,
  isDeliveryCountHeader,
  previousDeliveries,
  queueArguments,
  recordedDeliveries,
  type DelayTarget,
  type Topology,
} from '../topology';
import type { DeliveredMessage, Publisher, PublishRequest, Transport, TransportChannel } from '../transport';
import { RateLimitedLog } from '../logging/rate-limited-log';
import { TypedEvents } from '../util/typed-events';
import { settle, type Delivery } from './delivery';
import { matchesAutoretry, maxRetries, retryDelayMs } from './retry-policy';
import { runWithinLimits, type TimeLimits } from './run-within-limits';
import type { RegisteredTask, TaskContext, TaskLookup } from './task-types';

/**
 * Publishes tasks again, now or after a delay the broker keeps (the producer's
 * `DelayedDelivery` is one): for retries, and for tasks that arrive before their `eta`.
 */
export interface TaskRepublisher {
  /** Declares what delayed publishes to `targets` need; the worker calls it on start. */
  prepare(targets: readonly DelayTarget[]): Promise<void>;
  /** Resolves once the broker confirmed the message; it is routed after `delayMs` (now if <= 0). */
  publish(request: PublishRequest, delayMs: number): Promise<void>;
}

/**
 * A task due within this long is held in the worker until its time; one due later goes back
 * into the broker's delay levels. So no delivery stays unacked much longer than a second
 * waiting for its time (DESIGN.md section 3).
 */
const HOLD_LIMIT_MS = 1000;

/** Headers a task published again must not carry on: the broker's, the delay levels', warren's delivery count. */
const transportHeader = (name: string): boolean => isBrokerHeader(name) || isDelayHeader(name) || isDeliveryCountHeader(name);

export interface WorkerOptions {
  /** The queues to consume, already checked against the definitions. */
  queues: readonly QueueDefinition[];
  /** The part of the topology these queues need; declared on start. */
  topology: Topology;
  /** Tasks run at once. @defaultValue 1 */
  concurrency?: number;
  /** Unacknowledged deliveries per running slot. @defaultValue 1 */
  prefetchMultiplier?: number;
  /** Node name, used in logs and results. @defaultValue `warren@<host>` */
  hostname?: string;
  /** How long `stop()` lets running tasks finish. @defaultValue 30000 */
  shutdownTimeoutMs?: number;
  /** Publishes retries and tasks that arrived too early. */
  republisher: TaskRepublisher;
  /** Hard time limit in seconds for tasks that set none (see `TaskOptions.timeLimit`). @defaultValue none */
  timeLimit?: number;
  /** Soft time limit in seconds for tasks that set none (see `TaskOptions.softTimeLimit`). @defaultValue none */
  softTimeLimit?: number;
  /** The largest message body accepted, in bytes; a larger one is dead-lettered without being parsed. @defaultValue 1048576 */
  maxMessageBytes?: number;
}

export interface WorkerEvents {
  'task-succeeded': { taskId: string; taskName: string; runtimeMs: number };
  'task-failed': { taskId: string; taskName: string; error: unknown };
  'task-retried': { taskId: string; taskName: string; retries: number; delayMs: number };
  'task-revoked': { taskId: string; taskName: string; reason: 'expired' };
  /** A message dead-lettered or dropped by the worker: not a task, an unknown task, or a poison message. */
  'message-rejected': { queue: string; reason: string; deadLettered: boolean };
}

/**
 * Consumes the chosen queues and runs their tasks. The delivery contract:
 * - prefetch = concurrency x multiplier, so the broker never hands this worker more than it can
 *   start soon; other workers get the rest;
 * - a message is acked only after its task finished and its result was confirmed by the broker
 *   (late ack): a worker that dies mid-task loses nothing, the broker redelivers;
 * - a task that throws gives a FAILURE result and is acked;
 * - a task that retries (`ctx.retry()`, `autoretryFor`) is published again, delayed by the broker,
 *   before its delivery is acked; past its allowed retries it fails;
 * - a message that cannot be a task is dead-lettered with its reason where the queue has a
 *   dead-letter exchange (else rejected without requeue) and logged; the worker goes on;
 * - on a classic queue with `deliveryLimit`, the worker counts deliveries itself (quorum queues
 *   count in the broker) and dead-letters a message delivered that often without finishing.
 */
export class Worker {
  readonly hostname: string;
  private readonly concurrency: number;
  private readonly prefetch: number;
  private readonly logger: Logger;
  /** The channel of the current consumers; deliveries of an older one cannot be acked. */
  private current: TransportChannel | undefined;
  /** Consumer tag of each queue consumed on `current`. */
  private readonly consumerTags = new Map<string, string>();
  /** The loop that re-opens the channel after it closed; one at a time. */
  private reopening: Promise<void> | undefined;
  private wakeReopen: (() => void) | undefined;
  private unsubscribe: (() => void) | undefined;
  private readonly inbox: Delivery[] = [];
  private readonly running = new Map<Delivery, AbortController>();
  /** Per consumed queue: where its dead letters go, and warren's delivery limit for classic queues. */
  private readonly queueSettings: ReadonlyMap<string, QueueSettings>;
  private stopping = false;
  private idle: (() => void) | undefined;
  private readonly events = new TypedEvents<WorkerEvents>();

  constructor(
    private readonly connection: Transport,
    private readonly publisher: Publisher,
    private readonly tasks: TaskLookup,
    logger: Logger,
    private readonly options: WorkerOptions,
  ) {
    this.hostname = options.hostname ?? `warren@${osHostname()}`;
    this.concurrency = Math.max(1, options.concurrency ?? 1);
    this.prefetch = this.concurrency * Math.max(1, options.prefetchMultiplier ?? 1);
    this.logger = logger.child({ component: 'worker', hostname: this.hostname });
    this.queueSettings = new Map(
      options.queues.map((queue) => {
        const table = queueArguments(queue);
        const exchange = deadLetterExchange(table);
        return [
          queue.name,
          {
            deadLetter: exchange === undefined ? undefined : { exchange, routingKey: deadLetterRoutingKey(table) },
            countedDeliveryLimit: queue.type === 'classic' ? queue.deliveryLimit : undefined,
          },
        ];
      }),
    );
  }

  on<K extends keyof WorkerEvents>(event: K, listener: (event: WorkerEvents[K]) => void): this {
    this.events.on(event, listener);
    return this;
  }

  /** Declares the queues' topology, then starts consuming. */
  async start(): Promise<void> {
    const names = this.options.queues.map((q) => q.name);
    await declareOnOwnChannel(this.connection, this.options.topology);
    await this.publisher.start();
    // Retries and early tasks go back to the queue they came from, through the delay levels.
    await this.options.republisher.prepare(names.map((queue) => ({ exchange: '', routingKey: queue })));
    await this.openChannel(false);
    this.unsubscribe = this.connection.onConnect(() => this.reopen());
    this.logger.info({ queues: names, concurrency: this.concurrency, prefetch: this.prefetch, node: this.connection.connectedTo() }, 'worker ready');
  }

  /**
   * Opens a channel with the worker's prefetch and consumes every queue on it. After a loss
   * (`redeclare`), the topology is declared again first: a restarted broker keeps durable
   * queues, but not the others, and someone may have deleted one meanwhile.
   */
  private async openChannel(redeclare: boolean): Promise<void> {
    const names = this.options.queues.map((q) => q.name);
    if (redeclare) {
      await declareOnOwnChannel(this.connection, this.options.topology);
      this.logger.info({ queues: names }, 'topology re-declared');
    }
    const channel = await this.connection.openChannel();
    channel.on('close', () => this.onChannelClosed(channel));
    try {
      // Quorum queues refuse a channel-wide (global) prefetch, so the channel limit is set only
      // when every consumed queue is classic; the per-consumer limit applies always.
      await channel.prefetch(this.prefetch, false);
      if (this.options.queues.every((q) => q.type !== 'quorum')) await channel.prefetch(this.prefetch, true);
      this.consumerTags.clear();
      for (const queue of names) await this.consume(channel, queue);
    } catch (err) {
      await channel.close().catch(() => undefined);
      throw err;
    }
    this.current = channel;
    if (redeclare) this.logger.info({ queues: names, prefetch: this.prefetch, node: this.connection.connectedTo() }, 'consuming again');
  }

  private async consume(channel: TransportChannel, queue: string): Promise<void> {
    const { consumerTag } = await channel.consume(queue, (message) => this.onDelivery(channel, queue, message), { noAck: false });
    this.consumerTags.set(queue, consumerTag);
  }

  /**
   * Deliveries of a closed channel can no longer be acked: the broker has requeued them, so
   * those not started are dropped here (running ones finish; their ack fails and the broker
   * redelivers). Unless the worker is stopping, a new channel is opened: at once when only the
   * channel closed, after the reconnect when the connection went (the connection logs that).
   */
  private onChannelClosed(channel: TransportChannel): void {
    let dropped = 0;
    for (let i = this.inbox.length - 1; i >= 0; i -= 1) {
      if (this.inbox[i].channel !== channel) continue;
      this.inbox[i].settled = true;
      this.inbox.splice(i, 1);
      dropped += 1;
    }
    if (dropped > 0) this.logger.debug({ dropped }, 'dropped prefetched deliveries of a closed channel; the broker requeued them');
    if (channel !== this.current) return;
    this.current = undefined;
    this.consumerTags.clear();
    if (this.stopping) return;
    // A lost connection closes its channels just before it reports its own close: look after that.
    setImmediate(() => {
      if (this.current || this.stopping || !this.connection.isConnected()) return;
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
    if (this.stopping) return;
    if (this.reopening) {
      this.wakeReopen?.();
      return;
    }
    this.reopening = (async () => {
      const failures = new RateLimitedLog(this.logger);
      for (let attempt = 1; !this.stopping && !this.current; attempt += 1) {
        if (!this.connection.isConnected()) {
          // The reconnect wakes it; the timeout only guards against a missed wake.
          await this.sleep(5000, true);
          attempt = 0;
          continue;
        }
        try {
          await this.openChannel(true);
        } catch (err) {
          if (!this.connection.isConnected()) continue;
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
      if (this.stopping || channel !== this.current || this.consumerTags.has(queue)) return;
      try {
        await declareOnOwnChannel(this.connection, this.options.topology);
        if (this.stopping || channel !== this.current) return;
        await this.consume(channel, queue);
        this.logger.info({ queue, prefetch: this.prefetch }, 'consuming again');
        return;
      } catch (err) {
        failures.error({ queue, err: (err as Error).message, attempt }, 'could not consume the queue again; retrying');
        await this.sleep(Math.min(30_000, 1000 * 2 ** (attempt - 1)));
      }
    }
  }

  private onDelivery(channel: TransportChannel, queue: string, message: DeliveredMessage | null): void {
    if (message === null) {
      if (this.stopping || channel !== this.current) return;
      this.consumerTags.delete(queue);
      this.logger.error({ queue }, 'the broker cancelled the consumer (was the queue deleted?); declaring it again and consuming it');
      void this.restoreConsumer(channel, queue);
      return;
    }
    if (this.stopping) {
      settle({ channel, message, queue, settled: false }, 'requeue');
      return;
    }
    this.inbox.push({ channel, message, queue, settled: false });
    this.pump();
  }

  private pump(): void {
    while (!this.stopping && this.running.size < this.concurrency && this.inbox.length > 0) {
      const delivery = this.inbox.shift()!;
      const abort = new AbortController();
      this.running.set(delivery, abort);
      void this.execute(delivery, abort)
        .catch((err: unknown) => this.unexpected(delivery, err))
        .finally(() => {
          this.running.delete(delivery);
          if (this.running.size === 0) this.idle?.();
          this.pump();
        });
    }
  }

  private async execute(delivery: Delivery, abort: AbortController): Promise<void> {
    const { message, queue } = delivery;
    // Checked before anything reads the body: an oversized message is never parsed.
    const limit = this.options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    if (message.content.length > limit) {
      const { task: name, id } = message.properties.headers ?? {};
      const label = typeof name === 'string' && typeof id === 'string' ? `task ${clip(name)}[${clip(id)}]` : 'message';
      await this.deadLetter(delivery, new MessageTooLargeError(label, message.content.length, limit).message, 'message rejected: too large');
      return;
    }
    if (message.fields.redelivered && (await this.countRedelivery(delivery))) return;
    let task: TaskMessage;
    try {
      task = decodeTaskMessage({ content: message.content, properties: message.properties });
    } catch (err) {
      const reason = err instanceof InvalidMessageError ? err.message : `undecodable message: ${String(err)}`;
      await this.deadLetter(delivery, reason, 'message rejected: not a valid task');
      return;
    }
    const log = this.logger.child({ queue, task: task.task, taskId: task.id });
    const registered = this.tasks.get(task.task);
    if (!registered) {
      await this.sendResult(task, queue, 'FAILURE', { exc_type: 'NotRegistered', exc_message: [task.task], exc_module: 'celery.exceptions' }, null, log);
      await this.deadLetter(delivery, `task "${task.task}" is not registered on this worker`, 'message rejected: not a valid task');
      return;
    }
    if (await this.revokeIfExpired(delivery, task, registered, log)) return;
    if (task.eta) {
      const earlyMs = task.eta.getTime() - Date.now();
      if (earlyMs > HOLD_LIMIT_MS) {
        await this.delayAgain(delivery, task, earlyMs, log);
        return;
      }
      if (earlyMs > 0) {
        await new Promise((resolve) => setTimeout(resolve, earlyMs));
        if (await this.revokeIfExpired(delivery, task, registered, log)) return;
      }
    }
    // Delivered before: flagged by the broker, or a copy that warren's own count sent round.
    const before = previousDeliveries(message.properties.headers) || recordedDeliveries(message.properties.headers);
    const redelivered = message.fields.redelivered || before > 0;
    if (redelivered) log.warn(before > 0 ? { delivery: before + 1 } : {}, 'task redelivered');
    if (registered.options.trackStarted) {
      await this.sendResult(task, queue, 'STARTED', { pid: process.pid, hostname: this.hostname }, null, log, registered);
    }
    const started = performance.now();
    const context: TaskContext = {
      taskId: task.id,
      taskName: task.task,
      retries: task.retries,
      redelivered,
      eta: task.eta,
      signal: abort.signal,
      hostname: this.hostname,
      queue,
      logger: log,
      retry: (options) => {
        throw new Retry(options);
      },
    };
    const hasKwargs = Object.keys(task.kwargs).length > 0;
    const params = hasKwargs ? [...task.args, task.kwargs, context] : [...task.args, context];
    log.debug('task started');
    const limits = this.timeLimits(task, registered);
    const outcome = await runWithinLimits(() => registered.handler(...params), task.task, limits, abort, log);
    if (outcome.kind === 'timed-out') {
      await this.fail(delivery, task, registered, outcome.error, log);
      return;
    }
    if (outcome.kind === 'threw') {
      const { error } = outcome;
      const { retry, autoretryFor } = registered.options;
      if (error instanceof Retry || matchesAutoretry(error, autoretryFor)) {
        const asked = error instanceof Retry ? error : undefined;
        const cause = asked ? asked.cause : error;
        const max = maxRetries(retry, asked?.max);
        if (task.retries < max) {
          const delayMs = asked?.eta ? asked.eta.getTime() - Date.now() : asked?.countdown !== undefined ? asked.countdown * 1000 : retryDelayMs(retry, task.retries);
          await this.retry(delivery, task, registered, { delayMs, cause, signal: asked }, log);
          return;
        }
        await this.fail(delivery, task, registered, new MaxRetriesExceededError(task.task, task.id, task.retries, cause), log);
        return;
      }
      await this.fail(delivery, task, registered, error, log);
      return;
    }
    const { value } = outcome;
    const runtimeMs = performance.now() - started;
    const delivered = await this.sendResult(task, queue, 'SUCCESS', value === undefined ? null : value, null, log, registered);
    log.debug({ runtimeMs }, 'task succeeded');
    this.events.emit('task-succeeded', { taskId: task.id, taskName: task.task, runtimeMs });
    this.finish(delivery, delivered, log);
  }

  /**
   * A bug or a broker surprise while handling a delivery must not take the worker down (an
   * unhandled rejection ends a Node process): log it and take the message out of the queue,
   * so it cannot come round forever; the broker dead-letters it where the queue has a DLX.
   */
  private unexpected(delivery: Delivery, err: unknown): void {
    const id: unknown = delivery.message.properties.headers?.id;
    this.logger.error(
      { queue: delivery.queue, taskId: typeof id === 'string' ? clip(id) : undefined, err: err instanceof Error ? err.message : String(err) },
      'unexpected error while handling a message; rejected without requeue',
    );
    settle(delivery, 'reject');
  }

  /**
   * The time limits of a run, in seconds: the message's own (`timelimit`, hard first), else the
   * task's options, else the worker's.
   */
  private timeLimits(task: TaskMessage, registered: RegisteredTask): TimeLimits {
    const [hard, soft] = task.timelimit;
    return {
      hard: hard ?? registered.options.timeLimit ?? this.options.timeLimit,
      soft: soft ?? registered.options.softTimeLimit ?? this.options.softTimeLimit,
    };
  }

  /** A task past its `expires` is not run: REVOKED, acked, logged. True when it was. */
  private async revokeIfExpired(delivery: Delivery, task: TaskMessage, registered: RegisteredTask, log: Logger): Promise<boolean> {
    if (!task.expires || task.expires.getTime() > Date.now()) return false;
    log.warn({ expires: task.expires.toISOString(), eta: task.eta }, 'task expired before it ran; revoked');
    const revoked = { exc_type: 'TaskRevokedError', exc_message: ['expired'], exc_module: 'celery.exceptions' };
    await this.sendResult(task, delivery.queue, 'REVOKED', revoked, null, log, registered);
    this.events.emit('task-revoked', { taskId: task.id, taskName: task.task, reason: 'expired' });
    this.ack(delivery, log);
    return true;
  }

  private async fail(delivery: Delivery, task: TaskMessage, registered: RegisteredTask, error: unknown, log: Logger): Promise<void> {
    log.warn({ err: error instanceof Error ? error.message : String(error) }, 'task failed');
    const delivered = await this.sendResult(task, delivery.queue, 'FAILURE', encodeError(error), formatTraceback(error), log, registered);
    this.events.emit('task-failed', { taskId: task.id, taskName: task.task, error });
    this.finish(delivery, delivered, log);
  }

  /**
   * Runs the task again later, as Celery's `Task.retry` does: publishes the next attempt (same
   * id, reply queue and correlation id, `retries` + 1, an `eta`) into this queue through the
   * delay levels; once the broker confirmed it, reports RETRY and acks this delivery. If the
   * publish fails, this delivery goes back to the queue, so the task is never lost.
   */
  private async retry(
    delivery: Delivery,
    task: TaskMessage,
    registered: RegisteredTask,
    next: { delayMs: number; cause: unknown; signal: Retry | undefined },
    log: Logger,
  ): Promise<void> {
    const delayMs = Math.max(0, next.delayMs);
    const eta = delayMs > 0 ? new Date(Date.now() + delayMs) : null;
    const { body, properties } = republishTaskMessage(delivery.message, task, { retries: task.retries + 1, eta, dropHeader: transportHeader });
    try {
      await this.options.republisher.publish({ exchange: '', routingKey: delivery.queue, body, properties }, delayMs);
    } catch (err) {
      log.error({ err: (err as Error).message }, 'could not publish the retry; the task goes back to the queue');
      await this.pause();
      settle(delivery, 'requeue');
      return;
    }
    const reported = next.cause ?? next.signal ?? new Retry({ countdown: delayMs / 1000 });
    log.warn({ retries: task.retries + 1, delayMs, eta, err: reported instanceof Error ? reported.message : String(reported) }, 'task will be retried');
    // The next attempt is with the broker already: whatever happens to the RETRY state, ack.
    await this.sendResult(task, delivery.queue, 'RETRY', encodeError(reported), formatTraceback(reported), log, registered);
    this.events.emit('task-retried', { taskId: task.id, taskName: task.task, retries: task.retries + 1, delayMs });
    this.ack(delivery, log);
  }

  /**
   * A task that arrived before its `eta` (sent by a client without delay levels, such as Python
   * Celery, or early by clock skew): the same message goes back into the delay levels, bound
   * for this queue, and only once the broker confirmed that copy is this delivery acked.
   */
  private async delayAgain(delivery: Delivery, task: TaskMessage, delayMs: number, log: Logger): Promise<void> {
    const { body, properties } = republishTaskMessage(delivery.message, task, { dropHeader: transportHeader });
    try {
      await this.options.republisher.publish({ exchange: '', routingKey: delivery.queue, body, properties }, delayMs);
    } catch (err) {
      log.error({ err: (err as Error).message, eta: task.eta }, 'could not move an early task into the delay levels; it goes back to the queue');
      await this.pause();
      settle(delivery, 'requeue');
      return;
    }
    log.debug({ eta: task.eta, delayMs }, 'task not due yet: moved into the delay levels');
    this.ack(delivery, log);
  }

  /** A short wait before handing a message back after a broker error, so it does not spin. */
  private pause(): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, HOLD_LIMIT_MS));
  }

  /**
   * Publishes a result to the caller's reply queue and waits for the broker's confirm.
   * Returns false only when the broker could not take it: the message is then handed back,
   * so the caller still gets a result from a redelivery. A reply queue that is gone is no
   * reason to run the task again: that result is dropped with a warning, as Celery does.
   */
  private async sendResult(
    task: TaskMessage,
    queue: string,
    status: 'SUCCESS' | 'FAILURE' | 'STARTED' | 'REVOKED' | 'RETRY',
    result: unknown,
    traceback: string | null,
    log: Logger,
    registered?: RegisteredTask,
  ): Promise<boolean> {
    if (!task.replyTo || task.ignoreResult || registered?.options.ignoreResult) return true;
    const { body, properties } = encodeResultMessage({
      taskId: task.id,
      status,
      result,
      traceback,
      parentId: task.parentId,
      correlationId: task.correlationId ?? task.id,
      extended: { name: task.task, worker: this.hostname, queue, retries: task.retries },
    });
    try {
      await this.publisher.publish({ exchange: '', routingKey: task.replyTo, body, properties });
      return true;
    } catch (err) {
      if (err instanceof UnroutableError) {
        log.warn({ replyTo: task.replyTo, status }, 'result dropped: the reply queue no longer exists');
        return true;
      }
      log.error({ err: (err as Error).message, status }, 'could not publish the result; the message goes back to the queue');
      return false;
    }
  }

  private finish(delivery: Delivery, resultDelivered: boolean, log: Logger): void {
    if (resultDelivered) this.ack(delivery, log);
    else settle(delivery, 'requeue');
  }

  private ack(delivery: Delivery, log: Logger): void {
    if (!settle(delivery, 'ack')) {
      log.warn('could not ack: the channel closed meanwhile, so the broker will redeliver the message');
    }
  }

  /**
   * Takes a message out of the queue for good, saying why. Where the queue has a dead-letter
   * exchange, a copy goes there with `x-warren-reason` and friends (a nack cannot carry a
   * reason) and, once the broker confirmed it, the delivery is acked. Where the copy cannot be
   * published, or there is no dead-letter exchange, the delivery is rejected without requeue:
   * the broker then dead-letters it itself (with its own `x-death`) or drops it.
   */
  private async deadLetter(delivery: Delivery, fullReason: string, logMessage: string): Promise<void> {
    const { message, queue } = delivery;
    const target = this.queueSettings.get(queue)?.deadLetter;
    // Reasons quote the message's own values: bounded, so a hostile message cannot blow up a header or a log line.
    const reason = clip(fullReason, 1000);
    const id: unknown = message.properties.headers?.id;
    const fields = { queue, reason, deliveryTag: message.fields.deliveryTag, taskId: typeof id === 'string' ? clip(id) : undefined };
    if (target) {
      const headers = { ...message.properties.headers, ...deadLetterHeaders(reason, queue, this.hostname, new Date()) };
      try {
        await this.publisher.publish({
          exchange: target.exchange,
          routingKey: target.routingKey ?? message.fields.routingKey,
          body: message.content,
          properties: copiedProperties(message.properties, headers),
        });
        this.logger.error({ ...fields, deadLetterExchange: target.exchange }, logMessage);
        this.ack(delivery, this.logger);
        this.events.emit('message-rejected', { queue, reason, deadLettered: true });
        return;
      } catch (err) {
        this.logger.warn({ ...fields, err: (err as Error).message }, 'could not publish to the dead-letter exchange; rejecting the message instead');
      }
    }
    this.logger.error(fields, logMessage);
    settle(delivery, 'reject');
    this.events.emit('message-rejected', { queue, reason, deadLettered: false });
  }

  /**
   * warren's delivery count for a classic queue with `deliveryLimit`, which keeps no count of
   * its own. A redelivery is not run: if the limit allows another delivery, a copy recording
   * the count (`x-warren-deliveries`) is published to the back of the queue and, once
   * confirmed, this delivery is acked; the copy runs when it comes round. Past the limit, the
   * message is dead-lettered as a poison message. True when the delivery was settled here.
   * Deliveries handed back unstarted at shutdown count too, as they do on quorum queues.
   */
  private async countRedelivery(delivery: Delivery): Promise<boolean> {
    const { message, queue } = delivery;
    const limit = this.queueSettings.get(queue)?.countedDeliveryLimit;
    if (limit === undefined) return false;
    const count = recordedDeliveries(message.properties.headers) + 2;
    if (count > limit) {
      const reason = `delivered ${count - 1} times without finishing (deliveryLimit ${limit}): a poison message`;
      await this.deadLetter(delivery, reason, 'poison message dead-lettered');
      return true;
    }
    const headers = { ...message.properties.headers, ...deliveryCountHeader(count - 1) };
    try {
      await this.publisher.publish({ exchange: '', routingKey: queue, body: message.content, properties: copiedProperties(message.properties, headers) });
    } catch (err) {
      this.logger.error({ queue, err: (err as Error).message }, 'could not record a redelivery; the message goes back to the queue');
      await this.pause();
      settle(delivery, 'requeue');
      return true;
    }
    this.logger.warn({ queue, delivery: count, deliveryLimit: limit, taskId: message.properties.headers?.id }, 'redelivered message counted and sent round again');
    this.ack(delivery, this.logger);
    return true;
  }

  /** Number of tasks running now. */
  get active(): number {
    return this.running.size;
  }

  /**
   * Stops consuming, lets running tasks finish (at most `shutdownTimeoutMs`), hands prefetched
   * messages that never started back to the broker, and closes the worker's channels.
   */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.unsubscribe?.();
    this.wakeReopen?.();
    const channel = this.current;
    if (channel) {
      await Promise.all([...this.consumerTags.values()].map((tag) => channel.cancel(tag).catch(() => undefined)));
    }
    for (const delivery of this.inbox.splice(0)) settle(delivery, 'requeue');
    if (this.running.size > 0) {
      const timeoutMs = this.options.shutdownTimeoutMs ?? 30_000;
      this.logger.info({ running: this.running.size, timeoutMs }, 'waiting for running tasks to finish');
      const finished = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), timeoutMs);
        this.idle = () => {
          clearTimeout(timer);
          resolve(true);
        };
      });
      if (!finished) {
        this.logger.warn({ running: this.running.size }, 'shutdown timeout: handing running tasks back to the broker');
        for (const [delivery, abort] of this.running) {
          abort.abort(new Error('worker shutting down'));
          settle(delivery, 'requeue');
        }
      }
    }
    const last = this.current;
    this.current = undefined;
    await last?.close().catch(() => undefined);
    this.logger.info('worker stopped');
  }
}

interface QueueSettings {
  /** Where warren sends the queue's dead letters itself: its dead-letter exchange and routing key. */
  readonly deadLetter: { readonly exchange: string; readonly routingKey: string | undefined } | undefined;
  /** `deliveryLimit` of a classic queue, which the worker enforces; undefined for quorum queues (the broker does). */
  readonly countedDeliveryLimit: number | undefined;
}
