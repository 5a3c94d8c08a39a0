import { InvalidMessageError } from '../errors';
import { describeValue, isPlainObject } from './describe-value';
import { checkedResult, type EncodeResultMessageInput } from './encode-result-message';
import { formatIsoDatetime } from './iso-datetime';
import { toJsonTree } from './json-tree';
import { loads, stringifyPythonStyle, type JsonDates } from './kombu-json';
import { isoDate, nonNegativeInteger, optionalString } from './message-fields';
import { READY_STATES, type TaskStatus } from './task-state';

/**
 * A task's state as Celery's key-value result backends keep it (the value of the Redis key
 * `celery-task-meta-<id>`), read back. The rpc backend's result message has the same fields.
 */
export interface ResultMeta {
  taskId: string;
  /** A built-in state or a custom one (`PROGRESS`). */
  status: TaskStatus;
  /** The return value; the encoded exception in exception states; a custom state's meta. */
  result: unknown;
  traceback: string | null;
  children: unknown[];
  /** Null for states that are not ready. */
  dateDone: Date | null;
  groupId?: string;
  parentId?: string;
  /** Celery's extended result fields, where the worker wrote them. */
  name?: string;
  args?: unknown[];
  kwargs?: Record<string, unknown>;
  worker?: string;
  retries?: number;
  queue?: string;
}

/**
 * What to store: a state of one task, as for the rpc backend's message (a custom state's meta as
 * its `result`), with the extended fields' `args` and `kwargs` too, and no correlation id.
 */
export interface EncodeResultMetaInput extends Omit<EncodeResultMessageInput, 'correlationId' | 'extended'> {
  /** Celery's `result_extended` fields. */
  extended?: { name?: string; args?: readonly unknown[]; kwargs?: Readonly<Record<string, unknown>>; worker?: string; retries?: number; queue?: string };
}

/**
 * The stored form of a task's state, byte for byte as a Celery 5.2 worker writes it with
 * `result_extended` on: Python's `json.dumps` spacing, the keys in Celery's order (`status`,
 * `result`, `traceback`, `children`, `date_done`, then `group_id` and `parent_id` when set, the
 * extended `name`, `args`, `kwargs`, `worker`, `retries`, `queue`, and `task_id` last), and
 * `date_done` as Celery 5.2's naive UTC `isoformat()` (`2026-11-29T23:21:19.238000`), null for
 * states that are not ready.
 *
 * @throws InvalidMessageError for a missing task id or status, a FAILURE/REVOKED without an
 * exception, or a value JSON cannot carry (naming where).
 */
export function encodeResultMeta(input: EncodeResultMetaInput): string {
  const { result, traceback, fail } = checkedResult(input);
  try {
    const meta: Record<string, unknown> = {
      status: input.status,
      result: result ?? null,
      traceback: traceback ?? null,
      children: input.children ?? [],
      date_done: READY_STATES.has(input.status) ? naiveIsoDatetime(input.dateDone ?? new Date()) : null,
    };
    if (input.groupId) meta.group_id = input.groupId;
    if (input.parentId) meta.parent_id = input.parentId;
    const extended = input.extended;
    if (extended) {
      meta.name = extended.name ?? null;
      meta.args = extended.args ?? null;
      meta.kwargs = extended.kwargs ?? null;
      meta.worker = extended.worker ?? null;
      meta.retries = extended.retries ?? null;
      meta.queue = extended.queue ?? null;
    }
    meta.task_id = input.taskId;
    return stringifyPythonStyle(toJsonTree(meta, 'meta'), input.jsonDates);
  } catch (err) {
    throw err instanceof InvalidMessageError ? fail(err.message) : err;
  }
}

/** Python's `datetime.utcnow().isoformat()`: UTC without an offset, six fraction digits. */
function naiveIsoDatetime(date: Date): string {
  return formatIsoDatetime(date, 'dateDone').replace(/\+00:00$/, '');
}

/**
 * Reads a stored state (Celery's or warren's). The text is kombu JSON, tagged values decoded;
 * a `date_done` without an offset is UTC.
 *
 * @param context - what is read, for the error: `the result of task <id> in Redis key celery-task-meta-<id>`.
 * @param taskId - the id the key names, for a value without `task_id`.
 * @throws InvalidMessageError `<context> cannot be read: <reason>` for text that is not JSON, not
 * an object, or whose fields are not what Celery writes.
 */
