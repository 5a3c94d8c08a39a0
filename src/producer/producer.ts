import { randomUUID } from 'node:crypto';
import type { Logger } from '../logging/logger';
import { encodeTaskMessage } from '../protocol';
import type { Route, Router } from '../router';
import type { Publisher } from '../transport';

/** Options of `sendTask`, named as a Celery user knows them from `apply_async`. */
export interface SendTaskOptions {
  /** Send to this declared queue instead of the routed one. */
  queue?: string;
  /** Publish to this exchange instead of the routed one. */
  exchange?: string;
  /** Publish with this routing key instead of the routed one. */
  routingKey?: string;
  /** Message priority (0-255); effective on queues declared with `maxPriority`. @defaultValue 0 */
  priority?: number;
  /** The task id. @defaultValue a random UUID */
  taskId?: string;
  /** Seconds from now, or a date, after which the task is not run. */
  expires?: number | Date;
  /** Extra message headers, merged into Celery's. */
  headers?: Record<string, unknown>;
  /** Ask the worker not to send a result. @defaultValue false */
  ignoreResult?: boolean;
}

export interface TaskPublication {
  taskId: string;
  taskName: string;
  args: readonly unknown[];
  kwargs: Readonly<Record<string, unknown>>;
  /** The caller's reply queue, or '' when no result is wanted. */
  replyTo: string;
  options: SendTaskOptions;
}

export interface PublishedTask {
  taskId: string;
  route: Route;
}

/**
 * Sends tasks by name: route, encode as a Celery v2 message, publish with confirms and
 * `mandatory`. Resolves only once the broker confirmed the message; an unroutable task
 * rejects with the exchange and routing key it was sent to.
 */
export class Producer {
  private readonly logger: Logger;

  constructor(
    private readonly router: Router,
    private readonly publisher: Publisher,
    logger: Logger,
  ) {
    this.logger = logger.child({ component: 'producer' });
  }

  /** A fresh task id, for callers that must know it before publishing. */
  static newTaskId(): string {
    return randomUUID();
  }

  async publish(task: TaskPublication): Promise<PublishedTask> {
    const { options } = task;
    const route = this.router.route(task.taskName, {
      queue: options.queue,
      exchange: options.exchange,
      routingKey: options.routingKey,
    });
    const expires =
      options.expires === undefined
        ? null
        : options.expires instanceof Date
          ? options.expires
          : new Date(Date.now() + options.expires * 1000);
    const { body, properties } = encodeTaskMessage({
      id: task.taskId,
      task: task.taskName,
      args: [...task.args],
      kwargs: { ...task.kwargs },
      expires,
      replyTo: task.replyTo,
      priority: options.priority ?? 0,
      ignoreResult: options.ignoreResult ?? false,
      headers: options.headers,
    });
    await this.publisher.publish({ exchange: route.exchange, routingKey: route.routingKey, body, properties });
    this.logger.debug(
      { task: task.taskName, taskId: task.taskId, exchange: route.exchange, routingKey: route.routingKey, queue: route.queue },
      'task sent',
    );
    return { taskId: task.taskId, route };
  }
}
