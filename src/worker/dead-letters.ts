import type { QueueDefinition } from '../config/types';
import type { Logger } from '../logging/logger';
import { clip, copiedProperties } from '../protocol';
import {
  deadLetterExchange,
  deadLetterHeaders,
  deadLetterRoutingKey,
  deliveryCountHeader,
  isBrokerHeader,
  isDeliveryCountHeader,
  previousDeliveries,
  queueArguments,
  recordedDeliveries,
} from '../topology';
import type { DeliveredMessage, Publisher } from '../transport';
import { settle, type Delivery } from './delivery';

/** Per consumed queue: where its dead letters go, and its delivery limit. */
interface QueueSettings {
  /** Where warren sends the queue's dead letters itself: its dead-letter exchange and routing key. */
  readonly deadLetter: { readonly exchange: string; readonly routingKey: string | undefined } | undefined;
  /** The queue's `deliveryLimit`, which the worker enforces (on quorum queues the broker's limit backs it up). */
  readonly deliveryLimit: number | undefined;
}

/** A message taken out of its queue: whether a copy reached the dead-letter exchange, and why. */
export interface Rejection {
  queue: string;
  reason: string;
  deadLettered: boolean;
  /** The message's task id, when its headers carry one (clipped). */
  taskId?: string;
}

/**
 * Dead letters and delivery counting: how the worker takes a message out of its queue for
 * good (with its reason), and how it bounds a poison message, one that keeps killing the
 * workers that run it, by `deliveryLimit` without blaming the messages that were only
 * delivered alongside it.
 *
 * Counting runs, not deliveries. When a worker is lost, the broker hands back everything it
 * held: the task that killed it, and the innocent ones prefetched or running with it, all
 * flagged `redelivered` (and counted by a quorum queue). Which one was guilty nobody can tell
 * then. So a redelivered message is not run: it is *suspect*, and gets a copy carrying the
 * count of its lost runs (`x-warren-deliveries`), confirmed before the redelivery is acked, or,
 * past `deliveryLimit`, is dead-lettered. A copy that carries a count is run *alone*: the worker
 * stops consuming, sends the deliveries it holds unstarted back round (copies, so they are not
 * flagged), waits for its running tasks, and only then runs it. If that run kills the worker,
 * the copy alone comes back, and its count is its own. An innocent message is counted at most
 * once per poison message it met before that one was suspect.
 */
export class DeadLetters {
  private readonly settings = new Map<string, QueueSettings>();
  /** While the consumer pauses, copies wait to be sent round: see `holdCopiesUntil`. */
  private held: Promise<unknown> | undefined;

  constructor(
    queues: readonly QueueDefinition[],
    private readonly publisher: Publisher,
    private readonly hostname: string,
    private readonly logger: Logger,
    private readonly onRejected: (rejection: Rejection) => void,
  ) {
    for (const queue of queues) this.addQueue(queue);
  }

  /** Learns the settings of a queue the worker consumes (also one added at runtime: `add_consumer`). */
  addQueue(queue: QueueDefinition): void {
    const table = queueArguments(queue);
    const exchange = deadLetterExchange(table);
    this.settings.set(queue.name, {
      deadLetter: exchange === undefined ? undefined : { exchange, routingKey: deadLetterRoutingKey(table) },
      deliveryLimit: queue.deliveryLimit,
    });
  }

  /** Whether the worker counts the runs of this queue's messages (it has a `deliveryLimit`). */
  counts(queue: string): boolean {
    return this.settings.get(queue)?.deliveryLimit !== undefined;
  }

  /** A delivery of a counted queue that a lost worker held (the broker redelivered it): counted before it runs. */
  isSuspect(delivery: Delivery): boolean {
    const { message, queue } = delivery;
    return this.counts(queue) && (message.fields.redelivered || previousDeliveries(message.properties.headers) > 0);
  }

  /** A counted copy (it carries lost runs, and was not redelivered since): it runs alone. */
  runsAlone(delivery: Delivery): boolean {
    return this.counts(delivery.queue) && !this.isSuspect(delivery) && recordedDeliveries(delivery.message.properties.headers) > 0;
  }

