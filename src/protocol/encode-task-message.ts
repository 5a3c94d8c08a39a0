import { hostname } from 'node:os';
import { types } from 'node:util';
import { InvalidMessageError } from '../errors';
import type { AmqpProperties } from './amqp-properties';
import { describeValue, isPlainObject } from './describe-value';
import { formatIsoDatetime } from './iso-datetime';
import { type JsonTree, toJsonTree } from './json-tree';
import { plainJsonTree, stringifyJsonTree, type JsonDates } from './kombu-json';
import {
  nonNegativeInteger,
  optionalBoolean,
  optionalString,
  requiredString,
  taskEmbed,
  taskLabel,
  timeLimit,
} from './message-fields';
import { reprJsonTree, truncateRepr } from './python-repr';
import type { TaskEmbed, TaskMessageHeaders, TimeLimit } from './task-message';

/** What to send: a task call, in warren's camelCase. */
export interface EncodeTaskMessageInput {
  /** The task id (use a UUID, as Celery does). Also sent as the correlation id. */
  id: string;
  /** The registered task name. */
  task: string;
  /** @defaultValue `[]` */
  args?: readonly unknown[];
  /** @defaultValue `{}` */
  kwargs?: Readonly<Record<string, unknown>>;
  /** Run no earlier than this. @defaultValue null (now) */
  eta?: Date | null;
  /** Discard if not started by then; also sets the `expiration` property. @defaultValue null */
  expires?: Date | null;
  /** @defaultValue 0 */
  retries?: number;
  /** @defaultValue the task id */
  rootId?: string | null;
  /** @defaultValue null */
  parentId?: string | null;
  /** @defaultValue null */
  group?: string | null;
  /** @defaultValue null */
  groupIndex?: number | null;
  /** `[hard, soft]` seconds. @defaultValue `[null, null]` */
  timelimit?: TimeLimit;
  /** The reply queue results go to (the client's reply queue name). */
  replyTo: string;
  /** 0–255. @defaultValue 0 */
  priority?: number;
  /** @defaultValue false */
  ignoreResult?: boolean;
  /** @defaultValue null */
  shadow?: string | null;
  /** @defaultValue `gen<pid>@<hostname>` */
  origin?: string;
  /** Extra application headers (stamps, custom headers). The protocol headers above win over same-named keys here; undefined values are left out. */
  headers?: Readonly<Record<string, unknown>>;
  /** Callbacks, errbacks, the rest of a chain (reversed), a chord callback. @defaultValue all null */
  embed?: Partial<TaskEmbed> | null;
  /** @defaultValue `'js'` */
  lang?: string;
  /** The time `expiration` is counted from. @defaultValue `new Date()` */
  now?: Date;
  /** How Dates and Buffers in args, kwargs and embed are written (see `JsonDates`). @defaultValue 'tagged' */
  jsonDates?: JsonDates;
}

/** The properties of an encoded task message; assignable to amqplib's `Options.Publish`. */
export interface TaskMessageProperties extends AmqpProperties {
  contentType: 'application/json';
  contentEncoding: 'utf-8';
  correlationId: string;
  replyTo: string;
  deliveryMode: 2;
  priority: number;
  headers: TaskMessageHeaders;
}

/** A task message ready to publish. */
export interface EncodedTaskMessage {
  body: Buffer;
  properties: TaskMessageProperties;
}

let origin: string | undefined;

/** `gen<pid>@<hostname>`, as Celery: read once (os.hostname() is a system call). */
function defaultOrigin(): string {
  origin ??= `gen${process.pid}@${hostname()}`;
  return origin;
}

/** Celery cuts `argsrepr` and `kwargsrepr` to this many characters. */
const REPR_MAX_LENGTH = 1024;

/**
 * Encodes a task call as a Celery protocol v2 message: every header a Celery 5 client sends,
 * the same properties (`expiration` only with `expires`: milliseconds left, `"0"` if past),
 * and the body `[args, kwargs, embed]` in kombu JSON (Dates in args travel as datetimes).
 *
 * @throws InvalidMessageError naming every bad field: `cannot encode task x.add[<id>]: args
 * must be an array (found object); priority must be …`.
 */
