import type { Definitions, ExchangeType } from '../config/types';
import { UnknownQueueError } from '../errors';
import { deadLetterExchange, queueArguments } from './arguments';

/** The settings an exchange or queue is declared with, exactly as they go on the wire. */
export interface DeclareOptions {
  readonly durable: boolean;
  readonly autoDelete: boolean;
  readonly arguments: Readonly<Record<string, unknown>>;
}

/** One exchange to declare: `assertExchange(name, type, options)`. */
export interface ExchangeSpec {
  readonly name: string;
  readonly type: ExchangeType;
  readonly options: DeclareOptions;
}

/** One queue to declare: `assertQueue(name, options)`. */
export interface QueueSpec {
  readonly name: string;
  readonly options: DeclareOptions;
}

/** One binding to declare: `bindQueue(queue, exchange, routingKey, arguments)`. */
export interface BindingSpec {
  readonly queue: string;
  readonly exchange: string;
  readonly routingKey: string;
  readonly arguments: Readonly<Record<string, unknown>>;
}

/** One exchange-to-exchange binding: `bindExchange(destination, source, routingKey, arguments)`. */
export interface ExchangeBindingSpec {
  readonly destination: string;
  readonly source: string;
  readonly routingKey: string;
  readonly arguments: Readonly<Record<string, unknown>>;
}

/** Everything to declare on the broker, in definition order. */
export interface Topology {
  readonly exchanges: readonly ExchangeSpec[];
  readonly queues: readonly QueueSpec[];
  readonly bindings: readonly BindingSpec[];
  /** Declared after the queue bindings. The definitions declare none; the delay levels do. */
  readonly exchangeBindings?: readonly ExchangeBindingSpec[];
}

/** The topology the definitions declare, with friendly queue options turned into `x-` arguments. */
export function buildTopology(defs: Definitions): Topology {
  return {
    exchanges: defs.exchanges.map((x) => ({
      name: x.name,
      type: x.type,
      options: { durable: x.durable, autoDelete: x.autoDelete, arguments: { ...x.arguments } },
    })),
    queues: defs.queues.map((q) => ({
      name: q.name,
      options: { durable: q.durable, autoDelete: q.autoDelete, arguments: queueArguments(q) },
    })),
    bindings: defs.queues.flatMap((q) =>
      q.bindings.map((b) => ({
        queue: q.name,
        exchange: b.exchange,
        routingKey: b.routingKey,
        arguments: { ...b.arguments },
      })),
    ),
  };
}

/**
 * The part of `topology` a worker consuming `queueNames` needs: those queues, their
 * bindings, the exchanges they bind to, the dead-letter exchanges they name and the queues
 * bound to those (a dead letter with nowhere to go would be dropped). Order follows `topology`.
 * @throws UnknownQueueError for a name `topology` does not declare.
 */
export function selectTopology(topology: Topology, queueNames: readonly string[]): Topology {
  const declared = topology.queues.map((q) => q.name);
  for (const name of queueNames) {
    if (!declared.includes(name)) throw new UnknownQueueError(name, declared);
  }
  const deadLetterExchanges = new Set(
    topology.queues.filter((q) => queueNames.includes(q.name)).flatMap((q) => deadLetterExchange(q.options.arguments) ?? []),
  );
  const wanted = new Set([
    ...queueNames,
    ...topology.bindings.filter((b) => deadLetterExchanges.has(b.exchange)).map((b) => b.queue),
  ]);
  const queues = topology.queues.filter((q) => wanted.has(q.name));
  const bindings = topology.bindings.filter((b) => wanted.has(b.queue));
  const exchangeNames = new Set([
    ...bindings.map((b) => b.exchange),
    ...queues.flatMap((q) => deadLetterExchange(q.options.arguments) ?? []),
  ]);
  return {
    exchanges: topology.exchanges.filter((x) => exchangeNames.has(x.name)),
    queues,
    bindings,
  };
}
