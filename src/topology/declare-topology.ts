import { BrokerUnavailableError, TopologyMismatchError } from '../errors';
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
 * Declares `topology` on `channels` (one channel, or several used side by side): every exchange,
 * then every queue, then every binding (queue bindings and exchange-to-exchange bindings). Within
 * each of those steps every declare is sent at once, spread over the channels in turn, and the
 * step ends when all are answered. Declaring is idempotent, so this is safe on every start and
 * reconnect.
 *
 * Why several channels: AMQP allows one synchronous method in flight per channel, and amqplib
 * queues the others until the reply comes, so declares on one channel cost one round trip each
 * however they are issued. Over `n` channels a step of `k` declares costs about `k / n` round
 * trips.
 *
 * Use channels of their own: a declare that fails closes its channel, and the caller opens
 * a new one for whatever comes next. After a failure the declares already sent are answered
 * (or fail with their closed channel) and nothing of a later step is sent.
 * @throws TopologyMismatchError when the broker already holds an exchange or queue with other
 *   settings (406 PRECONDITION_FAILED "inequivalent arg"), naming the object and the argument.
 * @throws BrokerUnavailableError when a durable classic queue's node of a cluster is down (404).
 *   Any other failure is rethrown as the channel reported it: of several, the first in
 *   declaration order that the broker answered (one with a reply code), rather than the
 *   failures of other declares on a channel it closed.
 */
export async function declareTopology(
  channels: TopologyChannel | readonly TopologyChannel[],
  topology: Topology,
): Promise<DeclaredReport> {
  const pool = Array.isArray(channels) ? (channels as readonly TopologyChannel[]) : [channels as TopologyChannel];
  if (pool.length === 0) throw new RangeError('declareTopology needs at least one channel');
  const step = <S, R>(specs: readonly S[], declare: (channel: TopologyChannel, spec: S) => Promise<R>): Promise<R[]> =>
    settleAll(specs.map(async (spec, i) => declare(pool[i % pool.length], spec)));

  await step(topology.exchanges, (channel, x) => channel.assertExchange(x.name, x.type, x.options));
  const counts = await step(topology.queues, (channel, q) => channel.assertQueue(q.name, q.options));
  const queues = topology.queues.map(
    (q, i): DeclaredQueue => ({ name: q.name, messageCount: counts[i].messageCount, consumerCount: counts[i].consumerCount }),
  );
  const exchangeBindings = topology.exchangeBindings ?? [];
  await step<BindingSpec | ExchangeBindingSpec, unknown>([...topology.bindings, ...exchangeBindings], (channel, b) =>
    'queue' in b
      ? channel.bindQueue(b.queue, b.exchange, b.routingKey, b.arguments)
      : channel.bindExchange(b.destination, b.source, b.routingKey, b.arguments),
  );
  return { exchanges: topology.exchanges, queues, bindings: topology.bindings, exchangeBindings };
}

/**
 * Waits for every declare, then resolves with their results in order or throws the failure
 * that explains the others: a mismatch, else the first (in order) the broker answered with a
 * reply code, else the first.
 */
async function settleAll<R>(declares: ReadonlyArray<Promise<R>>): Promise<R[]> {
  const outcomes = await Promise.allSettled(declares);
  const failures = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as unknown] : []));
  if (failures.length === 0) return outcomes.map((o) => (o as PromiseFulfilledResult<R>).value);
  for (const failure of failures) {
    const mismatch = mismatchError(failure) ?? homeNodeDownError(failure);
    if (mismatch) throw mismatch;
  }
  throw failures.find((f) => typeof (f as { code?: unknown }).code === 'number') ?? failures[0];
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

/*
 * On a cluster, a durable classic queue lives on one node; while that node is down (RabbitMQ
 * 3.10, checked on a local cluster):
 *   Operation failed: QueueDeclare; 404 (NOT-FOUND) with message "NOT_FOUND - home node
 *   'rq1@localhost' of durable queue 'jobs' in vhost '/' is down or inaccessible"
 */
const HOME_NODE_DOWN = /NOT_FOUND - home node '(.*?)' of durable queue '(.*)' in vhost '(.*?)' is down or inaccessible/s;

/**
 * A declare refused because the queue's node is down: part of the broker is unavailable, and
 * the same declare works once that node is back. `undefined` for anything else.
 */
function homeNodeDownError(error: unknown): BrokerUnavailableError | undefined {
  if (!(error instanceof Error)) return undefined;
  const match = HOME_NODE_DOWN.exec(error.message);
  if (!match) return undefined;
  const [, node, queue, vhost] = match;
  return new BrokerUnavailableError(
    `queue "${queue}" (vhost '${vhost}') lives on node ${node} of the cluster, which is down or unreachable: ` +
      'a classic queue is on one node only and cannot be used until that node is back (a quorum queue is replicated)',
    error,
  );
}

/** Whatever can lend a short-lived channel of its own: the transport's `BrokerConnection`. */
export interface TemporaryChannelSource {
  withTemporaryChannel<T>(work: (channel: TopologyChannel) => Promise<T>): Promise<T>;
}

/** At most this many channels declare one topology side by side. */
export const MAX_DECLARE_CHANNELS = 32;

/**
 * Declares `topology` on short-lived channels of its own, never on a shared one: a declare the
 * broker refuses (406) closes the channel it was made on. As many channels as the largest step
 * has declares, up to `MAX_DECLARE_CHANNELS`, opened side by side and closed at the end.
 */
export function declareOnOwnChannel(source: TemporaryChannelSource, topology: Topology): Promise<DeclaredReport> {
  const largest = Math.max(
    topology.exchanges.length,
    topology.queues.length,
    topology.bindings.length + (topology.exchangeBindings?.length ?? 0),
  );
  const count = Math.max(1, Math.min(MAX_DECLARE_CHANNELS, largest));
  return withTemporaryChannels(source, count, (channels) => declareTopology(channels, topology));
}

/**
 * Runs `work` on `count` temporary channels of `source`, opened at once, and closes them all
 * after it, whether it succeeded or not. If one fails to open, `work` does not run.
 */
async function withTemporaryChannels<T>(
  source: TemporaryChannelSource,
  count: number,
  work: (channels: readonly TopologyChannel[]) => Promise<T>,
): Promise<T> {
  if (count === 1) return source.withTemporaryChannel((channel) => work([channel]));
  const channels: TopologyChannel[] = [];
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let opened!: () => void;
  let failed!: (error: unknown) => void;
  const allOpen = new Promise<void>((resolve, reject) => {
    opened = resolve;
    failed = reject;
  });
  // Each holder keeps its channel open until `released`; withTemporaryChannel closes it then.
  const holders = Array.from({ length: count }, () =>
    source
      .withTemporaryChannel(async (channel) => {
        channels.push(channel);
        if (channels.length === count) opened();
        await released;
      })
      .catch((error: unknown) => failed(error)),
  );
  try {
    await allOpen;
    return await work(channels);
  } finally {
    release();
    await Promise.all(holders);
  }
}
