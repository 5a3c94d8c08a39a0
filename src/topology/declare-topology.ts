import { TopologyMismatchError } from '../errors';
import { friendlyName } from './arguments';
import type { BindingSpec, DeclareOptions, ExchangeBindingSpec, ExchangeSpec, Topology } from './topology';

/**
 * The channel operations declaring needs. amqplib's `Channel` satisfies it as it is, so
 * this layer never imports amqplib; `transport/` hands one in.
 */
export interface TopologyChannel {
  assertExchange(exchange: string, type: string, options: DeclareOptions): Promise<unknown>;
  assertQueue(queue: string, options: DeclareOptions): Promise<{ messageCount: number; consumerCount: number }>;
  bindQueue(queue: string, source: string, pattern: string, args: Readonly<Record<string, unknown>>): Promise<unknown>;
  bindExchange(destination: string, source: string, pattern: string, args: Readonly<Record<string, unknown>>): Promise<unknown>;
}

/** A queue as the broker reported it when it was declared. */
export interface DeclaredQueue {
  readonly name: string;
  readonly messageCount: number;
  readonly consumerCount: number;
}

/** What `declareTopology` declared, in the order it declared it. */
export interface DeclaredReport {
  readonly exchanges: readonly ExchangeSpec[];
  readonly queues: readonly DeclaredQueue[];
  readonly bindings: readonly BindingSpec[];
  readonly exchangeBindings: readonly ExchangeBindingSpec[];
}

/**
 * Declares `topology` on `channel`: every exchange, then every queue, then every binding
 * (queue bindings, then exchange-to-exchange bindings), one at a time. Declaring is idempotent, so this is safe on every start and reconnect.
 *
 * Use a channel of its own: a declare that fails closes its channel, and the caller opens
 * a new one for whatever comes next.
 * @throws TopologyMismatchError when the broker already holds an exchange or queue with other
 *   settings (406 PRECONDITION_FAILED "inequivalent arg"), naming the object and the argument.
 *   Any other failure is rethrown as the channel reported it.
 */
export async function declareTopology(channel: TopologyChannel, topology: Topology): Promise<DeclaredReport> {
  try {
    for (const x of topology.exchanges) {
      await channel.assertExchange(x.name, x.type, x.options);
    }
    const queues: DeclaredQueue[] = [];
    for (const q of topology.queues) {
      const { messageCount, consumerCount } = await channel.assertQueue(q.name, q.options);
      queues.push({ name: q.name, messageCount, consumerCount });
    }
    for (const b of topology.bindings) {
      await channel.bindQueue(b.queue, b.exchange, b.routingKey, b.arguments);
    }
    const exchangeBindings = topology.exchangeBindings ?? [];
    for (const b of exchangeBindings) {
      await channel.bindExchange(b.destination, b.source, b.routingKey, b.arguments);
    }
    return { exchanges: topology.exchanges, queues, bindings: topology.bindings, exchangeBindings };
  } catch (error) {
    throw mismatchError(error) ?? error;
  }
}

/*
 * RabbitMQ's text, as amqplib 2.x relays it (checked on RabbitMQ 3.10), e.g.
 *   Operation failed: QueueDeclare; 406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED -
 *   inequivalent arg 'x-max-priority' for queue 'q1' in vhost '/': received none but current is
 *   the value '10' of type 'byte'"
 * The channel's own `error` event carries the same text after "Channel closed by server: ".
 */
const INEQUIVALENT =
  /PRECONDITION_FAILED - inequivalent arg '(.*?)' for (queue|exchange) '(.*)' in vhost '(.*?)': (.*?)"?$/s;
const COMPARISON = /^received (.*) but current is (.*)$/s;

/** The mismatch error for a 406 "inequivalent arg" failure; `undefined` for anything else. */
function mismatchError(error: unknown): TopologyMismatchError | undefined {
  if (!(error instanceof Error)) return undefined;
  const match = INEQUIVALENT.exec(error.message);
  if (!match) return undefined;
  const [, argument, kind, objectName, vhost, comparison] = match;
  const friendly = friendlyName(argument);
  const label = friendly ? `${argument} (${friendly})` : argument;
  const values = COMPARISON.exec(comparison);
  const detail = values ? `warren declared ${values[1]}, the broker has ${values[2]}` : comparison;
  return new TopologyMismatchError(kind as 'queue' | 'exchange', objectName, label, `${detail} (vhost '${vhost}')`, error);
}

/** Whatever can lend a short-lived channel of its own: the transport's `BrokerConnection`. */
export interface TemporaryChannelSource {
  withTemporaryChannel<T>(work: (channel: TopologyChannel) => Promise<T>): Promise<T>;
}

/**
 * Declares `topology` on a channel of its own, never on a shared one: a declare the broker
 * refuses (406) closes the channel it was made on.
 */
export function declareOnOwnChannel(source: TemporaryChannelSource, topology: Topology): Promise<DeclaredReport> {
  return source.withTemporaryChannel((channel) => declareTopology(channel, topology));
}
