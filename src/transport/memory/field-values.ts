import type { AmqpProperties } from '../../protocol';
import type { PublishOptions } from '../transport';

/*
 * Messages cross the memory broker as they would cross a socket: what is published is copied
 * in (no Buffer or header object is shared with the publisher), and each delivery gets its
 * own copy. The copies follow amqplib's encoding and decoding of AMQP field tables, so a
 * header that amqplib could not send fails here too, and one that changes on the wire
 * changes here the same way.
 */

/** amqplib's test for a number it sends as a double rather than an integer. */
function isFloatingPoint(n: number): boolean {
  return n >= 0x8000000000000000 || (Math.abs(n) < 0x4000000000000 && Math.floor(n) !== n);
}

/** A field value as it comes out of amqplib after a round trip through the broker. */
export function copyFieldValue(value: unknown, path: string): unknown {
  if (value === null) return null;
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      // amqplib writes a non-float NaN as an int64: BigInt(NaN) throws.
      if (Number.isNaN(value)) throw new RangeError(`The number NaN cannot be converted to a BigInt because it is not an integer (header ${path})`);
      return value;
    case 'object':
      break;
    default:
      throw new TypeError(`Unknown type to encode: ${typeof value} (header ${path})`);
  }
  if (Buffer.isBuffer(value)) return Buffer.from(value);
  if (Array.isArray(value)) return value.map((item, index) => copyFieldValue(item, `${path}[${index}]`));
  const typed = value as { '!'?: unknown; value?: unknown };
  if (Object.hasOwn(value, '!')) {
    // amqplib's trapdoor for a type: `{ '!': 'timestamp', value: 1700000000 }`.
    if (typed['!'] === 'timestamp') return { '!': 'timestamp', value: Number(typed.value) };
    if (typed['!'] === 'decimal') {
      const { places, digits } = typed.value as { places: number; digits: number };
      return { '!': 'decimal', value: { places, digits } };
    }
    if (typed['!'] === 'float') return Math.fround(Number(typed.value));
    return copyFieldValue(typed.value, path);
  }
  return copyTable(value as Record<string, unknown>, path);
}

/** A field table's copy: keys whose value is `undefined` are left out, as amqplib leaves them out. */
export function copyTable(table: Readonly<Record<string, unknown>>, path = ''): Record<string, unknown> {
  const copy: Record<string, unknown> = {};
  // for...in, as amqplib's encoder: it sends inherited keys too.
  for (const key in table) {
    const value = table[key];
    if (value !== undefined) copy[key] = copyFieldValue(value, path ? `${path}.${key}` : key);
  }
  return copy;
}

/** RabbitMQ's name for the AMQP type amqplib sends a value as, for "the value '10' of type 'byte'". */
export function amqpTypeName(value: unknown): string {
  if (value === null) return 'void';
  if (typeof value === 'string') return 'longstr';
  if (typeof value === 'boolean') return 'bool';
  if (typeof value === 'number') {
    if (isFloatingPoint(value)) return 'double';
    if (value < 128 && value >= -128) return 'byte';
    if (value >= -0x8000 && value < 0x8000) return 'short';
    if (value >= -0x80000000 && value < 0x80000000) return 'signedint';
    return 'long';
  }
  if (Buffer.isBuffer(value)) return 'binary';
  if (Array.isArray(value)) return 'array';
  return 'table';
}

/** A value as RabbitMQ prints it in an "inequivalent arg" message. */
export function formatArgument(value: unknown): string {
  if (value === undefined) return 'none';
  return `the value '${printValue(value)}' of type '${amqpTypeName(value)}'`;
}

/** A plain value as RabbitMQ prints it: `'true'`, `'10'`, `'quorum'`. */
export function printValue(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString();
  if (typeof value === 'object' && value !== null) return JSON.stringify(value);
  return String(value);
}

/** The properties a message keeps in the broker, as amqplib encodes a publish's options. */
export type StoredProperties = Readonly<AmqpProperties & { userId?: string; clusterId?: string }>;

/** The stored properties of a publish: copied, `persistent` read as amqplib reads it, `expiration` a string. */
export function publishedProperties(options: PublishOptions & { persistent?: boolean; userId?: string; clusterId?: string } = {}): StoredProperties {
  let deliveryMode: number | undefined;
  if (options.persistent !== undefined) deliveryMode = options.persistent ? 2 : 1;
  else if (typeof options.deliveryMode === 'number') deliveryMode = options.deliveryMode;
  else if (options.deliveryMode) deliveryMode = 2;
  const properties: AmqpProperties & { userId?: string; clusterId?: string } = {
    contentType: options.contentType,
    contentEncoding: options.contentEncoding,
    // amqplib always sends a headers table, so a delivered message always has one.
    headers: copyTable(options.headers ?? {}),
    deliveryMode,
    priority: options.priority,
    correlationId: options.correlationId,
    replyTo: options.replyTo,
    expiration: options.expiration === undefined ? undefined : String(options.expiration),
    messageId: options.messageId,
    timestamp: options.timestamp,
    type: options.type,
    userId: options.userId,
    appId: options.appId,
    clusterId: options.clusterId,
  };
  return properties;
}

/** The properties of a delivery: every property named (`undefined` where absent), headers copied. */
export function deliveredProperties(stored: StoredProperties): AmqpProperties {
  return { ...stored, headers: copyTable(stored.headers ?? {}) };
}
