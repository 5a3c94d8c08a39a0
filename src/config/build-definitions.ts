/**
 * Turns merged, checked files into the resolved `Definitions`: every default filled in,
 * Celery's own `celery` queue added when it is the default queue and nobody declared it.
 */
import type {
  BrokerDefinition,
  BindingDefinition,
  DelaysDefinition,
  Definitions,
  ExchangeDefinition,
  QueueDefinition,
  RouteDefinition,
  ScheduleEntryDefinition,
  ScheduleSpec,
} from './types';
import type { RoutingTarget, ShapedExchange, ShapedQueue, ShapedScheduleEntry } from './document-schema';
import { deadLetterDeclarations, deadLetterQueueName } from './dead-letter-queues';
import type { MergedDocuments } from './merge-documents';
import { routeKind } from './route-pattern';
import type { Keyed } from './schema';

/** Celery's default queue, exchange and routing key, all named `celery`. */
export const CELERY_DEFAULT_QUEUE = 'celery';
export const DEFAULT_TIMEZONE = 'UTC';
/** Celery's `result_expires`: one day, in seconds. */
export const DEFAULT_RESULT_EXPIRES = 86_400;

/** `value` without its undefined keys, so optional fields are absent rather than undefined. */
function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined)) as Partial<T>;
}

function buildExchange(exchange: ShapedExchange): ExchangeDefinition {
  return {
    name: exchange.name,
    type: exchange.type,
    durable: exchange.durable ?? true,
    autoDelete: exchange.autoDelete ?? false,
    arguments: exchange.arguments ?? {},
  };
}

/** `exchange` + `routingKey` is one binding; the routing key defaults to the queue name. */
function buildBindings(queue: ShapedQueue): BindingDefinition[] {
  const written = queue.bindings ?? (queue.exchange === undefined ? [] : [{ exchange: queue.exchange, routingKey: queue.routingKey }]);
  return written.map((binding) => ({
    exchange: binding.exchange,
    routingKey: binding.routingKey ?? queue.name,
    arguments: binding.arguments ?? {},
  }));
}

function buildQueue(queue: ShapedQueue): QueueDefinition {
  const { maxPriority, messageTtl, maxLength, deadLetterRoutingKey, expires, deliveryLimit } = queue;
  const deadLetterQueue = deadLetterQueueName(queue);
  const deadLetterExchange = deadLetterQueue ?? queue.deadLetterExchange;
  return {
    name: queue.name,
    durable: queue.durable ?? true,
    autoDelete: queue.autoDelete ?? false,
    type: queue.type ?? 'classic',
    ...definedOnly({ maxPriority, messageTtl, maxLength, deadLetterExchange, deadLetterRoutingKey, expires, deliveryLimit, deadLetterQueue }),
    arguments: queue.arguments ?? {},
    bindings: buildBindings(queue),
  };
}

function buildRoute(route: Keyed<RoutingTarget>): RouteDefinition {
  const { queue, exchange, routingKey } = route.value;
  return { pattern: route.key, kind: routeKind(route.key), ...definedOnly({ queue, exchange, routingKey }) };
}

function buildSpec(entry: ShapedScheduleEntry, timezone: string): ScheduleSpec {
  if (entry.every !== undefined) return { kind: 'every', everyMs: entry.every };
  if (entry.cron !== undefined) return { kind: 'cron', expression: entry.cron, timezone: entry.timezone ?? timezone };
  if (entry.at !== undefined) return { kind: 'at', at: entry.at };
  throw new Error(`schedule entry without every, cron or at reached resolution`);
}

/** One checked schedule entry, resolved; `timezone` is the files' default for cron entries without one. */
export function buildScheduleEntry(entry: Keyed<ShapedScheduleEntry>, timezone: string): ScheduleEntryDefinition {
  const { task, queue, exchange, routingKey, priority, expires, startAt, endAt } = entry.value;
  return {
    name: entry.key,
    task,
    schedule: buildSpec(entry.value, timezone),
    args: entry.value.args ?? [],
    kwargs: entry.value.kwargs ?? {},
    ...definedOnly({ queue, exchange, routingKey, priority, expires }),
    enabled: entry.value.enabled ?? true,
    misfire: entry.value.misfire ?? { policy: 'run-once' },
    ...definedOnly({ startAt, endAt }),
  };
}

/**
 * Adds Celery's declaration of its default queue: exchange `celery` (direct, durable), queue
 * `celery` (durable, classic) bound with key `celery`. Only for the name `celery`, and only
 * what is not declared already; any other undeclared default queue is a problem instead.
 */
function withCeleryDefault(
  merged: MergedDocuments,
  defaultQueue: string,
  exchanges: ExchangeDefinition[],
  queues: QueueDefinition[],
): Pick<Definitions, 'exchanges' | 'queues'> {
  if (defaultQueue !== CELERY_DEFAULT_QUEUE || merged.declaredQueues.names.includes(CELERY_DEFAULT_QUEUE)) return { exchanges, queues };
  const celery = CELERY_DEFAULT_QUEUE;
  const queue = buildQueue({ name: celery, exchange: celery, routingKey: celery });
  if (merged.declaredExchanges.names.includes(celery)) return { exchanges, queues: [...queues, queue] };
  return { exchanges: [...exchanges, buildExchange({ name: celery, type: 'direct' })], queues: [...queues, queue] };
}

/** The resolved definitions, not yet frozen. Cross-references are checked separately. */
export function buildDefinitions(merged: MergedDocuments, broker: BrokerDefinition, resultBackend: string, delays: DelaysDefinition): Definitions {
  const defaultQueue = merged.defaultQueue?.value ?? CELERY_DEFAULT_QUEUE;
  const timezone = merged.timezone?.value ?? DEFAULT_TIMEZONE;
  const deadLetters = deadLetterDeclarations(merged.queues.map((queue) => queue.value));
  const declared = withCeleryDefault(
    merged,
    defaultQueue,
    [...merged.exchanges.map((exchange) => buildExchange(exchange.value)), ...deadLetters.exchanges.map(buildExchange)],
    [...merged.queues.map((queue) => buildQueue(queue.value)), ...deadLetters.queues.map(buildQueue)],
  );
  return {
    broker: { urls: [...broker.urls], failoverStrategy: broker.failoverStrategy },
    ...declared,
    routes: merged.routes.map(buildRoute),
    defaultQueue,
    timezone,
    schedule: merged.schedule.map((entry) => buildScheduleEntry(entry, timezone)),
    sources: [...merged.sources],
    resultBackend,
    resultExpires: merged.resultExpires?.value ?? DEFAULT_RESULT_EXPIRES,
    jsonDates: merged.jsonDates?.value ?? 'tagged',
    delays: { ...delays },
  };
}
