import { describeValue, isPlainObject } from '../protocol/describe-value';
import { dumps } from '../protocol/kombu-json';
import { globToRegExp } from '../router/glob-to-regexp';

/**
 * kombu's `Mailbox('celery', type='fanout')` on the wire, as Celery 5.2 uses it for remote
 * control (`celery inspect`, `celery control`, mingle's `hello`). Pure: names, declare
 * settings, and the request and reply messages.
 */

/** Requests go to this fanout exchange: every worker's node queue is bound to it. */
export const PIDBOX_EXCHANGE = 'celery.pidbox';
/** Replies go to this direct exchange, routed by the client's id to its reply queue. */
export const REPLY_EXCHANGE = 'reply.celery.pidbox';

/** Both exchanges as kombu declares them: non-durable, not auto-delete. */
export const PIDBOX_EXCHANGE_OPTIONS = { durable: false, autoDelete: false, arguments: {} } as const;

/**
 * Node and reply queues as Celery 5.2 declares them: non-durable, auto-delete, messages kept
 * 300 s (`control_queue_ttl`), the queue gone 10 s after its last consumer (`control_queue_expires`).
 * A declare with other arguments would fail against a Python peer's queue of the same name.
 */
export const PIDBOX_QUEUE_OPTIONS = {
  durable: false,
  autoDelete: true,
  exclusive: false,
  arguments: { 'x-message-ttl': 300_000, 'x-expires': 10_000 },
} as const;

/** The queue a worker named `hostname` consumes requests from. */
export function nodeQueueName(hostname: string): string {
  return `${hostname}.celery.pidbox`;
}

/** The queue a client with id `oid` collects replies from (bound with routing key `oid`). */
export function replyQueueName(oid: string): string {
  return `${oid}.${REPLY_EXCHANGE}`;
}

/** Where a worker sends its reply. */
export interface ReplyTo {
  exchange: string;
  routing_key: string;
}

/** A remote control request, as kombu's `Mailbox._publish` writes it. */
export interface ControlRequest {
  method: string;
  arguments: Record<string, unknown>;
  /** Node names it is for; null: every node. */
  destination: string[] | null;
  /** With `matcher` (`glob`, the default, or `pcre`): the node names it is for. */
  pattern: string | null;
  matcher: string | null;
  /** Present when a reply is wanted. */
  ticket?: string;
  reply_to?: ReplyTo;
}

/** kombu's headers of a request: the sender's clock, and when the sender stops waiting (unix seconds, 0: never). */
export interface ControlRequestHeaders {
  clock: number;
  expires: number;
}

/** The properties of every pidbox message, requests and replies alike (kombu's JSON). */
export const JSON_PROPERTIES = { contentType: 'application/json', contentEncoding: 'utf-8', priority: 0 } as const;

/**
 * A request and its headers. Persistent (`delivery_mode` 2), as kombu publishes it: the
 * exchange is transient, but the message takes the producer's default.
 */
export function encodeRequest(request: ControlRequest, headers: ControlRequestHeaders): { body: Buffer; properties: Record<string, unknown> } {
  return {
    body: Buffer.from(JSON.stringify(request)),
    properties: { ...JSON_PROPERTIES, deliveryMode: 2, headers: { clock: headers.clock, expires: headers.expires } },
  };
}

/**
 * A reply: `{<node name>: <what the command returned>}`, transient, with the request's ticket.
 * kombu JSON, so dates and bytes in task arguments read as a Python client encodes them.
 * @throws InvalidMessageError for a reply JSON cannot carry.
 */
export function encodeReply(hostname: string, reply: unknown, ticket: string, clock: number): { body: Buffer; properties: Record<string, unknown> } {
  return {
    body: Buffer.from(dumps({ [hostname]: reply === undefined ? null : reply })),
    properties: { ...JSON_PROPERTIES, deliveryMode: 1, headers: { ticket, clock } },
  };
}

/** A message read from a pidbox queue: what it asks for, or why it cannot be used. */
export type Decoded<T> = { ok: true; value: T } | { ok: false; reason: string };

/** The parts of an AMQP message a decoder reads. */
export interface PidboxMessage {
  content: Buffer;
  properties: { contentType?: string; contentEncoding?: string; headers?: Record<string, unknown> };
}

