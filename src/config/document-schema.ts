/**
 * The schema of one definitions file, and `shapeDocument`, which checks a parsed file against
 * it. Shape only: whether a route's queue is declared is a question for the merged files
 * (see `check-references.ts`). Values come out converted but without defaults.
 */
import type { DefinitionProblem } from '../errors';
import { FAILOVER_STRATEGIES, QUEUE_TYPES, type ExchangeType, type FailoverStrategy, type JsonDates, type MisfirePolicy, type QueueType } from './types';
import { childPath, itemPath } from './problem-path';
import { routePatternProblem } from './route-pattern';
import {
  anyList,
  anyMapping,
  boolean,
  describeValue,
  integer,
  isMapping,
  keyedMap,
  listOf,
  locatedList,
  object,
  oneOf,
  optional,
  report,
  required,
  text,
  type CheckContext,
  type Keyed,
  type Located,
  type Schema,
} from './schema';
import { brokerUrl, cron, instant, interval, milliseconds, misfire, resultBackendUrl, seconds, timeZone } from './value-schemas';

export interface ShapedExchange {
  name: string;
  type: ExchangeType;
  durable?: boolean;
  autoDelete?: boolean;
  arguments?: Record<string, unknown>;
}

export interface ShapedBinding {
  exchange: string;
  routingKey?: string;
  arguments?: Record<string, unknown>;
}

export interface ShapedQueue {
  name: string;
  type?: QueueType;
  exchange?: string;
  routingKey?: string;
  bindings?: ShapedBinding[];
  durable?: boolean;
  autoDelete?: boolean;
  maxPriority?: number;
  messageTtl?: number;
  maxLength?: number;
  deadLetterExchange?: string;
  deadLetterRoutingKey?: string;
  expires?: number;
  deliveryLimit?: number;
  /** `true` asks for the default name; `false` is left out when checked. */
  deadLetterQueue?: true | { name?: string };
  arguments?: Record<string, unknown>;
}

/** Where a route or a schedule entry sends its task. */
export interface RoutingTarget {
  queue?: string;
  exchange?: string;
  routingKey?: string;
}

export interface ShapedScheduleEntry extends RoutingTarget {
  task: string;
  /** Milliseconds. */
  every?: number;
  /** Normalized cron expression. */
  cron?: string;
  at?: Date;
  timezone?: string;
  args?: unknown[];
  kwargs?: Record<string, unknown>;
  priority?: number;
  /** Seconds. */
  expires?: number;
  enabled?: boolean;
  misfire?: MisfirePolicy;
  startAt?: Date;
  endAt?: Date;
}

/** The broker section: `url` or `urls` as a list, and how to go through it. */
export interface ShapedBroker {
  urls: string[];
  failoverStrategy?: FailoverStrategy;
}

interface ShapedSections {
  broker?: ShapedBroker;
  exchanges?: Array<Located<ShapedExchange>>;
  queues?: Array<Located<ShapedQueue>>;
  defaultQueue?: string;
  routes?: Array<Keyed<RoutingTarget>>;
  timezone?: string;
  schedule?: Array<Keyed<ShapedScheduleEntry>>;
  resultBackend?: string;
  /** Seconds. */
  resultExpires?: number;
  jsonDates?: JsonDates;
  delays?: ShapedDelays;
}

/** The delays section. */
export interface ShapedDelays {
  queueType?: QueueType;
}

/** The exchange or queue names a file declares. */
export interface Declarations {
  /** Broken items included: a queue with a misspelt `type` is still declared. */
  readonly names: Array<Located<string>>;
  /**
   * False when some item's name could not be read (or the section is not a list): then no
   * reference can be called undeclared, since it may name the unreadable item.
   */
  readonly complete: boolean;
}

/** One file, checked. Broken items are left out; what is left is sound. */
export interface ShapedDocument extends ShapedSections {
  readonly file: string;
  readonly declaredExchanges: Declarations;
  readonly declaredQueues: Declarations;
}