export function decodeResultMeta(text: string, context: string, taskId = ''): ResultMeta {
  let body: unknown;
  try {
    body = loads(text);
  } catch (err) {
    const reason = err instanceof InvalidMessageError ? err.message : `not valid JSON: ${err instanceof Error ? err.message : String(err)}`;
    throw new InvalidMessageError(`${context} cannot be read: ${reason} (found ${describeValue(text)})`, err);
  }
  return readResultMeta(body, `${context} cannot be read`, taskId);
}

/**
 * The fields of a decoded result body (rpc message or stored meta), checked.
 * @param fallbackTaskId - the id to use when the body has no `task_id` (an rpc message's correlation id).
 * @param noun - what the body is called in the error when it is no object.
 * @throws InvalidMessageError `<context>: <every problem>`.
 */
export function readResultMeta(body: unknown, context: string, fallbackTaskId = '', noun = 'the value'): ResultMeta {
  if (!isPlainObject(body)) {
    throw new InvalidMessageError(`${context}: ${noun} must be an object {status, result, …} (found ${describeValue(body)})`);
  }
  const problems: string[] = [];
  const taskId = optionalString(problems, 'task_id', body.task_id) || fallbackTaskId;
  if (!taskId) problems.push('no task id: neither task_id in the body nor a correlation id');
  const status = body.status;
  if (typeof status !== 'string' || status === '') {
    problems.push(`status must be a non-empty string (found ${describeValue(status)})`);
  }
  const traceback = optionalString(problems, 'traceback', body.traceback);
  const children = body.children ?? [];
  if (!Array.isArray(children)) problems.push(`children must be a list (found ${describeValue(children)})`);
  const dateDone = isoDate(problems, 'date_done', body.date_done);
  const groupId = optionalString(problems, 'group_id', body.group_id) ?? undefined;
  const parentId = optionalString(problems, 'parent_id', body.parent_id) ?? undefined;
  const name = optionalString(problems, 'name', body.name) ?? undefined;
  const worker = optionalString(problems, 'worker', body.worker) ?? undefined;
  const queue = optionalString(problems, 'queue', body.queue) ?? undefined;
  const retries = nonNegativeInteger(problems, 'retries', body.retries, null) ?? undefined;
  const args = body.args ?? undefined;
  if (args !== undefined && !Array.isArray(args)) problems.push(`args must be a list or null (found ${describeValue(args)})`);
  const kwargs = body.kwargs ?? undefined;
  if (kwargs !== undefined && !isPlainObject(kwargs)) problems.push(`kwargs must be an object or null (found ${describeValue(kwargs)})`);
  if (problems.length > 0) throw new InvalidMessageError(`${context}: ${problems.join('; ')}`);

  // Field by field, only those present (a client reads one of these per result).
  const meta: ResultMeta = { taskId, status: status as string, result: body.result ?? null, traceback, children: children as unknown[], dateDone };
  if (groupId !== undefined) meta.groupId = groupId;
  if (parentId !== undefined) meta.parentId = parentId;
  if (name !== undefined) meta.name = name;
  if (worker !== undefined) meta.worker = worker;
  if (queue !== undefined) meta.queue = queue;
  if (retries !== undefined) meta.retries = retries;
  if (args !== undefined) meta.args = args as unknown[];
  if (kwargs !== undefined) meta.kwargs = kwargs as Record<string, unknown>;
  return meta;
}

/**
 * A chord header task's part as Celery 5.2 adds it to the group's `.j` set: `[1, task id,
 * state, result]` in Python's JSON spacing (`[1, "<id>", "SUCCESS", 2]`), the result already
 * encoded (an exception state's as `exc_type` / `exc_message` / `exc_module`).
 * @throws InvalidMessageError for a result JSON cannot carry.
 */
export function encodeChordPart(taskId: string, status: TaskStatus, result: unknown, jsonDates: JsonDates = 'tagged'): string {
  return stringifyPythonStyle(toJsonTree([1, taskId, status, result], 'part'), jsonDates);
}