/** JSON of a pidbox message, or why not: kombu accepts only `application/json` on a mailbox. */
function readJson(message: PidboxMessage): Decoded<unknown> {
  const type = message.properties.contentType;
  if (type !== 'application/json') return { ok: false, reason: `content type ${describeValue(type)} is not application/json` };
  const encoding = message.properties.contentEncoding;
  if (encoding !== undefined && !/^utf-?8$/i.test(encoding)) return { ok: false, reason: `content encoding ${describeValue(encoding)} is not utf-8` };
  try {
    return { ok: true, value: JSON.parse(message.content.toString('utf8')) as unknown };
  } catch (err) {
    return { ok: false, reason: `body is not JSON (${(err as Error).message})` };
  }
}

/**
 * A control request as a worker reads it. A message that is not one (not JSON, no method,
 * arguments that are not an object, a destination that is not a list of names, a reply
 * address that is not `{exchange, routing_key}` with a ticket) comes back with the reason.
 */
export function decodeRequest(message: PidboxMessage): Decoded<ControlRequest> {
  const json = readJson(message);
  if (!json.ok) return json;
  const body = json.value;
  if (!isPlainObject(body)) return { ok: false, reason: `body is not an object (found ${describeValue(body)})` };
  const problems: string[] = [];
  const { method, destination, pattern, matcher, ticket } = body;
  const args = body.arguments ?? {};
  const replyTo = body.reply_to ?? null;
  if (typeof method !== 'string' || method === '') problems.push(`method must be a command name (found ${describeValue(method)})`);
  if (!isPlainObject(args)) problems.push(`arguments must be an object (found ${describeValue(args)})`);
  if (destination !== undefined && destination !== null && !(Array.isArray(destination) && destination.every((d) => typeof d === 'string'))) {
    problems.push(`destination must be a list of node names or null (found ${describeValue(destination)})`);
  }
  for (const [name, value] of [['pattern', pattern], ['matcher', matcher]] as const) {
    if (value !== undefined && value !== null && typeof value !== 'string') problems.push(`${name} must be a string or null (found ${describeValue(value)})`);
  }
  if (replyTo !== null) {
    if (!isPlainObject(replyTo) || typeof replyTo.exchange !== 'string' || typeof replyTo.routing_key !== 'string') {
      problems.push(`reply_to must be {exchange, routing_key} (found ${describeValue(replyTo)})`);
    } else if (typeof ticket !== 'string' || ticket === '') {
      problems.push(`a request with reply_to needs a ticket (found ${describeValue(ticket)})`);
    }
  }
  if (problems.length > 0) return { ok: false, reason: problems.join('; ') };
  return {
    ok: true,
    value: {
      method: method as string,
      arguments: args as Record<string, unknown>,
      destination: (destination as string[] | null | undefined) ?? null,
      pattern: (pattern as string | null | undefined) ?? null,
      matcher: (matcher as string | null | undefined) ?? null,
      ...(replyTo ? { ticket: ticket as string, reply_to: replyTo as unknown as ReplyTo } : {}),
    },
  };
}

/**
 * Whether a request is for the node `hostname`, as kombu's `Node.handle_message` decides: a
 * destination list must name it; else a pattern must match it (`glob`, fnmatch, by default;
 * `pcre`, a regular expression matched at the start); else every node takes it. An unknown
 * matcher matches nothing.
 */
export function isForNode(request: Pick<ControlRequest, 'destination' | 'pattern' | 'matcher'>, hostname: string): boolean {
  if (request.destination && request.destination.length > 0) return request.destination.includes(hostname);
  if (request.pattern && request.matcher) {
    if (request.matcher === 'glob') return globToRegExp(request.pattern).test(hostname);
    if (request.matcher === 'pcre') {
      try {
        return new RegExp(`^(?:${request.pattern})`).test(hostname);
      } catch {
        return false;
      }
    }
    return false;
  }
  return true;
}

/** One node's reply, as a client reads it: `{node: reply}`, with the ticket and clock of its headers. */
export interface ControlReply {
  ticket: string | undefined;
  clock: unknown;
  /** Unix seconds after which the reply is stale, or 0. */
  expires: unknown;
  replies: Record<string, unknown>;
}

/** A reply as a client reads it, or why it cannot be one (not JSON, not an object of nodes). */
export function decodeReply(message: PidboxMessage): Decoded<ControlReply> {
  const json = readJson(message);
  if (!json.ok) return json;
  if (!isPlainObject(json.value)) return { ok: false, reason: `body is not an object of node replies (found ${describeValue(json.value)})` };
  const headers = message.properties.headers ?? {};
  const ticket = typeof headers.ticket === 'string' ? headers.ticket : undefined;
  return { ok: true, value: { ticket, clock: headers.clock, expires: headers.expires, replies: json.value } };
}