const EXCHANGE_TYPES: readonly ExchangeType[] = ['direct', 'topic', 'fanout', 'headers'];

const exchangeName = text('an exchange name');
/** Where an exchange is referred to: `""` passes here so the reference check can say why it is refused. */
const exchangeReference = text('an exchange name', { allowEmpty: true });
const queueName = text('a queue name');
const routingKey = text('a routing key', { allowEmpty: true });
const rawArguments = anyMapping('a mapping of arguments');

/** Reports `key` set without `companion`: `routingKey without exchange (expected exchange beside it)`. */
function requireCompanion<T extends object>(value: T, key: keyof T & string, companion: keyof T & string, path: string, context: CheckContext): void {
  if (value[key] !== undefined && value[companion] === undefined) {
    report(context, childPath(path, key), `${key} without ${companion} (expected ${companion} beside it)`);
  }
}

/** Reports two keys that exclude each other, at the path of the item. */
function forbidBoth<T extends object>(value: T, first: keyof T & string, second: keyof T & string, path: string, context: CheckContext): void {
  if (value[first] !== undefined && value[second] !== undefined) {
    report(context, path, `has both ${first} and ${second} (expected one of them)`);
  }
}

/** An exchange without a queue says nothing about where to go unless a routing key is given. */
function requireRoutingKeyForExchange(value: RoutingTarget, path: string, context: CheckContext): void {
  if (value.exchange !== undefined && value.queue === undefined && value.routingKey === undefined) {
    report(context, childPath(path, 'exchange'), 'exchange without routingKey or queue (expected routingKey beside it)');
  }
}

const exchange = object<ShapedExchange>('an exchange: a mapping with name and type', {
  name: required(exchangeName),
  type: required(oneOf('an exchange type', EXCHANGE_TYPES)),
  durable: optional(boolean),
  autoDelete: optional(boolean),
  arguments: optional(rawArguments),
});

const binding = object<ShapedBinding>('a binding: a mapping with exchange and routingKey', {
  exchange: required(exchangeReference),
  routingKey: optional(routingKey),
  arguments: optional(rawArguments),
});

const DEAD_LETTER_QUEUE_EXPECTED = 'true, false, or a mapping with name';

const deadLetterQueueObject = object<{ name?: string }>(DEAD_LETTER_QUEUE_EXPECTED, { name: optional(text('a queue name')) });

/** `deadLetterQueue`: `true` or `{ name }` asks for one; `false` is the same as leaving it out. */
const deadLetterQueue: Schema<true | { name?: string }> = {
  expected: DEAD_LETTER_QUEUE_EXPECTED,
  check(value, path, context) {
    if (value === true) return true;
    if (value === false) return undefined;
    if (isMapping(value)) return deadLetterQueueObject.check(value, path, context);
    return report(context, path, `${describeValue(value)} is not a dead-letter queue (expected ${DEAD_LETTER_QUEUE_EXPECTED})`);
  },
};

/** What RabbitMQ refuses to declare for a quorum queue, said before it gets the chance. */
function checkQuorum(queue: ShapedQueue, path: string, context: CheckContext): void {
  if (queue.type !== 'quorum') return;
  if (queue.durable === false) {
    report(context, childPath(path, 'durable'), 'a quorum queue is always durable (expected durable true or no durable with type quorum)');
  }
  if (queue.autoDelete === true) {
    report(context, childPath(path, 'autoDelete'), 'a quorum queue cannot be auto-delete (expected autoDelete false or no autoDelete with type quorum)');
  }
  if (queue.maxPriority !== undefined) {
    report(context, childPath(path, 'maxPriority'), 'a quorum queue has no priorities (expected no maxPriority with type quorum)');
  }
}