export function encodeTaskMessage(input: EncodeTaskMessageInput): EncodedTaskMessage {
  const problems: string[] = [];
  const id = requiredString(problems, 'id', input.id);
  const task = requiredString(problems, 'task', input.task);
  if (typeof input.replyTo !== 'string') problems.push(`replyTo must be a string (found ${describeValue(input.replyTo)})`);
  const argsTree = jsonTree(problems, 'args', input.args ?? [], Array.isArray, 'an array');
  const kwargsTree = jsonTree(problems, 'kwargs', input.kwargs ?? {}, isPlainObject, 'a plain object');
  const eta = isoString(problems, 'eta', input.eta);
  const expires = isoString(problems, 'expires', input.expires);
  const retries = nonNegativeInteger(problems, 'retries', input.retries, 0);
  const rootId = optionalString(problems, 'rootId', input.rootId);
  const parentId = optionalString(problems, 'parentId', input.parentId);
  const group = optionalString(problems, 'group', input.group);
  const groupIndex = nonNegativeInteger(problems, 'groupIndex', input.groupIndex, null);
  const [hard, soft] = timeLimit(problems, 'timelimit', input.timelimit);
  const ignoreResult = optionalBoolean(problems, 'ignoreResult', input.ignoreResult);
  const shadow = optionalString(problems, 'shadow', input.shadow);
  const origin = optionalString(problems, 'origin', input.origin) ?? defaultOrigin();
  const lang = optionalString(problems, 'lang', input.lang) ?? 'js';
  const priority = input.priority ?? 0;
  if (!Number.isInteger(priority) || priority < 0 || priority > 255) {
    problems.push(`priority must be an integer from 0 to 255 (found ${describeValue(priority)})`);
  }
  const extraHeaders = input.headers ?? {};
  if (!isPlainObject(extraHeaders)) problems.push(`headers must be a plain object (found ${describeValue(extraHeaders)})`);
  const now = input.now ?? new Date();
  if (!types.isDate(now) || Number.isNaN(now.getTime())) problems.push(`now must be a valid Date (found ${describeValue(now)})`);
  const embedTree = carriedAsJson(problems, 'embed', taskEmbed(problems, 'embed.', input.embed));

  if (problems.length > 0) {
    const label = taskLabel(input.task, input.id);
    throw new InvalidMessageError(`cannot encode task${label ? ` ${label}` : ''}: ${problems.join('; ')}`);
  }

  // The reprs show what the peer will decode: strings, where Dates and Buffers are written plain.
  const plain = input.jsonDates === 'plain';
  const headers: TaskMessageHeaders = {
    lang,
    task,
    id,
    shadow,
    eta,
    expires,
    group,
    group_index: groupIndex,
    retries,
    timelimit: [hard, soft],
    root_id: rootId ?? id,
    parent_id: parentId,
    argsrepr: truncateRepr(reprJsonTree(plain ? plainJsonTree(argsTree) : argsTree), REPR_MAX_LENGTH),
    kwargsrepr: truncateRepr(reprJsonTree(plain ? plainJsonTree(kwargsTree) : kwargsTree), REPR_MAX_LENGTH),
    origin,
    ignore_result: ignoreResult,
  };
  for (const [key, value] of Object.entries(extraHeaders)) {
    if (value !== undefined && !Object.hasOwn(headers, key)) headers[key] = value;
  }

  const properties: TaskMessageProperties = {
    contentType: 'application/json',
    contentEncoding: 'utf-8',
    correlationId: id,
    replyTo: input.replyTo,
    deliveryMode: 2,
    priority,
    headers,
  };
  if (input.expires) {
    // As Celery (5.2+): the broker drops the message once the task could no longer run anyway.
    properties.expiration = String(Math.max(0, Math.trunc(input.expires.getTime() - now.getTime())));
  }
  return { body: Buffer.from(stringifyJsonTree([argsTree, kwargsTree, embedTree], input.jsonDates), 'utf8'), properties };
}

/** The value as a JSON tree, or a problem when it is not of the expected kind. */
function jsonTree(
  problems: string[],
  name: string,
  value: unknown,
  isKind: (value: unknown) => boolean,
  kind: string,
): JsonTree {
  if (isKind(value)) return carriedAsJson(problems, name, value);
  problems.push(`${name} must be ${kind} (found ${describeValue(value)})`);
  return null;
}

/** The value as a JSON tree, or a problem when JSON cannot carry it. */
function carriedAsJson(problems: string[], name: string, value: unknown): JsonTree {
  return recorded(problems, null, () => toJsonTree(value, name));
}

/** A Date as Python's isoformat, null for null/absent, or a problem. */
function isoString(problems: string[], name: string, value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (types.isDate(value)) return recorded(problems, null, () => formatIsoDatetime(value, name));
  problems.push(`${name} must be a Date or null (found ${describeValue(value)})`);
  return null;
}

/** Runs `read`; an InvalidMessageError it throws becomes a problem, and `fallback` the result. */
function recorded<T>(problems: string[], fallback: T, read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (!(err instanceof InvalidMessageError)) throw err;
    problems.push(err.message);
    return fallback;
  }
}