  /**
   * Holds the copies sent round back to the queue until `paused` settles (the consumer's
   * cancel). A quorum queue may still hand a message enqueued before it applied a cancel to
   * the cancelled consumer; the broker then takes it back counted, and flagged redelivered,
   * though no worker ever saw it, and the copy's next delivery would count a lost run that
   * never happened. A copy published after the cancel-ok cannot meet the old consumer.
   */
  holdCopiesUntil(paused: Promise<unknown>): void {
    const held = paused.catch(() => undefined).finally(() => {
      if (this.held === held) this.held = undefined;
    });
    this.held = held;
  }

  /**
   * Takes a message out of the queue for good, saying why. Where the queue has a dead-letter
   * exchange, a copy goes there with `x-warren-reason` and friends (a nack cannot carry a
   * reason) and, once the broker confirmed it, the delivery is acked. Where the copy cannot be
   * published, or there is no dead-letter exchange, the delivery is rejected without requeue:
   * the broker then dead-letters it itself (with its own `x-death`) or drops it.
   */
  async deadLetter(delivery: Delivery, fullReason: string, logMessage: string): Promise<void> {
    const { message, queue } = delivery;
    const target = this.settings.get(queue)?.deadLetter;
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
        this.ack(delivery);
        this.onRejected({ queue, reason, deadLettered: true, taskId: fields.taskId });
        return;
      } catch (err) {
        this.logger.warn({ ...fields, err: (err as Error).message }, 'could not publish to the dead-letter exchange; rejecting the message instead');
      }
    }
    this.logger.error(fields, logMessage);
    settle(delivery, 'reject');
    this.onRejected({ queue, reason, deadLettered: false, taskId: fields.taskId });
  }

  /**
   * A suspect delivery (see the class): past `deliveryLimit` it is dead-lettered as a poison
   * message; else a copy recording one more lost run goes to the back of the queue and, once
   * confirmed, this delivery is acked. The copy runs alone when it comes round.
   */
  async countRedelivery(delivery: Delivery): Promise<void> {
    const { message, queue } = delivery;
    const limit = this.settings.get(queue)?.deliveryLimit ?? Infinity;
    // This delivery's number: the lost runs recorded on the copy, the copy's own lost run, this one.
    const count = recordedDeliveries(message.properties.headers) + 2;
    if (count > limit) {
      const reason = `delivered ${count - 1} times without finishing (deliveryLimit ${limit}): a poison message`;
      await this.deadLetter(delivery, reason, 'poison message dead-lettered');
      return;
    }
    if (await this.sendRound(delivery, count - 1)) {
      this.logger.warn({ queue, delivery: count, deliveryLimit: limit, taskId: message.properties.headers?.id }, 'redelivered message counted and sent round again; it will run alone');
    }
  }

  /**
   * Sends an unstarted delivery back round without flagging it redelivered (a requeue would,
   * and it would be counted): a copy with the same count goes to the back of the queue and,
   * once confirmed, this delivery is acked. False when the copy could not be published: the
   * delivery was handed back to the broker instead.
   */
  async sendRound(delivery: Delivery, lostRuns = recordedDeliveries(delivery.message.properties.headers)): Promise<boolean> {
    const { message, queue } = delivery;
    const headers = { ...ownHeaders(message), ...(lostRuns > 0 ? deliveryCountHeader(lostRuns) : {}) };
    while (this.held) await this.held;
    try {
      await this.publisher.publish({ exchange: '', routingKey: queue, body: message.content, properties: copiedProperties(message.properties, headers) });
    } catch (err) {
      this.logger.error({ queue, err: (err as Error).message }, 'could not send a message round again; it goes back to the queue');
      // A short wait first, so a broker that refuses does not make it spin.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      settle(delivery, 'requeue');
      return false;
    }
    this.ack(delivery);
    return true;
  }

  private ack(delivery: Delivery): void {
    if (!settle(delivery, 'ack')) {
      this.logger.warn({ queue: delivery.queue }, 'could not ack: the channel closed meanwhile, so the broker will redeliver the message');
    }
  }
}

/** The message's headers without those of its trip through the broker (`x-delivery-count`, `x-death`) and without a count. */
function ownHeaders(message: DeliveredMessage): Record<string, unknown> {
  const headers = { ...message.properties.headers };
  for (const name of Object.keys(headers)) if (isBrokerHeader(name) || isDeliveryCountHeader(name)) delete headers[name];
  return headers;
}