const queue = object<ShapedQueue>(
  'a queue: a mapping with a name, and an exchange or bindings if it is bound',
  {
    name: required(queueName),
    type: optional(oneOf('a queue type', QUEUE_TYPES)),
    exchange: optional(exchangeReference),
    routingKey: optional(routingKey),
    bindings: optional(listOf(binding, 'a list of bindings')),
    durable: optional(boolean),
    autoDelete: optional(boolean),
    maxPriority: optional(integer(1, 255)),
    messageTtl: optional(milliseconds(0)),
    maxLength: optional(integer(0)),
    deadLetterExchange: optional(exchangeReference),
    deadLetterRoutingKey: optional(routingKey),
    expires: optional(milliseconds(1)),
    deliveryLimit: optional(integer(1)),
    deadLetterQueue: optional(deadLetterQueue),
    arguments: optional(rawArguments),
  },
  {
    refine(value, path, context) {
      forbidBoth(value, 'exchange', 'bindings', path, context);
      forbidBoth(value, 'deadLetterExchange', 'deadLetterQueue', path, context);
      requireCompanion(value, 'routingKey', 'exchange', path, context);
      requireCompanion(value, 'deadLetterRoutingKey', 'deadLetterExchange', path, context);
      checkQuorum(value, path, context);
    },
  },
);

const ROUTE_EXPECTED = 'a queue name, or a mapping with queue, exchange, routingKey';

const routeObject = object<RoutingTarget>(
  ROUTE_EXPECTED,
  { queue: optional(queueName), exchange: optional(exchangeReference), routingKey: optional(routingKey) },
  {
    refine(value, path, context) {
      if (value.queue === undefined && value.exchange === undefined) {
        report(context, path, 'has neither queue nor exchange (expected one of them)');
      }
      requireRoutingKeyForExchange(value, path, context);
    },
  },
);

/** A route: a plain string names the queue. */
const route: Schema<RoutingTarget> = {
  expected: ROUTE_EXPECTED,
  check(value, path, context) {
    if (isMapping(value)) return routeObject.check(value, path, context);
    if (typeof value !== 'string') return report(context, path, `${describeValue(value)} is not a route (expected ${ROUTE_EXPECTED})`);
    const name = queueName.check(value, path, context);
    return name === undefined ? undefined : { queue: name };
  },
};

const SCHEDULE_KINDS = ['every', 'cron', 'at'] as const;

function checkScheduleKinds(entry: ShapedScheduleEntry, path: string, context: CheckContext): void {
  const given = SCHEDULE_KINDS.filter((kind) => entry[kind] !== undefined);
  if (given.length === 0) report(context, path, 'has none of every, cron, at (expected exactly one of them)');
  if (given.length === 2) report(context, path, `has both ${given[0]} and ${given[1]} (expected exactly one of every, cron, at)`);
  if (given.length === 3) report(context, path, 'has every, cron and at (expected exactly one of them)');
}

function checkWindow(entry: ShapedScheduleEntry, path: string, context: CheckContext): void {
  const { startAt, endAt } = entry;
  if (startAt !== undefined && endAt !== undefined && endAt.getTime() <= startAt.getTime()) {
    report(context, childPath(path, 'endAt'), `${endAt.toISOString()} is not after startAt ${startAt.toISOString()} (expected endAt later than startAt)`);
  }
}

const scheduleEntry = object<ShapedScheduleEntry>(
  'a schedule entry: a mapping with task and one of every, cron, at',
  {
    task: required(text('a task name')),
    every: optional(interval),
    cron: optional(cron),
    at: optional(instant),
    timezone: optional(timeZone),
    args: optional(anyList('a list of arguments')),
    kwargs: optional(anyMapping('a mapping of keyword arguments')),
    queue: optional(queueName),
    exchange: optional(exchangeReference),
    routingKey: optional(routingKey),
    priority: optional(integer(0, 255)),
    expires: optional(seconds),
    enabled: optional(boolean),
    misfire: optional(misfire),
    startAt: optional(instant),
    endAt: optional(instant),
  },
  {
    refine(value, path, context) {
      checkScheduleKinds(value, path, context);
      requireCompanion(value, 'timezone', 'cron', path, context);
      requireRoutingKeyForExchange(value, path, context);
      checkWindow(value, path, context);
    },
  },
);

