import { InvalidMessageError } from '../errors';
import type { IncomingMessage } from './amqp-properties';
import { describeValue, isPlainObject } from './describe-value';
import { readJsonBody } from './json-body';
import {
  isoDate,
  nonNegativeInteger,
  optionalBoolean,
  optionalString,
  requiredString,
  taskEmbed,
  taskLabel,
  timeLimit,
} from './message-fields';
import type { TaskMessage } from './task-message';

/**
 * Decodes a task message as a Celery 5 worker does:
 * - a `task` header marks protocol v2, and the body must be `[args, kwargs, embed]`
 *   (`embed` may be null);
 * - with a `task` header and a body dict instead ("hybrid"), fields come from the body dict
 *   and headers override them; it decodes as `protocol: 1`;
 * - without a `task` header, a body dict with `task` is protocol v1 (`taskset` is read as
 *   `group`);
 * - anything else cannot be a task.
 *
 * The body is kombu JSON, so a Python client's datetimes arrive as Dates. `eta`/`expires`
 * without a time zone are read as UTC (see `parseIsoDatetime`).
 *
 * @throws InvalidMessageError whose message is the reason, fit for a log line, e.g.
 * `invalid task message x.add[<id>]: retries must be a non-negative integer (found string "1")`.
 */
export function decodeTaskMessage(message: IncomingMessage): TaskMessage {
  const properties = message.properties;
  const headers = isPlainObject(properties.headers) ? properties.headers : {};
  // The start of an error message, made only for a message that is refused.
  const headerContext = (): string => context(headers.task, headers.id);
  const body = readJsonBody(message.content, properties, headerContext);

  let fields: Record<string, unknown>;
  let args: unknown;
  let kwargs: unknown;
  let embed: unknown;
  let protocol: 1 | 2;
  if (headers.task !== undefined && Array.isArray(body)) {
    if (body.length !== 3) throw shapeError(headerContext, body);
    fields = headers;
    [args, kwargs, embed] = body as unknown[];
    protocol = 2;
  } else if (isPlainObject(body) && (headers.task !== undefined || body.task !== undefined)) {
    // v1, or hybrid (Celery's hybrid_to_proto2): headers override the body dict.
    fields = headers.task !== undefined ? { ...body, ...headers } : { ...body, group: 'taskset' in body ? body.taskset : body.group };
    args = body.args ?? [];
    kwargs = body.kwargs ?? {};
    embed = { callbacks: body.callbacks, errbacks: body.errbacks, chain: null, chord: body.chord };
    protocol = 1;
  } else if (headers.task !== undefined) {
    throw shapeError(headerContext, body);
  } else {
    throw new InvalidMessageError(
      `${headerContext()}: no task name: neither a "task" header (protocol 2) nor a body dict with "task" (protocol 1) (found body ${describeValue(body)})`,
    );
  }

  const problems: string[] = [];
  const id = requiredString(problems, 'id', fields.id);
  const task = requiredString(problems, 'task', fields.task);
  if (!Array.isArray(args)) problems.push(`args must be a list (found ${describeValue(args)})`);
  if (!isPlainObject(kwargs)) problems.push(`kwargs must be an object (found ${describeValue(kwargs)})`);
  const { replyTo, correlationId, priority } = properties;
  // Built as the one object returned (a spread into a second one was a copy per task).
  const decoded: TaskMessage = {
    id,
    task,
    args: args as unknown[],
    kwargs: kwargs as Record<string, unknown>,
    embed: taskEmbed(problems, protocol === 2 ? 'embed.' : '', embed),
    retries: nonNegativeInteger(problems, 'retries', fields.retries, 0),
    eta: isoDate(problems, 'eta', fields.eta),
    expires: isoDate(problems, 'expires', fields.expires),
    rootId: optionalString(problems, 'root_id', fields.root_id),
    parentId: optionalString(problems, 'parent_id', fields.parent_id),
    group: optionalString(problems, 'group', fields.group),
    groupIndex: nonNegativeInteger(problems, 'group_index', fields.group_index, null),
    timelimit: timeLimit(problems, 'timelimit', fields.timelimit),
    origin: optionalString(problems, 'origin', fields.origin),
    ignoreResult: optionalBoolean(problems, 'ignore_result', fields.ignore_result),
    shadow: optionalString(problems, 'shadow', fields.shadow),
    replyTo: typeof replyTo === 'string' && replyTo !== '' ? replyTo : null,
    correlationId: typeof correlationId === 'string' && correlationId !== '' ? correlationId : id,
    priority: typeof priority === 'number' ? priority : null,
    protocol,
    headers,
  };
  if (problems.length > 0) throw new InvalidMessageError(`${context(fields.task, fields.id)}: ${listProblems(problems)}`);
  return decoded;
}

/** At most this many problems are spelled out, so a hostile message cannot make a huge reason. */
const LISTED_PROBLEMS = 10;

function listProblems(problems: readonly string[]): string {
  const listed = problems.slice(0, LISTED_PROBLEMS).join('; ');
  return problems.length > LISTED_PROBLEMS ? `${listed}; and ${problems.length - LISTED_PROBLEMS} more problems` : listed;
}

function context(task: unknown, id: unknown): string {
  const label = taskLabel(task, id);
  return `invalid task message${label ? ` ${label}` : ''}`;
}

function shapeError(messageContext: () => string, body: unknown): InvalidMessageError {
  return new InvalidMessageError(`${messageContext()}: body must be [args, kwargs, embed] (found ${describeValue(body)})`);
}
