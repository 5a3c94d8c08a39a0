import { randomUUID } from 'node:crypto';
import { MessageTooLargeError, UnknownQueueError, UsageError } from '../errors';
import type { Logger } from '../logging/logger';
import { DEFAULT_MAX_MESSAGE_BYTES, encodeTaskMessage, isPlainObject, type JsonDates, type TaskEmbed } from '../protocol';
import type { Route, Router } from '../router';
import type { PublishRequest } from '../transport';
import type { DelayedDelivery } from './delayed-delivery';

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
  /**
   * Run no earlier than this many seconds from now. The broker holds the task meanwhile
   * (rounded up to whole seconds, so it never runs early). Not with `eta`.
   */
  countdown?: number;
  /** Run no earlier than this time; the broker holds the task until then. Not with `countdown`. */
  eta?: Date;
  /** Seconds after which the worker stops waiting for the task and records a FAILURE. @defaultValue the task's */
  timeLimit?: number;
  /** Seconds after which the task's AbortSignal is aborted. @defaultValue the task's */
  softTimeLimit?: number;
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
  /** The task's place in a workflow (a chain's step, a group's member, a callback). */
  workflow?: TaskWorkflow;
}

/** What a message of a workflow carries besides the task call (Celery's canvas). */
export interface TaskWorkflow {
  rootId?: string | null;
  parentId?: string | null;
  groupId?: string | null;
  groupIndex?: number | null;
  shadow?: string | null;
  embed?: Partial<TaskEmbed> | null;
  /**
   * A queue named by a signature that the definitions do not declare is reached through the
   * default exchange by its name, as Celery publishes to a direct queue (a Python peer may name
   * its own queues); a declared one is routed as usual. @defaultValue false
   */
  queueByName?: boolean;
}

export interface PublishedTask {
  taskId: string;
  route: Route;
  /** When the task may run, when it was sent with `countdown` or `eta`. */
  eta: Date | null;
  /** When it expires, when it was sent with `expires`. */
  expires: Date | null;
}

/**
 * Sends tasks by name: route, encode as a Celery v2 message, publish with confirms and
 * `mandatory`. Resolves only once the broker confirmed the message; an unroutable task
 * rejects with the exchange and routing key it was sent to, and one whose body is over
 * `maxMessageBytes` rejects before anything is sent.
 */
export class Producer {
  private readonly logger: Logger;

  constructor(
    private readonly router: Router,
    private readonly publisher: DelayedDelivery,
    logger: Logger,
    private readonly maxMessageBytes: number = DEFAULT_MAX_MESSAGE_BYTES,
    private readonly jsonDates: JsonDates = 'tagged',
  ) {
    this.logger = logger.child({ component: 'producer' });
  }

  /** A fresh task id, for callers that must know it before publishing. */
  static newTaskId(): string {
    return randomUUID();
  }

  publish(task: TaskPublication): Promise<PublishedTask> {
    let published: PublishedTask;
    let request: PublishRequest;
    let delayMs: number;
    try {
      ({ published, request, delayMs } = this.encode(task));
    } catch (err) {
      return Promise.reject(err);
    }
    // Not async, and nothing but `published` waits for the confirm: what an async function
    // would keep until then (the task, its options, the encoded message) is garbage at once.
    return this.publisher.publish(request, delayMs).then(() => {
      // Guarded: the fields object would be built for every task even with debug off.
      if (this.logger.isLevelEnabled('debug')) {
        const { taskId, route, eta } = published;
        this.logger.debug(
          { task: task.taskName, taskId, exchange: route.exchange, routingKey: route.routingKey, queue: route.queue, eta },
          delayMs > 0 ? 'task sent with a delay' : 'task sent',
        );
      }
      return published;
    });
  }

  /** Routes and encodes `task`; the delay counts from now, which comes after the message's `now`. */
  private encode(task: TaskPublication): { published: PublishedTask; request: PublishRequest; delayMs: number } {
    const { options } = task;
    const workflow = task.workflow;
    const route = this.routeOf(task.taskName, options, workflow?.queueByName ?? false);
    const now = new Date();
    const expires =
      options.expires === undefined
        ? null
        : options.expires instanceof Date
          ? options.expires
          : new Date(now.getTime() + options.expires * 1000);
    const eta = etaOf(options, now);
    const { body, properties } = encodeTaskMessage({
      id: task.taskId,
      task: task.taskName,
      // Copies only where the copy changes something: another iterable, a class instance.
      args: Array.isArray(task.args) ? task.args : [...task.args],
      kwargs: isPlainObject(task.kwargs) ? task.kwargs : { ...(task.kwargs as object) },
      eta,
      expires,
      timelimit: [limitOf(options.timeLimit, 'timeLimit'), limitOf(options.softTimeLimit, 'softTimeLimit')],
      replyTo: task.replyTo,
      priority: options.priority ?? 0,
      ignoreResult: options.ignoreResult ?? false,
      headers: options.headers,
      now,
      rootId: workflow?.rootId,
      parentId: workflow?.parentId,
      group: workflow?.groupId,
      groupIndex: workflow?.groupIndex,
      shadow: workflow?.shadow,
      embed: workflow?.embed,
      jsonDates: this.jsonDates,
    });
    // Celery also sets `expiration`, so the broker drops an expired task unseen and its caller
    // waits for nothing. warren leaves it out: a worker sees the expired task, reports REVOKED
    // and acks it (the `expires` header says when). The properties are the encoder's own copy.
    if (properties.expiration !== undefined) delete properties.expiration;
    if (body.length > this.maxMessageBytes) {
      throw new MessageTooLargeError(`task ${task.taskName}[${task.taskId}]`, body.length, this.maxMessageBytes);
    }
    return {
      published: { taskId: task.taskId, route, eta, expires },
      request: { exchange: route.exchange, routingKey: route.routingKey, body, properties },
      delayMs: eta === null ? 0 : eta.getTime() - Date.now(),
    };
  }

  /** The route; with `queueByName`, a queue that is not declared is that queue through the default exchange. */
  private routeOf(taskName: string, options: SendTaskOptions, queueByName: boolean): Route {
    const overrides = { queue: options.queue, exchange: options.exchange, routingKey: options.routingKey };
    try {
      return this.router.route(taskName, overrides);
    } catch (err) {
      if (!queueByName || !(err instanceof UnknownQueueError) || options.queue === undefined) throw err;
      return { exchange: options.exchange ?? '', routingKey: options.routingKey ?? options.queue, queue: options.queue };
    }
  }
}

/** The eta `countdown` or `eta` asks for, or null. @throws UsageError for both, or a bad value. */
function etaOf(options: SendTaskOptions, now: Date): Date | null {
  const { countdown, eta } = options;
  if (countdown !== undefined && eta !== undefined) throw new UsageError('sendTask: give countdown or eta, not both');
  if (countdown !== undefined) {
    if (typeof countdown !== 'number' || !Number.isFinite(countdown) || countdown < 0) {
      throw new UsageError(`sendTask: countdown must be a number of seconds >= 0 (got ${String(countdown)})`);
    }
    return new Date(now.getTime() + countdown * 1000);
  }
  if (eta !== undefined && (!(eta instanceof Date) || Number.isNaN(eta.getTime()))) {
    throw new UsageError(`sendTask: eta must be a valid Date (got ${String(eta)})`);
  }
  return eta ?? null;
}

function limitOf(seconds: number | undefined, name: string): number | null {
  if (seconds === undefined) return null;
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds <= 0) {
    throw new UsageError(`sendTask: ${name} must be a number of seconds above 0 (got ${String(seconds)})`);
  }
  return seconds;
}
