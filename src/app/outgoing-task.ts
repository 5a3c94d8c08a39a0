import type { OutgoingTask } from '../canvas';
import { parseIsoDatetime } from '../protocol';
import type { SendTaskOptions, TaskPublication } from '../producer';

/**
 * A workflow's task message as the producer publishes it: Celery's `apply_async` options
 * (`routing_key`, `time_limit`, an `eta` or `expires` written by a Python peer as a string…)
 * read into `sendTask`'s, the workflow's own fields carried on.
 *
 * @param fromMessage - the signature came in a message (a worker's workflow step): a queue it
 * names that the definitions do not declare is reached by its name, as Celery would.
 */
export function publicationOf(task: OutgoingTask, fromMessage: boolean): TaskPublication {
  const o = task.options;
  const options: SendTaskOptions = {
    queue: text(o.queue),
    exchange: text(o.exchange),
    routingKey: text(o.routing_key),
    priority: number(o.priority),
    countdown: number(o.countdown),
    eta: date(o.eta),
    expires: typeof o.expires === 'number' ? o.expires : date(o.expires),
    timeLimit: number(o.time_limit),
    softTimeLimit: number(o.soft_time_limit),
    ignoreResult: o.ignore_result === true,
  };
  const defined = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as SendTaskOptions;
  return {
    taskId: task.taskId,
    taskName: task.task,
    args: task.args,
    kwargs: task.kwargs,
    replyTo: task.replyTo,
    options: defined,
    workflow: {
      rootId: task.rootId,
      parentId: task.parentId,
      groupId: task.groupId,
      groupIndex: task.groupIndex,
      shadow: text(o.shadow) ?? null,
      embed: task.embed,
      queueByName: fromMessage,
    },
  };
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function number(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** A Date, or an ISO string a Python peer wrote (a datetime in kombu 5.2's plain JSON). */
function date(value: unknown): Date | undefined {
  if (value instanceof Date) return value;
  if (typeof value === 'string') return parseIsoDatetime(value) ?? undefined;
  return undefined;
}
