/**
 * The AMQP basic properties warren reads and writes, camelCase like amqplib. Structurally
 * compatible both ways: an amqplib `MessageProperties` can be passed where this is expected,
 * and this can be passed as amqplib's `Options.Publish`.
 */
export interface AmqpProperties {
  /** MIME type of the body; Celery's JSON serializer sends `application/json`. */
  contentType?: string;
  /** Character encoding of the body; Celery sends `utf-8`. */
  contentEncoding?: string;
  /** The task id on task messages; the request's correlation id on results. */
  correlationId?: string;
  /** Name of the queue a result goes to (the client's reply queue). */
  replyTo?: string;
  /** 1 transient, 2 persistent. */
  deliveryMode?: number;
  /** 0–255; only meaningful on queues declared with `x-max-priority`. */
  priority?: number;
  /** Per-message TTL in milliseconds, as a string of digits. */
  expiration?: string;
  /** The application headers (an AMQP field table). */
  headers?: Record<string, unknown>;
  /** Not used by Celery; kept when warren copies a message. */
  messageId?: string;
  /** Seconds since the epoch; kept when warren copies a message. */
  timestamp?: number;
  /** Kept when warren copies a message. */
  type?: string;
  /** Kept when warren copies a message. */
  appId?: string;
}

/**
 * The properties of `properties` that a copy of the message keeps, with `headers` instead of
 * its own, persistent. Left out: `expiration` (the copy's time is counted anew, or not at all),
 * and `userId` (the broker refuses a publish whose user id is not the publishing connection's).
 */
export function copiedProperties(properties: Readonly<AmqpProperties>, headers: Record<string, unknown>): AmqpProperties {
  const kept: AmqpProperties = { deliveryMode: 2, headers };
  const names = ['contentType', 'contentEncoding', 'correlationId', 'replyTo', 'priority', 'messageId', 'timestamp', 'type', 'appId'] as const;
  for (const name of names) {
    const value = properties[name];
    if (value !== undefined && value !== null) Object.assign(kept, { [name]: value });
  }
  return kept;
}

/** A message as it comes off the broker: its bytes and properties (amqplib's `Message` fits). */
export interface IncomingMessage {
  content: Buffer;
  properties: AmqpProperties;
}
