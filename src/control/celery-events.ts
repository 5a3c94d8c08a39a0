import { hostname as osHostname, type as osType } from 'node:os';
import { describeValue, isPlainObject } from '../protocol/describe-value';
import { packageVersion } from '../util/package-version';
import type { Decoded, PidboxMessage } from './pidbox-protocol';

/**
 * Celery's event protocol (`celery.events`), as Celery 5.2 sends it. Pure: names, shapes,
 * encoding and decoding. Events go to the `celeryev` topic exchange with the event type as
 * routing key (`task-succeeded` -> `task.succeeded`); monitors (`celery events`, Flower,
 * `warren events`) bind their own queue with `#`.
 */

export const EVENT_EXCHANGE = 'celeryev';
/** As kombu declares it: a durable topic exchange. */
export const EVENT_EXCHANGE_OPTIONS = { durable: true, autoDelete: false, arguments: {} } as const;

/**
 * A monitor's queue, as Celery's `EventReceiver` declares `celeryev.<uuid>`: non-durable,
 * auto-delete, events kept 5 s (`event_queue_ttl`), the queue gone a minute after its consumer
 * (`event_queue_expires`).
 */
export const EVENT_QUEUE_OPTIONS = {
  durable: false,
  autoDelete: true,
  exclusive: false,
  arguments: { 'x-message-ttl': 5000, 'x-expires': 60_000 },
} as const;

/** Every event's fields; each type adds its own (see the README's table). */
export interface CeleryEvent {
  type: string;
  hostname: string;
  /** Hours west of UTC, floored, as Python's `time.timezone // 3600`. */
  utcoffset: number;
  pid: number;
  /** The sender's Lamport clock. */
  clock: number;
  /** Unix seconds, with a fraction. */
  timestamp: number;
  [field: string]: unknown;
}

/** What warren says it is in worker events (`sw_ident`, `sw_ver`, `sw_sys`), beside Python's `py-celery`. */
export interface SoftwareInfo {
  sw_ident: string;
  sw_ver: string;
  sw_sys: string;
}

export function softwareInfo(): SoftwareInfo {
  // Python's platform.system(): 'Linux', 'Darwin', 'Windows'.
  const system = osType() === 'Windows_NT' ? 'Windows' : osType();
  return { sw_ident: 'warren', sw_ver: packageVersion(), sw_sys: system };
}

/** Python's `celery.utils.time.utcoffset()`: hours west of UTC now, floored. */
export function utcOffsetHours(now = new Date()): number {
  return Math.floor(now.getTimezoneOffset() / 60);
}

/** `task-succeeded` -> `task.succeeded`. */
export function eventRoutingKey(type: string): string {
  return type.replace(/-/g, '.');
}

/** `task-succeeded` -> `task`, as Celery's `group_from`. */
export function eventGroup(type: string): string {
  return type.split('-', 1)[0];
}

/** Who sends an event: its node name and process. */
export interface EventSource {
  hostname: string;
  pid: number;
}

/**
 * An event as Celery's `EventDispatcher.publish` builds it, in its field order: the sender's
 * fields, the type's own, then `timestamp` and `type`.
 */
export function buildEvent(type: string, fields: Record<string, unknown>, source: EventSource, clock: number, now = new Date()): CeleryEvent {
  return {
    hostname: source.hostname,
    utcoffset: utcOffsetHours(now),
    pid: source.pid,
    clock,
    ...fields,
    timestamp: now.getTime() / 1000,
    type,
  };
}

/** The message of one event: JSON, transient, with the sender's hostname as header. */
export function encodeEvent(event: CeleryEvent): { routingKey: string; body: Buffer; properties: Record<string, unknown> } {
  return {
    routingKey: eventRoutingKey(event.type),
    body: Buffer.from(JSON.stringify(event)),
    properties: { contentType: 'application/json', contentEncoding: 'utf-8', deliveryMode: 1, priority: 0, headers: { hostname: event.hostname } },
  };
}

/**
 * A batch of events of one group in one message, as a Python worker sends its task events: a
 * JSON list, routing key `<group>.multi` (`task.multi`).
 */
export function encodeEvents(group: string, events: readonly CeleryEvent[]): { routingKey: string; body: Buffer; properties: Record<string, unknown> } {
  return {
    routingKey: `${group}.multi`,
    body: Buffer.from(JSON.stringify(events)),
    properties: { contentType: 'application/json', contentEncoding: 'utf-8', deliveryMode: 1, priority: 0, headers: { hostname: events[0]?.hostname } },
  };
}

/** A client's node name in events, as Celery's `anon_nodename()`: `gen<pid>@<host>`. */
export function clientNodeName(): string {
  return `gen${process.pid}@${osHostname()}`;
}

/**
 * The events of one message, as Celery's `EventReceiver` reads it: one event object, or a
 * list of them (a Python worker sends its task events in batches, routing key `task.multi`).
 * Each must be an object with a string `type`; a malformed one is left out, with its reason.
 */
export function decodeEvents(message: PidboxMessage): { events: CeleryEvent[]; problems: string[] } {
  const type = message.properties.contentType;
  if (type !== 'application/json') return { events: [], problems: [`content type ${describeValue(type)} is not application/json`] };
  let body: unknown;
  try {
    body = JSON.parse(message.content.toString('utf8'));
  } catch (err) {
    return { events: [], problems: [`body is not JSON (${(err as Error).message})`] };
  }
  const items = Array.isArray(body) ? body : [body];
  const events: CeleryEvent[] = [];
  const problems: string[] = [];
  for (const item of items) {
    const checked = checkEvent(item);
    if (checked.ok) events.push(checked.value);
    else problems.push(checked.reason);
  }
  return { events, problems };
}

function checkEvent(item: unknown): Decoded<CeleryEvent> {
  if (!isPlainObject(item)) return { ok: false, reason: `an event is not an object (found ${describeValue(item)})` };
  if (typeof item.type !== 'string' || item.type === '') return { ok: false, reason: `an event has no type (found ${describeValue(item.type)})` };
  if (item.hostname !== undefined && typeof item.hostname !== 'string') return { ok: false, reason: `event ${item.type}: hostname is not a string (found ${describeValue(item.hostname)})` };
  for (const field of ['timestamp', 'clock', 'utcoffset'] as const) {
    const value = item[field];
    if (value !== undefined && value !== null && typeof value !== 'number') {
      return { ok: false, reason: `event ${item.type}: ${field} is not a number (found ${describeValue(value)})` };
    }
  }
  return { ok: true, value: item as CeleryEvent };
}
