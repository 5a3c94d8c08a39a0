import { InvalidMessageError } from '../errors';
import type { AmqpProperties } from './amqp-properties';
import { describeValue, isPlainObject } from './describe-value';
import { type EncodedError, encodeError, formatTraceback } from './encode-error';
import { formatIsoDatetime } from './iso-datetime';
import { toJsonTree } from './json-tree';
import { stringifyJsonTree, type JsonDates } from './kombu-json';
import { EXCEPTION_STATES, READY_STATES, type TaskStatus } from './task-state';

/** A task's state to report to the caller's reply queue (Celery's rpc backend). */
export interface EncodeResultMessageInput {
  taskId: string;
  status: TaskStatus;
  /**
   * The return value for SUCCESS. For RETRY, FAILURE and REVOKED: an {@link EncodedError},
   * or what was thrown, which is encoded with `encodeError`. FAILURE and REVOKED need one;
   * RETRY may be null.
   */
  result: unknown;
  /** @defaultValue the JS stack when `result` is an Error in an exception state, else null */
  traceback?: string | null;
  /** Results of subtasks, as `[[id, parent], null]` entries. @defaultValue `[]` */
  children?: readonly unknown[];
  /** When the task finished; only sent for ready states. @defaultValue now */
  dateDone?: Date | null;
  /** Added to the body when set. */
  parentId?: string | null;
  /** Added to the body when set. */
  groupId?: string | null;
  /** The request's correlation id. @defaultValue the task id */
  correlationId?: string;
  /**
   * Celery's extended result fields (`result_extended`): the task name, the node that ran it,
   * the queue it came from and its retry count. Python clients ignore what they do not read.
   */
  extended?: { name?: string; worker?: string; queue?: string; retries?: number };
  /** How Dates and Buffers in the result are written (see `JsonDates`). @defaultValue 'tagged' */
  jsonDates?: JsonDates;
}

/** The properties of an encoded result; assignable to amqplib's `Options.Publish`. */
export interface ResultMessageProperties extends AmqpProperties {
  contentType: 'application/json';
  contentEncoding: 'utf-8';
  correlationId: string;
  deliveryMode: 1;
}

/** A result message ready to publish to `""` with the reply queue as routing key. */
export interface EncodedResultMessage {
  body: Buffer;
  properties: ResultMessageProperties;
}

/**
 * Encodes a result as Celery's rpc backend does: the body `{status, result, traceback,
 * children, date_done, task_id}` (+ `parent_id`, `group_id` when set), `date_done` only for
 * ready states, the task id both in the body (read by Python's push path) and as correlation
 * id (read by its polling path), transient delivery.
 *
 * @throws InvalidMessageError for a missing task id or status, a FAILURE/REVOKED without an
 * exception, or a result JSON cannot carry.
 */
export function encodeResultMessage(input: EncodeResultMessageInput): EncodedResultMessage {
  const { result, traceback, fail } = checkedResult(input);
  const { taskId, status } = input;
  const ready = READY_STATES.has(status);
  try {
    const body: Record<string, unknown> = {
      status,
      result: result ?? null,
      traceback: traceback ?? null,
      children: input.children ?? [],
      date_done: ready ? formatIsoDatetime(input.dateDone ?? new Date(), 'dateDone') : null,
      task_id: taskId,
    };
    if (input.parentId) body.parent_id = input.parentId;
    if (input.groupId) body.group_id = input.groupId;
    for (const [key, value] of Object.entries(input.extended ?? {})) if (value !== undefined) body[key] = value;
    return {
      body: Buffer.from(stringifyJsonTree(toJsonTree(body, 'body'), input.jsonDates), 'utf8'),
      properties: {
        contentType: 'application/json',
        contentEncoding: 'utf-8',
        correlationId: input.correlationId || taskId,
        deliveryMode: 1,
      },
    };
  } catch (err) {
    throw err instanceof InvalidMessageError ? fail(err.message) : err;
  }
}

/**
 * The task id and status checked, and the result and traceback of an exception state
 * encoded (`exc_type` / `exc_message` / `exc_module`, the JS stack as traceback).
 * @throws InvalidMessageError for a missing task id or status, or a FAILURE/REVOKED without an exception.
 */
export function checkedResult(input: Pick<EncodeResultMessageInput, 'taskId' | 'status' | 'result' | 'traceback'>): {
  result: unknown;
  traceback: string | null | undefined;
  fail: (reason: string) => InvalidMessageError;
} {
  const { taskId, status } = input;
  const fail = (reason: string): InvalidMessageError => new InvalidMessageError(`cannot encode result of task ${String(taskId)}: ${reason}`);
  if (typeof taskId !== 'string' || taskId === '') throw fail(`taskId must be a non-empty string (found ${describeValue(taskId)})`);
  if (typeof status !== 'string' || status === '') throw fail(`status must be a non-empty string (found ${describeValue(status)})`);

  let { result } = input;
  let traceback = input.traceback;
  if (EXCEPTION_STATES.has(status) && !isEncodedError(result)) {
    if (result !== null && result !== undefined) {
      if (traceback === undefined) traceback = formatTraceback(result);
      result = encodeError(result);
    } else if (status !== 'RETRY') {
      // A Python client cannot rebuild an exception from null (celery.node's mistake).
      throw fail(`a ${status} result must carry the exception (found ${describeValue(result)})`);
    }
  }
  return { result, traceback, fail };
}

function isEncodedError(value: unknown): value is EncodedError {
  return isPlainObject(value) && typeof value.exc_type === 'string';
}
