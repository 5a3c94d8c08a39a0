import type { QueueDefinition, QueueType } from '../config/types';

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
const DEAD_LETTER_ROUTING_KEY = QUEUE_OPTIONS.deadLetterRoutingKey;
/**
 * A quorum queue dead-letters a message once its delivery count exceeds this: `x-delivery-limit: N`
 * allows N + 1 deliveries (checked on RabbitMQ 3.10). warren's `deliveryLimit` counts deliveries,
 * so `deliveryLimit: N` is declared as `x-delivery-limit: N - 1`.
 */
const DELIVERY_LIMIT = 'x-delivery-limit';
/**
 * How a quorum queue dead-letters (RabbitMQ 3.10+): `at-least-once` keeps a dead-lettered message
 * in the source queue until the queues it is routed to confirmed it, and publishes it again until
 * they do; the default `at-most-once` sends it without confirms, and loses it when the target is
 * unavailable. The broker honours `at-least-once` only with `x-overflow: reject-publish` (with the
 * default `drop-head` it falls back to at-most-once).
 */
const DEAD_LETTER_STRATEGY = 'x-dead-letter-strategy';
const OVERFLOW = 'x-overflow';
/** Where an exchange sends what none of its bindings route (an exchange argument, without `x-`). */
const ALTERNATE_EXCHANGE = 'alternate-exchange';
/** A headers-exchange binding argument: `all` = every other binding argument must match. */
const HEADERS_MATCH = 'x-match';

/**
 * The broker's name for a declare setting -> the friendly option that sets it. Covers the
 * names RabbitMQ puts in a 406 "inequivalent arg" message that have a friendly counterpart.
 */
const FRIENDLY_NAMES: ReadonlyMap<string, string> = new Map([
  ...Object.entries(QUEUE_OPTIONS).map(([friendly, argument]): [string, string] => [argument, friendly]),
  [QUEUE_TYPE, 'type'],
  [DELIVERY_LIMIT, 'deliveryLimit'],
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
  // Classic queues keep no delivery count; there the worker counts (see `recordedDeliveries`).
  if (queue.deliveryLimit !== undefined && queue.type === 'quorum') table[DELIVERY_LIMIT] = queue.deliveryLimit - 1;
  return table;
}

/**
 * A delay level's queue: every message waits exactly `ttlMs` (a per-queue TTL, so no message
 * waits behind a longer one), then the broker dead-letters it, with its routing key, to `next`.
 * A quorum level (RabbitMQ 3.10 has message TTL on quorum queues) dead-letters at least once, so
 * that a hop between levels cannot lose a message when a target is down or changes its leader;
 * no length limit is set, so `reject-publish` never refuses a publish.
 */
export function delayQueueArguments(ttlMs: number, next: string, type: QueueType = 'classic'): Record<string, unknown> {
  const table: Record<string, unknown> = { [QUEUE_OPTIONS.messageTtl]: ttlMs, [DEAD_LETTER_EXCHANGE]: next };
  if (type === 'quorum') Object.assign(table, { [QUEUE_TYPE]: 'quorum', [DEAD_LETTER_STRATEGY]: 'at-least-once', [OVERFLOW]: 'reject-publish' });
  return table;
}

/** A quorum queue's arguments table (no others: a quorum queue needs no arguments besides its type). */
export function quorumQueueArguments(): Record<string, unknown> {
  return { [QUEUE_TYPE]: 'quorum' };
}

/** Exchange arguments that send whatever the exchange cannot route to `exchange`. */
export function alternateExchangeArguments(exchange: string): Record<string, unknown> {
  return { [ALTERNATE_EXCHANGE]: exchange };
}

/**
 * A headers-exchange binding that matches messages carrying every one of `headers` with that
 * exact string value. The names must not start with `x-`: RabbitMQ skips such binding keys.
 */
export function headersBindingArguments(headers: Readonly<Record<string, string>>): Record<string, unknown> {
  return { [HEADERS_MATCH]: 'all', ...headers };
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

/** The dead-letter routing key a queue's arguments table names, if any. */
export function deadLetterRoutingKey(table: Readonly<Record<string, unknown>>): string | undefined {
  const value = table[DEAD_LETTER_ROUTING_KEY];
  return typeof value === 'string' ? value : undefined;
}

/*
 * Message headers the broker adds. They describe one trip through the broker, so a message
 * warren publishes anew (a retry, a delay, a dead letter) must not carry them on: RabbitMQ
 * reads `x-death` to detect dead-letter cycles and would drop a re-delayed message that
 * still carried the `x-death` of its previous trip through the same delay queue.
 */
const BROKER_HEADERS = /^x-(death|first-death-.*|last-death-.*|delivery-count)$/;

/** Whether `name` is a header the broker adds (`x-death`, `x-first-death-*`, `x-delivery-count`). */
export function isBrokerHeader(name: string): boolean {
  return BROKER_HEADERS.test(name);
}

/** How many times a quorum queue delivered this message before (its `x-delivery-count`), 0 when absent. */
export function previousDeliveries(headers: Readonly<Record<string, unknown>> | undefined): number {
  const value = headers?.['x-delivery-count'];
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0 ? value : 0;
}

/**
 * The headers warren adds to a message it dead-letters itself (see the worker): why, from which
 * queue, by which worker, when. RabbitMQ's `nack` cannot attach a reason, so warren publishes a
 * copy with these headers to the dead-letter exchange and acks the original.
 */
export function deadLetterHeaders(reason: string, queue: string, worker: string, at: Date): Record<string, string> {
  return {
    'x-warren-reason': reason,
    'x-warren-queue': queue,
    'x-warren-worker': worker,
    'x-warren-dead-lettered-at': at.toISOString(),
  };
}

/**
 * warren's own delivery count, for classic queues (which keep none): how many deliveries of the
 * task came before this copy of its message was published. Absent on a first publish.
 */
const DELIVERY_COUNT_HEADER = 'x-warren-deliveries';

/** The deliveries a message's `x-warren-deliveries` header records, 0 when absent. */
export function recordedDeliveries(headers: Readonly<Record<string, unknown>> | undefined): number {
  const value = headers?.[DELIVERY_COUNT_HEADER];
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0 ? value : 0;
}

/** Whether `name` is warren's delivery count header; a retry starts counting afresh. */
export function isDeliveryCountHeader(name: string): boolean {
  return name === DELIVERY_COUNT_HEADER;
}

/** The header that records `count` deliveries on a copy of a message. */
export function deliveryCountHeader(count: number): Record<string, number> {
  return { [DELIVERY_COUNT_HEADER]: count };
}
