import type { QueueDefinition } from '../config/types';

/*
 * The only place in warren that knows RabbitMQ's `x-` argument names. Everything else
 * speaks in the friendly option names of the definitions files.
 */

/** Each friendly numeric or string queue option and the argument it becomes. */
const QUEUE_OPTIONS = {
  maxPriority: 'x-max-priority',
  messageTtl: 'x-message-ttl',
  maxLength: 'x-max-length',
  deadLetterExchange: 'x-dead-letter-exchange',
  deadLetterRoutingKey: 'x-dead-letter-routing-key',
  expires: 'x-expires',
} as const satisfies Partial<Record<keyof QueueDefinition, string>>;

const QUEUE_TYPE = 'x-queue-type';
const DEAD_LETTER_EXCHANGE = QUEUE_OPTIONS.deadLetterExchange;

/**
 * The broker's name for a declare setting -> the friendly option that sets it. Covers the
 * names RabbitMQ puts in a 406 "inequivalent arg" message that have a friendly counterpart.
 */
const FRIENDLY_NAMES: ReadonlyMap<string, string> = new Map([
  ...Object.entries(QUEUE_OPTIONS).map(([friendly, argument]): [string, string] => [argument, friendly]),
  [QUEUE_TYPE, 'type'],
  ['auto_delete', 'autoDelete'],
]);

/**
 * The arguments table to declare `queue` with: the raw `arguments` first, then the friendly
 * options on top (a friendly option wins over a raw argument of the same name).
 * A classic queue gets no `x-queue-type` at all, so it stays equivalent to a queue that
 * Celery (or anyone) declared with no arguments.
 */
export function queueArguments(queue: QueueDefinition): Record<string, unknown> {
  const table: Record<string, unknown> = { ...queue.arguments };
  if (queue.type === 'quorum') table[QUEUE_TYPE] = 'quorum';
  for (const [friendly, argument] of Object.entries(QUEUE_OPTIONS)) {
    const value = queue[friendly as keyof typeof QUEUE_OPTIONS];
    if (value !== undefined) table[argument] = value;
  }
  return table;
}

/**
 * The friendly option name for a broker argument or setting, for messages:
 * `friendlyName('x-max-priority')` is `'maxPriority'`. `undefined` where there is none.
 */
export function friendlyName(brokerName: string): string | undefined {
  return FRIENDLY_NAMES.get(brokerName);
}

/** The dead-letter exchange a queue's arguments table names, if any. */
export function deadLetterExchange(table: Readonly<Record<string, unknown>>): string | undefined {
  const value = table[DEAD_LETTER_EXCHANGE];
  return typeof value === 'string' ? value : undefined;
}
