/**
 * The resolved, validated definitions: what `loadDefinitions` returns, deeply frozen.
 * Every default is filled in, every cross-reference has been checked.
 */

export type ExchangeType = 'direct' | 'topic' | 'fanout' | 'headers';
export type QueueType = 'classic' | 'quorum';
/** How Dates and Buffers are written in JSON: kombu ≥ 5.3 tags, or Celery 5.2's plain strings. */
export type JsonDates = 'tagged' | 'plain';
export type ArgumentTable = Readonly<Record<string, unknown>>;

/**
 * The order in which a connection tries `broker.urls` (kombu's `failover_strategy` names, plus
 * warren's default `in-order`): see `FailoverOrder` in the transport.
 */
export type FailoverStrategy = 'in-order' | 'round-robin' | 'shuffle';

export const FAILOVER_STRATEGIES: readonly FailoverStrategy[] = ['in-order', 'round-robin', 'shuffle'];

export interface BrokerDefinition {
  /** One or more URLs; more than one means failover, in the order `failoverStrategy` says. */
  readonly urls: readonly string[];
  /** @defaultValue 'in-order' */
  readonly failoverStrategy: FailoverStrategy;
}

/** Where warren keeps delayed tasks (countdown, eta, retry backoff): the delay levels. */
export interface DelaysDefinition {
  /**
   * The type of the delay-level queues. `classic` levels live on one node of a cluster; `quorum`
   * levels are replicated, under names of their own (`warren.delay.quorum.<2^k>s`).
   * @defaultValue 'classic'
   */
  readonly queueType: QueueType;
}

export const QUEUE_TYPES: readonly QueueType[] = ['classic', 'quorum'];

export interface ExchangeDefinition {
  readonly name: string;
  readonly type: ExchangeType;
  /** @defaultValue true */
  readonly durable: boolean;
  /** @defaultValue false */
  readonly autoDelete: boolean;
  /** Raw `x-` arguments, passed through unchanged. */
  readonly arguments: ArgumentTable;
}

export interface BindingDefinition {
  /** The exchange the queue is bound to. */
  readonly exchange: string;
  /** Binding key. For `headers` and `fanout` exchanges it may be empty. */
  readonly routingKey: string;
  readonly arguments: ArgumentTable;
}

export interface QueueDefinition {
  readonly name: string;
  /** @defaultValue true */
  readonly durable: boolean;
  /** @defaultValue false */
  readonly autoDelete: boolean;
  /** @defaultValue 'classic' */
  readonly type: QueueType;
  readonly maxPriority?: number;
  /** Milliseconds. */
  readonly messageTtl?: number;
  readonly maxLength?: number;
  readonly deadLetterExchange?: string;
  readonly deadLetterRoutingKey?: string;
  /** Milliseconds of disuse after which the broker deletes the queue. */
  readonly expires?: number;
  /**
   * Deliveries of one message before it is dead-lettered (a poison message): the first delivery
   * counts. Quorum queues count in the broker (`x-delivery-limit` is this minus one); on classic
   * queues warren's worker counts redeliveries in a header of its own.
   */
  readonly deliveryLimit?: number;
  /**
   * The dead-letter queue warren declares for this queue (from `deadLetterQueue` in the files):
   * a fanout exchange and a queue of this name, set as the queue's `deadLetterExchange`.
   */
  readonly deadLetterQueue?: string;
  /** Raw `x-` arguments; friendly options above win where both name the same argument. */
  readonly arguments: ArgumentTable;
  /** From `exchange` + `routingKey`, or from `bindings`. Empty: reachable through the default exchange only. */
  readonly bindings: readonly BindingDefinition[];
}

export type RouteKind = 'exact' | 'glob' | 'regex';

/** One line of the routes table, in file order. */
export interface RouteDefinition {
  /** The key as written: `app1.tasks1.deal1`, `app1.tasks2.*`, `/^app2\./`. */
  readonly pattern: string;
  readonly kind: RouteKind;
  /** Target queue; its first binding gives exchange and routing key unless they are given. */
  readonly queue?: string;
  readonly exchange?: string;
  readonly routingKey?: string;
}

export type MisfirePolicy =
  | { readonly policy: 'run-once' }
  | { readonly policy: 'skip' }
  | { readonly policy: 'catch-up'; readonly max: number };

/** Celery-crontab style fields; each a cron field expression (`*`, `0-30/5`, `1,3`). */
export interface CronFields {
  readonly minute: string;
  readonly hour: string;
  readonly dayOfWeek: string;
  readonly dayOfMonth: string;
  readonly monthOfYear: string;
}

export type ScheduleSpec =
  | { readonly kind: 'every'; readonly everyMs: number }
  /** `expression` is the normalized 5- or 6-field cron string (objects are turned into one). */
  | { readonly kind: 'cron'; readonly expression: string; readonly timezone: string }
  | { readonly kind: 'at'; readonly at: Date };

export interface ScheduleEntryDefinition {
  readonly name: string;
  readonly task: string;
  readonly schedule: ScheduleSpec;
  readonly args: readonly unknown[];
  readonly kwargs: Readonly<Record<string, unknown>>;
  readonly queue?: string;
  readonly exchange?: string;
  readonly routingKey?: string;
  readonly priority?: number;
  /** Seconds after the planned fire time after which the task is not run. */
  readonly expires?: number;
  /** @defaultValue true */
  readonly enabled: boolean;
  /** @defaultValue run-once */
  readonly misfire: MisfirePolicy;
  readonly startAt?: Date;
  readonly endAt?: Date;
}

export interface Definitions {
  readonly broker: BrokerDefinition;
  readonly exchanges: readonly ExchangeDefinition[];
  readonly queues: readonly QueueDefinition[];
  readonly routes: readonly RouteDefinition[];
  /** @defaultValue 'celery' */
  readonly defaultQueue: string;
  /** IANA time zone. @defaultValue 'UTC' */
  readonly timezone: string;
  readonly schedule: readonly ScheduleEntryDefinition[];
  /** The files the definitions were read from, in merge order. */
  readonly sources: readonly string[];
  /**
   * Where workers store task states and clients read them: `rpc://`, `redis://…`, `rediss://…`
   * or `redis+cluster://…`. `loadDefinitions` always sets it; in definitions built by hand an
   * absent value means the default. @defaultValue 'rpc://'
   */
  readonly resultBackend?: string;
  /** Seconds a stored result lives in a key-value backend (Celery's `result_expires`). @defaultValue 86400 */
  readonly resultExpires?: number;
  /** How Dates and Buffers are written in messages and results. @defaultValue 'tagged' */
  readonly jsonDates?: JsonDates;
  /**
   * The delay levels. `loadDefinitions` always sets it; in definitions built by hand an absent
   * value means the default. @defaultValue `{ queueType: 'classic' }`
   */
  readonly delays?: DelaysDefinition;
}
