/*
 * The errors the memory broker answers with, shaped as amqplib shapes RabbitMQ's: a numeric
 * `code` (404, 405, 406, ...) and the same message text, so that code written against
 * amqplib (the leader lock's 405 check, topology's "inequivalent arg" parsing) reads them
 * unchanged. They stand in for amqplib's errors, which are not WarrenErrors either; warren's
 * roles turn them into WarrenErrors where a user sees them.
 */

/** AMQP reply codes, with the names RabbitMQ puts in its reply text. */
const REPLY_NAMES: Readonly<Record<number, string>> = {
  312: 'NO_ROUTE',
  320: 'CONNECTION_FORCED',
  403: 'ACCESS_REFUSED',
  404: 'NOT_FOUND',
  405: 'RESOURCE_LOCKED',
  406: 'PRECONDITION_FAILED',
  503: 'COMMAND_INVALID',
  540: 'NOT_IMPLEMENTED',
};

export type ReplyCode = 312 | 320 | 403 | 404 | 405 | 406 | 503 | 540;

/** How far a refusal reaches: channel errors close the channel, connection errors the connection. */
const CONNECTION_ERRORS: ReadonlySet<number> = new Set([320, 503, 540]);

/**
 * A refusal by the broker: thrown inside the broker, turned into the channel's or the
 * connection's close. `text` is RabbitMQ's reply text: `NOT_FOUND - no queue 'q' in vhost '/'`.
 */
export class BrokerRefusal extends Error {
  readonly text: string;

  constructor(
    readonly code: ReplyCode,
    detail: string,
  ) {
    const text = `${REPLY_NAMES[code]} - ${detail}`;
    super(text);
    this.text = text;
  }

  /** Whether the broker closes the whole connection for it (a "hard" error), not just the channel. */
  get closesConnection(): boolean {
    return CONNECTION_ERRORS.has(this.code);
  }
}

/** The error amqplib raises for a broker's close: `message` as amqplib words it, `code` the reply code. */
export class AmqpError extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
    this.name = 'Error';
  }
}

/** amqplib's `closeMessage`: `406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - ..."`. */
function closeMessage(refusal: BrokerRefusal): string {
  return `${refusal.code} (${REPLY_NAMES[refusal.code].replace(/_/g, '-')}) with message "${refusal.text}"`;
}

/** What the call that caused a channel's close rejects with: `Operation failed: QueueDeclare; 404 (...)`. */
export function operationFailed(method: string, refusal: BrokerRefusal): AmqpError {
  return new AmqpError(`Operation failed: ${method}; ${closeMessage(refusal)}`, refusal.code);
}

/** The channel's `error` event, and what other calls waiting on it reject with. */
export function closedByServer(refusal: BrokerRefusal): AmqpError {
  return new AmqpError(`Channel closed by server: ${closeMessage(refusal)}`, refusal.code);
}

/** The connection's error when the broker closes it: `Connection closed: 540 (NOT-IMPLEMENTED) ...`. */
export function connectionClosed(refusal: BrokerRefusal): AmqpError {
  return new AmqpError(`Connection closed: ${closeMessage(refusal)}`, refusal.code);
}

/** amqplib's error for using a channel that is closed or closing. */
export class IllegalOperationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IllegalOperationError';
  }
}

/** What calls still waiting for a reply reject with when their channel goes. */
export function channelEnded(): Error {
  return new Error('Channel ended, no reply will be forthcoming');
}
