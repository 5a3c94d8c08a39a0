import { InvalidMessageError } from '../errors';
import type { AmqpProperties } from './amqp-properties';
import { describeValue, isPlainObject } from './describe-value';
import { readJsonBody } from './json-body';
import { isoDate, optionalString } from './message-fields';
import type { TaskStatus } from './task-state';

/** A result read from a reply queue. */
export interface ResultMessage {
  /** `task_id` from the body, else the correlation id. */
  taskId: string;
  /** A {@link TaskState} or a custom state a Python task reported. */
  status: TaskStatus;
  /** The return value, or the encoded exception in exception states (see `decodeError`). */
  result: unknown;
  traceback: string | null;
  children: unknown[];
  /** Null for states that are not ready. */
  dateDone: Date | null;
  /** Extended result fields, where the worker sent them. */
  worker?: string;
  queue?: string;
}

/**
 * Decodes a result message that a Celery or warren worker sent to a reply queue. The body is
 * kombu JSON, so a Python task's datetime result arrives as a Date.
 *
 * @throws InvalidMessageError with the reason, e.g. `invalid result message: status must be a
 * non-empty string (found nothing)`.
 */
export function decodeResultMessage(content: Buffer, properties: AmqpProperties): ResultMessage {
  const correlationId = typeof properties.correlationId === 'string' ? properties.correlationId : '';
  const context = `invalid result message${correlationId ? ` (correlation id ${correlationId})` : ''}`;
  const body = readJsonBody(content, properties, context);
  if (!isPlainObject(body)) {
    throw new InvalidMessageError(`${context}: body must be an object {status, result, …} (found ${describeValue(body)})`);
  }

  const problems: string[] = [];
  const taskId = optionalString(problems, 'task_id', body.task_id) || correlationId;
  if (!taskId) problems.push('no task id: neither task_id in the body nor a correlation id');
  const status = body.status;
  if (typeof status !== 'string' || status === '') {
    problems.push(`status must be a non-empty string (found ${describeValue(status)})`);
  }
  const traceback = optionalString(problems, 'traceback', body.traceback);
  const children = body.children ?? [];
  if (!Array.isArray(children)) problems.push(`children must be a list (found ${describeValue(children)})`);
  const dateDone = isoDate(problems, 'date_done', body.date_done);
  const worker = optionalString(problems, 'worker', body.worker) ?? undefined;
  const queue = optionalString(problems, 'queue', body.queue) ?? undefined;
  if (problems.length > 0) throw new InvalidMessageError(`${context}: ${problems.join('; ')}`);

  return {
    taskId,
    status: status as string,
    result: body.result ?? null,
    traceback,
    children: children as unknown[],
    dateDone,
    ...(worker ? { worker } : {}),
    ...(queue ? { queue } : {}),
  };
}
