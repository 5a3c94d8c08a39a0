import type { QueueType } from '../config/types';
import { alternateExchangeArguments, delayQueueArguments, headersBindingArguments, quorumQueueArguments } from './arguments';
import type { BindingSpec, ExchangeBindingSpec, Topology } from './topology';

/*
 * Delays kept by the broker, with no plugin: binary delay levels.
 *
 * Level k is a durable headers exchange and a durable classic queue, both named
 * `<prefix>.<2^k>s`, for k = 0 .. DELAY_LEVELS - 1. The queue holds every message exactly 2^k
 * seconds (a per-queue TTL, so no message ever waits behind a longer one), then the broker
 * dead-letters it to the exchange of level k - 1; level 0 dead-letters to `<prefix>.deliver`.
 * A delayed message carries one header per level, `warren-delay-bit-<k>: "0" | "1"`, the bits
 * of its delay in seconds. Level k's exchange routes a message whose bit k is 1 into its queue,
 * one whose bit k is 0 straight on to level k - 1's exchange (an exchange-to-exchange binding,
 * no waiting). A message enters at the level of its highest bit, so it waits in exactly the
 * levels whose bits are set: the sum of their TTLs is its delay.
 *
 * Dead-lettering keeps the routing key, so the message reaches `<prefix>.deliver` with the
 * routing key it was sent with. That headers exchange holds one binding per destination:
 * `warren-delay-exchange: X` to exchange X (which then routes by the routing key, exactly as a
 * message published to X now would be), or `warren-delay-queue: Q` to queue Q (for the default
 * exchange, which cannot be bound). Whatever matches no binding there goes to its alternate
 * exchange and waits in `<prefix>.unroutable` instead of vanishing.
 *
 * The header names must not start with `x-`: a headers exchange ignores binding keys that do.
 *
 * Quorum levels (`queueType: 'quorum'`) are a second set of level exchanges and queues, named
 * `<prefix>.quorum.<2^k>s`: a queue's type cannot change in place, and classic levels may still
 * hold messages, so both sets may exist at once (during a move from one to the other) and each
 * drains on its own. They share the deliver exchange, its bindings and the unroutable exchange;
 * a quorum set keeps unroutable messages in a quorum queue of its own, `<prefix>.quorum.unroutable`.
 */

/** Levels 2^0 .. 2^21 seconds: one pass through them delays up to 2^22 - 1 s (about 48.5 days). */
export const DELAY_LEVELS = 22;
/** The longest delay one pass through the levels gives; a longer one is re-delayed on arrival. */
export const MAX_DELAY_SECONDS = 2 ** DELAY_LEVELS - 1;
/** @defaultValue of {@link DelayTopologyOptions.prefix} */
export const DEFAULT_DELAY_PREFIX = 'warren.delay';

const BIT_HEADER = 'warren-delay-bit-';
const EXCHANGE_HEADER = 'warren-delay-exchange';
const QUEUE_HEADER = 'warren-delay-queue';

export interface DelayTopologyOptions {
  /** Names of the levels' exchanges and queues start with this. @defaultValue 'warren.delay' */
  readonly prefix?: string;
  /**
   * The type of the level queues: `quorum` levels are replicated over a cluster's nodes and
   * dead-letter from level to level at least once. @defaultValue 'classic'
   */
  readonly queueType?: QueueType;
}

/** Both sets of levels, for what lists them (`warren queues`): classic first. */
export const DELAY_QUEUE_TYPES: readonly QueueType[] = ['classic', 'quorum'];

/** Where a delayed message goes once its time has come: published to `exchange` with `routingKey`. */
export interface DelayTarget {
  /** `""` is the default exchange: the message goes to the queue named by `routingKey`. */
  readonly exchange: string;
  readonly routingKey: string;
}

/** How to publish a delayed message: to `exchange` with `routingKey`, adding `headers`. */
export interface DelayedRoute {
  readonly exchange: string;
  readonly routingKey: string;
  readonly headers: Readonly<Record<string, string>>;
  /** The delay the route gives, in whole seconds (at most {@link MAX_DELAY_SECONDS}). */
  readonly seconds: number;
}

function prefixOf(options: DelayTopologyOptions): string {
  return options.prefix ?? DEFAULT_DELAY_PREFIX;
}

/** The part of the level names that says their set: `quorum.` for quorum levels, nothing for classic ones. */
function setOf(options: DelayTopologyOptions): string {
  return options.queueType === 'quorum' ? 'quorum.' : '';
}

/** The exchange and queue name of level `k`: `warren.delay.1024s` for k = 10, `warren.delay.quorum.1024s` in the quorum set. */
export function delayLevelName(k: number, options: DelayTopologyOptions = {}): string {
  return `${prefixOf(options)}.${setOf(options)}${2 ** k}s`;
}