const brokerObject = object<{ url?: string; urls?: string[]; failoverStrategy?: FailoverStrategy }>(
  'a mapping with url or urls, and failoverStrategy',
  {
    url: optional(brokerUrl),
    urls: optional(listOf(brokerUrl, 'a list of broker URLs')),
    failoverStrategy: optional(oneOf('a failover strategy', FAILOVER_STRATEGIES)),
  },
  {
    refine(value, path, context) {
      forbidBoth(value, 'url', 'urls', path, context);
      if (value.url === undefined && value.urls === undefined) report(context, path, 'has neither url nor urls (expected one of them)');
      if (value.urls?.length === 0) report(context, childPath(path, 'urls'), 'empty list (expected at least one broker URL)');
    },
  },
);

/** The broker section, its URLs as a list (one URL is a list of one). */
const broker: Schema<ShapedBroker> = {
  expected: brokerObject.expected,
  check(value, path, context) {
    const checked = brokerObject.check(value, path, context);
    if (checked === undefined) return undefined;
    const urls = checked.urls ?? (checked.url === undefined ? [] : [checked.url]);
    return checked.failoverStrategy === undefined ? { urls } : { urls, failoverStrategy: checked.failoverStrategy };
  },
};

const delays = object<ShapedDelays>('a mapping with queueType', {
  queueType: optional(oneOf('a delay queue type', QUEUE_TYPES)),
});

const SECTIONS = ['broker', 'exchanges', 'queues', 'defaultQueue', 'routes', 'timezone', 'schedule', 'resultBackend', 'resultExpires', 'jsonDates', 'delays'];

const document = object<ShapedSections>(
  `a mapping with keys ${SECTIONS.join(', ')}`,
  {
    broker: optional(broker),
    exchanges: optional(locatedList(exchange, 'a list of exchanges')),
    queues: optional(locatedList(queue, 'a list of queues')),
    defaultQueue: optional(queueName),
    routes: optional(keyedMap(route, 'a mapping from task names or patterns to queues', routePatternProblem)),
    timezone: optional(timeZone),
    schedule: optional(keyedMap(scheduleEntry, 'a mapping from entry names to schedule entries')),
    resultBackend: optional(resultBackendUrl),
    resultExpires: optional(seconds),
    jsonDates: optional(oneOf('a way to write dates', ['tagged', 'plain'] as const)),
    delays: optional(delays),
  },
  { partial: true },
);

/** The names declared in a raw `exchanges` or `queues` section, whatever else is wrong with its items. */
function declarations(section: unknown, sectionPath: string, file: string): Declarations {
  if (section === undefined || section === null) return { names: [], complete: true };
  if (!Array.isArray(section)) return { names: [], complete: false };
  const names = section.flatMap((item: unknown, index) =>
    isMapping(item) && typeof item.name === 'string' && item.name !== ''
      ? [{ value: item.name, file, path: itemPath(sectionPath, index) }]
      : [],
  );
  return { names, complete: names.length === section.length };
}

/**
 * Checks one parsed file (`content` as YAML or JSON gave it; empty is allowed) and adds its
 * problems to `problems`. What comes back holds only the parts that passed.
 */
export function shapeDocument(file: string, content: unknown, problems: DefinitionProblem[]): ShapedDocument {
  const sections = content === null || content === undefined ? {} : document.check(content, '', { file, problems }) ?? {};
  const raw = isMapping(content) ? content : {};
  return {
    ...sections,
    file,
    declaredExchanges: declarations(raw.exchanges, 'exchanges', file),
    declaredQueues: declarations(raw.queues, 'queues', file),
  };
}