/** The level queues of one set, shortest first. */
export function delayLevelQueues(options: DelayTopologyOptions = {}): string[] {
  return Array.from({ length: DELAY_LEVELS }, (_, k) => delayLevelName(k, options));
}

/** The exchange the last level dead-letters into; it holds one binding per destination. */
export function delayDeliverExchange(options: DelayTopologyOptions = {}): string {
  return `${prefixOf(options)}.deliver`;
}

/** The fanout exchange (and the classic set's queue) that keeps delayed messages whose destination had no binding. */
export function delayUnroutableName(options: DelayTopologyOptions = {}): string {
  return `${prefixOf(options)}.unroutable`;
}

/** The queue bound to the unroutable exchange for one set: `warren.delay.unroutable`, `warren.delay.quorum.unroutable`. */
export function delayUnroutableQueue(options: DelayTopologyOptions = {}): string {
  return `${prefixOf(options)}.${setOf(options)}unroutable`;
}

/** The levels, the deliver exchange and the unroutable queue. Declaring it is idempotent. */
export function delayTopology(options: DelayTopologyOptions = {}): Topology {
  const durable = { durable: true, autoDelete: false } as const;
  const queueType = options.queueType ?? 'classic';
  const deliver = delayDeliverExchange(options);
  const unroutable = delayUnroutableName(options);
  const unroutableQueue = delayUnroutableQueue(options);
  const levels = Array.from({ length: DELAY_LEVELS }, (_, k) => ({
    name: delayLevelName(k, options),
    next: k === 0 ? deliver : delayLevelName(k - 1, options),
    bit: `${BIT_HEADER}${k}`,
    ttlMs: 2 ** k * 1000,
  }));
  return {
    exchanges: [
      { name: unroutable, type: 'fanout', options: { ...durable, arguments: {} } },
      { name: deliver, type: 'headers', options: { ...durable, arguments: alternateExchangeArguments(unroutable) } },
      ...levels.map((level) => ({ name: level.name, type: 'headers' as const, options: { ...durable, arguments: {} } })),
    ],
    queues: [
      { name: unroutableQueue, options: { ...durable, arguments: queueType === 'quorum' ? quorumQueueArguments() : {} } },
      ...levels.map((level) => ({ name: level.name, options: { ...durable, arguments: delayQueueArguments(level.ttlMs, level.next, queueType) } })),
    ],
    bindings: [
      { queue: unroutableQueue, exchange: unroutable, routingKey: '', arguments: {} },
      ...levels.map((level) => ({
        queue: level.name,
        exchange: level.name,
        routingKey: '',
        arguments: headersBindingArguments({ [level.bit]: '1' }),
      })),
    ],
    exchangeBindings: levels.map((level) => ({
      destination: level.next,
      source: level.name,
      routingKey: '',
      arguments: headersBindingArguments({ [level.bit]: '0' }),
    })),
  };
}

/** The binding on the deliver exchange that takes delayed messages for `target` there. */
export function delayTargetBinding(target: DelayTarget, options: DelayTopologyOptions = {}): BindingSpec | ExchangeBindingSpec {
  const source = delayDeliverExchange(options);
  return target.exchange === ''
    ? { queue: target.routingKey, exchange: source, routingKey: '', arguments: headersBindingArguments({ [QUEUE_HEADER]: target.routingKey }) }
    : { destination: target.exchange, source, routingKey: '', arguments: headersBindingArguments({ [EXCHANGE_HEADER]: target.exchange }) };
}

/**
 * How to publish a message so that it reaches `target` after `delayMs`, rounded **up** to whole
 * seconds so that it never arrives early, and at most {@link MAX_DELAY_SECONDS} (the worker
 * sends a message that arrives before its `eta` round again). At least one second.
 */
export function delayedRoute(target: DelayTarget, delayMs: number, options: DelayTopologyOptions = {}): DelayedRoute {
  const seconds = Math.min(MAX_DELAY_SECONDS, Math.max(1, Math.ceil(delayMs / 1000)));
  const highest = Math.floor(Math.log2(seconds));
  const headers: Record<string, string> = target.exchange === '' ? { [QUEUE_HEADER]: target.routingKey } : { [EXCHANGE_HEADER]: target.exchange };
  for (let k = 0; k <= highest; k += 1) headers[`${BIT_HEADER}${k}`] = Math.floor(seconds / 2 ** k) % 2 === 1 ? '1' : '0';
  return { exchange: delayLevelName(highest, options), routingKey: target.routingKey, headers, seconds };
}

/** Whether `name` is a header the delay levels route by; a message published anew drops them. */
export function isDelayHeader(name: string): boolean {
  return name.startsWith(BIT_HEADER) || name === EXCHANGE_HEADER || name === QUEUE_HEADER;
}
