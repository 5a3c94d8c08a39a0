import { randomBytes } from 'node:crypto';
import type { AmqpProperties } from '../../protocol';
import type { PublishOptions } from '../transport';
import { BrokerRefusal } from './amqp-errors';
import { copyTable, deliveredProperties, formatArgument, printValue, publishedProperties, type StoredProperties } from './field-values';
import { headersMatch, topicMatches } from './matching';
import { MemoryQueue, type DeathReason, type QueueHost, type QueuedMessage } from './memory-queue';
import { ServerConnection, type ConnectionPeer } from './server-connection';

export type MemoryExchangeType = 'direct' | 'fanout' | 'topic' | 'headers';

const EXCHANGE_TYPES: readonly string[] = ['direct', 'fanout', 'topic', 'headers'];

interface Binding {
  readonly destination: string;
  readonly kind: 'queue' | 'exchange';
  readonly routingKey: string;
  readonly arguments: Readonly<Record<string, unknown>>;
}

interface MemoryExchange {
  readonly name: string;
  readonly type: MemoryExchangeType;
  readonly durable: boolean;
  readonly autoDelete: boolean;
  readonly internal: boolean;
  readonly arguments: Readonly<Record<string, unknown>>;
  readonly bindings: Binding[];
  hadBinding: boolean;
}

export interface MemoryBrokerOptions {
  /** Shown in log lines and errors as `memory://<name>`. @defaultValue '' */
  name?: string;
  /** The largest message body the broker takes (RabbitMQ 3.10's `max_message_size`). @defaultValue 134217728 (128 MiB) */
  maxMessageBytes?: number;
}

/** A queue as a test sees it. */
export interface MemoryQueueInfo {
  readonly name: string;
  readonly type: 'classic' | 'quorum';
  readonly durable: boolean;
  readonly autoDelete: boolean;
  readonly exclusive: boolean;
  readonly arguments: Readonly<Record<string, unknown>>;
  /** Messages ready for delivery. */
  readonly messageCount: number;
  /** Messages delivered and not yet acked. */
  readonly unackedCount: number;
  readonly consumerCount: number;
  /** The id of the connection that owns it, for an exclusive queue (see `connectionList()`). */
  readonly owner: number | undefined;
}

/** A connection, as a test sees it. */
export interface MemoryConnectionInfo {
  readonly id: number;
  readonly name: string;
  readonly channels: number;
}

/**
 * What happened in the broker, for tests that assert on order (a result published before the
 * task's ack, say). Messages are copies.
 */
export type MemoryBrokerEvent =
  | { readonly type: 'published'; readonly exchange: string; readonly routingKey: string; readonly queues: readonly string[]; readonly message: MemoryMessage }
  /** A full queue (`x-overflow: reject-publish`) refused a message routed to it: its confirm is a nack. */
  | { readonly type: 'publish-refused'; readonly queue: string; readonly message: MemoryMessage }
  | { readonly type: 'acked'; readonly queue: string; readonly message: MemoryMessage }
  | { readonly type: 'requeued'; readonly queue: string; readonly cause: 'nack' | 'channel closed'; readonly message: MemoryMessage }
  /** A nack or reject without requeue; a `dead-lettered` event follows. */
  | { readonly type: 'rejected'; readonly queue: string; readonly message: MemoryMessage }
  /** A message left `queue` for its dead-letter exchange; `queues` is where it went ([] when it was dropped). */
  | { readonly type: 'dead-lettered'; readonly queue: string; readonly reason: DeathReason; readonly queues: readonly string[]; readonly message: MemoryMessage }
  /** The broker closed a channel (`scope: 'channel'`) or a connection for an error: 404, 405, 406, 540... */
  | { readonly type: 'refused'; readonly scope: 'channel' | 'connection'; readonly connection: number; readonly code: number; readonly text: string };

/** A message waiting in a queue, as a test sees it (a copy). */
export interface MemoryMessage {
  readonly content: Buffer;
  readonly properties: AmqpProperties;
  readonly exchange: string;
  readonly routingKey: string;
  readonly redelivered: boolean;
}

export interface QueueDeclaration {
  readonly durable?: boolean;
  readonly autoDelete?: boolean;
  readonly exclusive?: boolean;
  readonly arguments?: Readonly<Record<string, unknown>>;
}

export interface ExchangeDeclaration {
  readonly durable?: boolean;
  readonly autoDelete?: boolean;
  readonly internal?: boolean;
  readonly arguments?: Readonly<Record<string, unknown>>;
}

/*
 * The arguments RabbitMQ 3.10 compares when a queue is declared again, in the order it
 * compares them; others are ignored. A classic queue and a quorum queue compare different ones.
 */
const CLASSIC_ARGUMENTS = [
  'x-expires', 'x-message-ttl', 'x-dead-letter-exchange', 'x-dead-letter-routing-key', 'x-max-length',
  'x-max-length-bytes', 'x-max-in-memory-length', 'x-max-in-memory-bytes', 'x-max-priority', 'x-overflow',
  'x-queue-mode', 'x-single-active-consumer', 'x-queue-type', 'x-queue-master-locator',
];
const QUORUM_ARGUMENTS = [
  'x-expires', 'x-dead-letter-exchange', 'x-dead-letter-routing-key', 'x-dead-letter-strategy', 'x-max-length',
  'x-max-length-bytes', 'x-max-in-memory-length', 'x-max-in-memory-bytes', 'x-overflow', 'x-single-active-consumer',
  'x-queue-type', 'x-quorum-initial-group-size', 'x-delivery-limit', 'x-message-ttl',
];

const RESOURCE_LOCKED_TEXT =
  'It could be originally declared on another connection or the exclusive property value does not match that of the original declaration.';

function queueResource(name: string): string {
  return `queue '${name}' in vhost '/'`;
}

function exchangeResource(name: string): string {
  return `exchange '${name}' in vhost '/'`;
}

/** RabbitMQ's 406 for a setting that differs from the live object's. */
function inequivalent(field: string, resource: string, received: string, current: string): BrokerRefusal {
  return new BrokerRefusal(406, `inequivalent arg '${field}' for ${resource}: received ${received} but current is ${current}`);
}

function sameArgument(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  return typeof a === 'object' && a !== null && typeof b === 'object' && b !== null && JSON.stringify(a) === JSON.stringify(b);
}

/** RabbitMQ's check of queue arguments it knows the type of; the message names the problem as Erlang prints it. */
function checkQueueArguments(name: string, table: Readonly<Record<string, unknown>>): void {
  const invalid = (key: string, problem: string) =>
    new BrokerRefusal(406, `invalid arg '${key}' for ${queueResource(name)}: ${problem}`);
  const integer = (key: string, least: number) => {
    const value = table[key];
    if (value === undefined) return;
    if (typeof value !== 'number' || !Number.isInteger(value)) throw invalid(key, `{unacceptable_type,${erlangTypeName(value)}}`);
    if (value < least) throw invalid(key, least === 1 && value === 0 ? '{value_zero,0}' : `{value_negative,${value}}`);
  };
  integer('x-message-ttl', 0);
  integer('x-expires', 1);
  integer('x-max-length', 0);
  integer('x-max-length-bytes', 0);
  integer('x-delivery-limit', 0);
  integer('x-max-priority', 0);
  const priority = table['x-max-priority'];
  if (typeof priority === 'number' && priority > 255) throw invalid('x-max-priority', `{value_too_large,${priority},255}`);
  for (const key of ['x-dead-letter-exchange', 'x-dead-letter-routing-key']) {
    const value = table[key];
    if (value !== undefined && typeof value !== 'string') throw invalid(key, `{unacceptable_type,${erlangTypeName(value)}}`);
  }
  const overflow = table['x-overflow'];
  if (overflow !== undefined && !['drop-head', 'reject-publish', 'reject-publish-dlx'].includes(overflow as string)) {
    throw invalid('x-overflow', `{unknown_overflow,${printValue(overflow)}}`);
  }
  const type = table['x-queue-type'];
  if (type !== undefined && type !== 'classic' && type !== 'quorum') {
    throw invalid('x-queue-type', `{unsupported_queue_type,${printValue(type)}} (the memory broker has classic and quorum queues)`);
  }
}

/** The type RabbitMQ names in an `{unacceptable_type,...}` complaint. */
function erlangTypeName(value: unknown): string {
  return typeof value === 'string' ? 'longstr' : typeof value === 'number' ? 'double' : typeof value;
}

/**
 * An AMQP broker in this process's memory, with the semantics of RabbitMQ 3.10 that warren
 * relies on: the four exchange types and the default exchange, exchange-to-exchange bindings
 * and alternate exchanges; durable, auto-delete and exclusive queues, `x-expires`; declare
 * equivalence (406 with RabbitMQ's "inequivalent arg" text), passive checks (404), exclusive
 * access (405); consumers with per-consumer and global prefetch; acks, nacks and requeues;
 * redelivery when a channel or connection closes; confirms and `mandatory` returns; per-queue
 * and per-message TTL with dead-lettering (`x-death`); `x-max-priority`, `x-max-length`;
 * quorum queues with `x-delivery-limit` and their refusal of global prefetch.
 *
 * It is a test double, not a production broker: it lives in one process, keeps nothing on
 * disk, and has one virtual host, `/`. Tests drive its faults: `dropConnections()` cuts every
 * connection (they reconnect), `stop()` / `start()` take it down and up as a restart would.
 */
export class MemoryBroker {
  readonly name: string;
  readonly maxMessageBytes: number;
  private readonly exchanges = new Map<string, MemoryExchange>();
  private readonly queues = new Map<string, MemoryQueue>();
  private readonly connections = new Set<ServerConnection>();
  private readonly startListeners = new Set<() => void>();
  private readonly observers = new Set<(event: MemoryBrokerEvent) => void>();
  private running = true;
  private nextConnectionId = 1;
  private readonly host: QueueHost = {
    now: () => Date.now(),
    deadLetter: (queue, message, reason) => this.deadLetter(queue, message, reason),
    deleteUnused: (queue) => this.dropQueue(queue),
  };

  constructor(options: MemoryBrokerOptions = {}) {
    this.name = options.name ?? '';
    this.maxMessageBytes = options.maxMessageBytes ?? 128 * 1024 * 1024;
    this.predeclare();
  }

  /** `memory://<name>`, as logs and errors name it. */
  get url(): string {
    return `memory://${this.name}`;
  }

  private predeclare(): void {
    const builtIn: Array<[string, MemoryExchangeType]> = [
      ['', 'direct'],
      ['amq.direct', 'direct'],
      ['amq.fanout', 'fanout'],
      ['amq.topic', 'topic'],
      ['amq.headers', 'headers'],
      ['amq.match', 'headers'],
    ];
    for (const [name, type] of builtIn) {
      this.exchanges.set(name, { name, type, durable: true, autoDelete: false, internal: false, arguments: {}, bindings: [], hadBinding: false });
    }
  }

  // ---- Connections --------------------------------------------------------------------

  get isRunning(): boolean {
    return this.running;
  }

  /** A new connection for `peer`; undefined while the broker is stopped. */
  connect(peer: ConnectionPeer, name = ''): ServerConnection | undefined {
    if (!this.running) return undefined;
    const connection = new ServerConnection(this.nextConnectionId++, name, peer);
    this.connections.add(connection);
    return connection;
  }

  /** Calls `listener` each time the broker is started again; returns a function that removes it. */
  onStart(listener: () => void): () => void {
    this.startListeners.add(listener);
    return () => this.startListeners.delete(listener);
  }

  /** The open connections, oldest first. */
  connectionList(): MemoryConnectionInfo[] {
    return [...this.connections].map((c) => ({ id: c.id, name: c.name, channels: c.channels.size }));
  }

  /**
   * Closes `connection` on the broker's side: its channels are torn down (their unsettled
   * deliveries requeued), its exclusive queues deleted. With `cause`, the client is told that
   * the connection was lost (a client that closed it itself is not).
   */
  closeConnection(connection: ServerConnection, cause?: Error): void {
    if (!connection.open) return;
    connection.open = false;
    this.connections.delete(connection);
    for (const channel of [...connection.channels]) channel.teardown();
    for (const queue of [...this.queues.values()]) {
      if (queue.exclusiveOwner === connection) this.dropQueue(queue);
    }
    if (cause) connection.toClient(() => connection.peer.lost(cause));
  }

  // ---- Faults for tests ---------------------------------------------------------------

  /**
   * Cuts every connection, as a network failure would: unsettled deliveries go back to their
   * queues, exclusive queues go, clients see their channels close and reconnect.
   */
  dropConnections(reason = 'the memory broker dropped the connection'): void {
    for (const connection of [...this.connections]) this.closeConnection(connection, new Error(reason));
  }

  /** Cuts one connection (see `connectionList()`, or a queue's `owner`); false if there is none with that id. */
  dropConnection(id: number, reason = 'the memory broker dropped the connection'): boolean {
    const connection = [...this.connections].find((c) => c.id === id);
    if (!connection) return false;
    this.closeConnection(connection, new Error(reason));
    return true;
  }

  /**
   * Calls `listener` with each thing that happens (published, publish-refused, acked, requeued,
   * rejected, dead-lettered, refused), synchronously, in order; returns a function that removes it.
   */
  observe(listener: (event: MemoryBrokerEvent) => void): () => void {
    this.observers.add(listener);
    return () => this.observers.delete(listener);
  }

  /** A copy of a message, for events. */
  snapshot(message: QueuedMessage): MemoryMessage {
    return snapshot(message);
  }

  /** Tells the observers, if there are any (the event is made only then). */
  notify(event: () => MemoryBrokerEvent): void {
    if (this.observers.size === 0) return;
    const made = event();
    for (const observer of [...this.observers]) {
      try {
        observer(made);
      } catch (error) {
        // An observer's bug must not change what the broker does; it surfaces as uncaught.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  /**
   * Takes the broker down as a restart would: every connection is cut and none is accepted
   * until `start()`; what a restart loses goes (non-durable queues and exchanges, transient
   * messages in durable classic queues).
   */
  stop(): void {
    this.running = false;
    this.dropConnections('the memory broker stopped');
    for (const queue of [...this.queues.values()]) {
      if (!queue.durable) this.dropQueue(queue);
      else queue.dropTransient();
    }
    for (const exchange of [...this.exchanges.values()]) {
      if (!exchange.durable) this.dropExchange(exchange.name);
    }
  }

  /** Accepts connections again after `stop()`; waiting clients connect. */
  start(): void {
    if (this.running) return;
    this.running = true;
    for (const listener of [...this.startListeners]) listener();
  }

  /** Back to a fresh broker: connections cut (clients reconnect to the empty broker), every queue and exchange gone. */
  reset(): void {
    this.dropConnections('the memory broker was reset');
    for (const queue of [...this.queues.values()]) this.dropQueue(queue);
    this.exchanges.clear();
    this.predeclare();
    this.start();
  }

  // ---- Inspection and administration (what rabbitmqctl or the management UI would do) ------

  /** Queue names, sorted. */
  queueNames(): string[] {
    return [...this.queues.keys()].sort();
  }

  /** Exchange names (the default exchange `""` and `amq.*` included), sorted. */
  exchangeNames(): string[] {
    return [...this.exchanges.keys()].sort();
  }

  /** A queue's state, or undefined when there is no such queue. */
  queue(name: string): MemoryQueueInfo | undefined {
    const queue = this.queues.get(name);
    if (!queue) return undefined;
    let unackedCount = 0;
    for (const connection of this.connections) for (const channel of connection.channels) unackedCount += channel.heldFrom(queue);
    return {
      name,
      type: queue.type,
      durable: queue.durable,
      autoDelete: queue.autoDelete,
      exclusive: queue.exclusiveOwner !== undefined,
      arguments: copyTable(queue.arguments),
      messageCount: queue.messageCount,
      unackedCount,
      consumerCount: queue.consumers.length,
      owner: (queue.exclusiveOwner as ServerConnection | undefined)?.id,
    };
  }

  /** Copies of the messages ready in a queue, in the order they would be delivered; [] for no such queue. */
  messages(name: string): MemoryMessage[] {
    const queue = this.queues.get(name);
    if (!queue) return [];
    return queue.messages().map(snapshot);
  }

  /** The bindings whose source is `exchange`, as `{ destination, kind, routingKey, arguments }`. */
  bindings(exchange: string): Binding[] {
    return (this.exchanges.get(exchange)?.bindings ?? []).map((b) => ({ ...b, arguments: copyTable(b.arguments) }));
  }

  /**
   * Publishes as another client would, outside any connection (a foreign or broken producer):
   * routed at once, delivered asynchronously. Returns whether any queue took it.
   * @throws Error when the exchange does not exist
   */
  publish(exchange: string, routingKey: string, content: Buffer, options: PublishOptions = {}): boolean {
    try {
      return this.route(exchange, routingKey, Buffer.from(content), publishedProperties(options)).routed;
    } catch (error) {
      if (error instanceof BrokerRefusal) throw new Error(error.text);
      throw error;
    }
  }

  /** Deletes a queue as an operator would (its consumers are cancelled); true if it existed. */
  deleteQueue(name: string): boolean {
    const queue = this.queues.get(name);
    if (!queue) return false;
    this.dropQueue(queue);
    return true;
  }

  /** Deletes an exchange as an operator would; true if it existed. */
  deleteExchange(name: string): boolean {
    if (name === '' || !this.exchanges.has(name)) return false;
    this.dropExchange(name);
    return true;
  }

  /** Removes the ready messages of a queue; returns how many there were. */
  purgeQueue(name: string): number {
    return this.queues.get(name)?.purge() ?? 0;
  }

  // ---- Operations of channels ---------------------------------------------------------

  /** exchange.declare, passive or not. */
  declareExchange(name: string, type: string, options: ExchangeDeclaration, passive: boolean): { exchange: string } {
    const existing = this.exchanges.get(name);
    if (passive) {
      if (!existing) throw new BrokerRefusal(404, `no ${exchangeResource(name)}`);
      return { exchange: name };
    }
    if (name === '') throw new BrokerRefusal(403, 'operation not permitted on the default exchange');
    if (name.startsWith('amq.')) throw new BrokerRefusal(403, `exchange name '${name}' contains reserved prefix 'amq.*'`);
    if (!EXCHANGE_TYPES.includes(type)) throw new BrokerRefusal(503, `unknown exchange type '${type}'`);
    const declared = {
      durable: options.durable ?? true,
      autoDelete: options.autoDelete ?? false,
      internal: options.internal ?? false,
      arguments: copyTable(options.arguments ?? {}),
    };
    if (existing) {
      const resource = exchangeResource(name);
      if (existing.type !== type) throw inequivalent('type', resource, `'${type}'`, `'${existing.type}'`);
      for (const field of ['durable', 'autoDelete', 'internal'] as const) {
        if (existing[field] !== declared[field]) {
          throw inequivalent(field === 'autoDelete' ? 'auto_delete' : field, resource, `'${declared[field]}'`, `'${existing[field]}'`);
        }
      }
      const received = declared.arguments['alternate-exchange'];
      const current = existing.arguments['alternate-exchange'];
      if (!sameArgument(received, current)) {
        throw inequivalent('alternate-exchange', resource, formatArgument(received), formatArgument(current));
      }
      return { exchange: name };
    }
    this.exchanges.set(name, { name, type: type as MemoryExchangeType, ...declared, bindings: [], hadBinding: false });
    return { exchange: name };
  }

  /** queue.declare, passive or not, by `connection` (which owns it if it is exclusive). */
  declareQueue(
    connection: ServerConnection,
    requested: string,
    options: QueueDeclaration,
    passive: boolean,
  ): { queue: string; messageCount: number; consumerCount: number } {
    if (passive) {
      const queue = this.usableQueue(connection, requested);
      return { queue: queue.name, messageCount: queue.messageCount, consumerCount: queue.consumers.length };
    }
    const name = requested === '' ? `amq.gen-${randomBytes(16).toString('base64url').slice(0, 22)}` : requested;
    if (requested.startsWith('amq.')) throw new BrokerRefusal(403, `queue name '${name}' contains reserved prefix 'amq.*'`);
    const table = copyTable(options.arguments ?? {});
    checkQueueArguments(name, table);
    const durable = options.durable ?? true;
    const autoDelete = options.autoDelete ?? false;
    const owner = options.exclusive ? connection : undefined;
    const existing = this.queues.get(name);
    if (existing) {
      const resource = queueResource(name);
      if (existing.exclusiveOwner !== owner) throw new BrokerRefusal(405, `cannot obtain exclusive access to locked ${resource}. ${RESOURCE_LOCKED_TEXT}`);
      if (existing.durable !== durable) throw inequivalent('durable', resource, `'${durable}'`, `'${existing.durable}'`);
      if (existing.autoDelete !== autoDelete) throw inequivalent('auto_delete', resource, `'${autoDelete}'`, `'${existing.autoDelete}'`);
      for (const key of existing.type === 'quorum' ? QUORUM_ARGUMENTS : CLASSIC_ARGUMENTS) {
        const received = table[key];
        const current = existing.arguments[key];
        if (!sameArgument(received, current)) {
          throw inequivalent(
            key,
            resource,
            received !== undefined && current !== undefined ? `'${printValue(received)}'` : formatArgument(received),
            received !== undefined && current !== undefined ? `'${printValue(current)}'` : formatArgument(current),
          );
        }
      }
      existing.touch();
      return { queue: name, messageCount: existing.messageCount, consumerCount: existing.consumers.length };
    }
    if (table['x-queue-type'] === 'quorum') {
      const property = !durable ? 'non-durable' : autoDelete ? 'auto-delete' : owner ? 'exclusive-owner' : undefined;
      if (property) throw new BrokerRefusal(406, `invalid property '${property}' for ${queueResource(name)}`);
    }
    const queue = new MemoryQueue({ name, durable, autoDelete, exclusiveOwner: owner, arguments: table }, this.host);
    this.queues.set(name, queue);
    return { queue: name, messageCount: 0, consumerCount: 0 };
  }

  /** A queue `connection` may use: it exists (404) and is not another connection's exclusive queue (405). */
  usableQueue(connection: ServerConnection, name: string): MemoryQueue {
    const queue = this.queues.get(name);
    if (!queue) throw new BrokerRefusal(404, `no ${queueResource(name)}`);
    if (queue.exclusiveOwner !== undefined && queue.exclusiveOwner !== connection) {
      throw new BrokerRefusal(405, `cannot obtain exclusive access to locked ${queueResource(name)}. ${RESOURCE_LOCKED_TEXT}`);
    }
    return queue;
  }

  private sourceExchange(name: string): MemoryExchange {
    if (name === '') throw new BrokerRefusal(403, 'operation not permitted on the default exchange');
    const exchange = this.exchanges.get(name);
    if (!exchange) throw new BrokerRefusal(404, `no ${exchangeResource(name)}`);
    return exchange;
  }

  private addBinding(source: MemoryExchange, binding: Binding): void {
    const matchMode = binding.arguments['x-match'];
    if (source.type === 'headers' && matchMode !== undefined && !['all', 'any', 'all-with-x', 'any-with-x'].includes(matchMode as string)) {
      throw new BrokerRefusal(406, `Invalid x-match field value ${printValue(matchMode)}; expected all, any, all-with-x, or any-with-x`);
    }
    const same = source.bindings.some(
      (b) => b.kind === binding.kind && b.destination === binding.destination && b.routingKey === binding.routingKey && sameArgument(b.arguments, binding.arguments),
    );
    if (!same) source.bindings.push(binding);
    source.hadBinding = true;
  }

  bindQueue(connection: ServerConnection, queue: string, source: string, routingKey: string, args: Readonly<Record<string, unknown>>): Record<string, never> {
    const exchange = this.sourceExchange(source);
    this.usableQueue(connection, queue);
    this.addBinding(exchange, { destination: queue, kind: 'queue', routingKey, arguments: copyTable(args) });
    return {};
  }

  bindExchange(destination: string, source: string, routingKey: string, args: Readonly<Record<string, unknown>>): Record<string, never> {
    const exchange = this.sourceExchange(source);
    this.sourceExchange(destination);
    this.addBinding(exchange, { destination, kind: 'exchange', routingKey, arguments: copyTable(args) });
    return {};
  }

  /** queue.delete by a client: RabbitMQ 3.10 answers a missing queue with 0 messages, not an error. */
  removeQueue(connection: ServerConnection, name: string, options: { ifUnused?: boolean; ifEmpty?: boolean }): { messageCount: number } {
    if (!this.queues.has(name)) return { messageCount: 0 };
    const queue = this.usableQueue(connection, name);
    if (options.ifUnused && queue.consumers.length > 0) throw new BrokerRefusal(406, `${queueResource(name)} in use`);
    if (options.ifEmpty && queue.messageCount > 0) throw new BrokerRefusal(406, `${queueResource(name)} not empty`);
    const messageCount = queue.messageCount;
    this.dropQueue(queue);
    return { messageCount };
  }

  /** exchange.delete by a client. */
  removeExchange(name: string, options: { ifUnused?: boolean }): Record<string, never> {
    if (name === '') throw new BrokerRefusal(403, 'operation not permitted on the default exchange');
    const exchange = this.exchanges.get(name);
    if (!exchange) return {};
    if (options.ifUnused && exchange.bindings.length > 0) throw new BrokerRefusal(406, `${exchangeResource(name)} in use`);
    this.dropExchange(name);
    return {};
  }

  /** Deletes a queue: its consumers are cancelled (and told), its bindings go. */
  private dropQueue(queue: MemoryQueue): void {
    if (this.queues.get(queue.name) !== queue) return;
    this.queues.delete(queue.name);
    for (const consumer of queue.markDeleted()) consumer.channel.cancelledByBroker(consumer);
    this.removeBindingsTo('queue', queue.name);
  }

  private dropExchange(name: string): void {
    this.exchanges.delete(name);
    this.removeBindingsTo('exchange', name);
  }

  /** Removes the bindings to a deleted queue or exchange; an auto-delete exchange goes with its last binding. */
  private removeBindingsTo(kind: 'queue' | 'exchange', name: string): void {
    for (const exchange of [...this.exchanges.values()]) {
      const kept = exchange.bindings.filter((b) => !(b.kind === kind && b.destination === name));
      if (kept.length === exchange.bindings.length) continue;
      exchange.bindings.splice(0, exchange.bindings.length, ...kept);
      if (exchange.autoDelete && exchange.hadBinding && kept.length === 0) this.dropExchange(exchange.name);
    }
  }

  /** The queues a message published to `exchange` reaches: bindings, exchange-to-exchange bindings, alternate exchanges. */
  private destinations(exchange: MemoryExchange, routingKey: string, headers: Readonly<Record<string, unknown>>): Set<MemoryQueue> {
    const found = new Set<MemoryQueue>();
    const seen = new Set<string>();
    const visit = (x: MemoryExchange): void => {
      if (seen.has(x.name)) return;
      seen.add(x.name);
      if (x.name === '') {
        const queue = this.queues.get(routingKey);
        if (queue) found.add(queue);
        return;
      }
      const matched = x.bindings.filter((b) => {
        switch (x.type) {
          case 'fanout':
            return true;
          case 'direct':
            return b.routingKey === routingKey;
          case 'topic':
            return topicMatches(b.routingKey, routingKey);
          case 'headers':
            return headersMatch(b.arguments, headers);
        }
      });
      for (const binding of matched) {
        if (binding.kind === 'queue') {
          const queue = this.queues.get(binding.destination);
          if (queue) found.add(queue);
        } else {
          const next = this.exchanges.get(binding.destination);
          if (next) visit(next);
        }
      }
      // RabbitMQ hands a message on to the alternate exchange when this exchange's own bindings match nothing.
      const alternate = x.arguments['alternate-exchange'];
      if (matched.length === 0 && typeof alternate === 'string') {
        const next = this.exchanges.get(alternate);
        if (next) visit(next);
      }
    };
    visit(exchange);
    return found;
  }

  /**
   * A publish: routes the message into every queue it reaches. `routed` false: no queue took
   * it (a `mandatory` publish is returned); `rejected` true: a full queue refused it (the
   * confirm is a nack).
   * @throws BrokerRefusal 404 for a missing exchange, 403 for an internal one, 406 for a message over the size limit
   */
  route(exchangeName: string, routingKey: string, content: Buffer, properties: StoredProperties): { routed: boolean; rejected: boolean } {
    const exchange = this.exchanges.get(exchangeName);
    if (!exchange) throw new BrokerRefusal(404, `no ${exchangeResource(exchangeName)}`);
    if (exchange.internal) throw new BrokerRefusal(403, `cannot publish to internal ${exchangeResource(exchangeName)}`);
    if (content.length > this.maxMessageBytes) {
      throw new BrokerRefusal(406, `message size ${content.length} is larger than configured max size ${this.maxMessageBytes}`);
    }
    const queues = this.destinations(exchange, routingKey, properties.headers ?? {});
    this.notify(() => ({
      type: 'published',
      exchange: exchangeName,
      routingKey,
      queues: [...queues].map((q) => q.name),
      message: snapshot({ content, properties, exchange: exchangeName, routingKey, redelivered: false }),
    }));
    let rejected = false;
    for (const queue of queues) {
      if (queue.enqueue({ content, properties, exchange: exchangeName, routingKey }) !== 'rejected') continue;
      rejected = true;
      this.notify(() => ({
        type: 'publish-refused',
        queue: queue.name,
        message: snapshot({ content, properties, exchange: exchangeName, routingKey, redelivered: false }),
      }));
    }
    return { routed: queues.size > 0, rejected };
  }

  /**
   * Sends a message that left `queue` (rejected, expired, over its length or delivery limit)
   * to the queue's dead-letter exchange, with its dead-letter routing key or its own, and an
   * `x-death` entry saying why; without a dead-letter exchange (or with one that does not
   * exist) the message is dropped. A message that would come back to a queue it was already
   * dead-lettered from, with no rejection on the way, is dropped there: RabbitMQ's cycle check.
   */
  deadLetter(queue: MemoryQueue, message: QueuedMessage, reason: DeathReason): void {
    const dlx = queue.arguments['x-dead-letter-exchange'];
    const exchange = typeof dlx === 'string' ? this.exchanges.get(dlx) : undefined;
    // A message of a deleted queue (rejected after the queue went) goes nowhere.
    if (typeof dlx !== 'string' || !exchange || queue.deleted) {
      this.notify(() => ({ type: 'dead-lettered', queue: queue.name, reason, queues: [], message: snapshot(message) }));
      return;
    }
    const dlrk = queue.arguments['x-dead-letter-routing-key'];
    const routingKey = typeof dlrk === 'string' ? dlrk : message.routingKey;
    const headers = withDeath(message, queue.name, reason);
    // A dead letter loses its own TTL (`x-death` keeps it as `original-expiration`).
    const properties: StoredProperties = { ...message.properties, expiration: undefined, headers };
    const deaths = headers['x-death'] as Array<Record<string, unknown>>;
    const targets = [...this.destinations(exchange, routingKey, headers)].filter((target) => reason === 'rejected' || !isCycle(deaths, target.name));
    this.notify(() => ({ type: 'dead-lettered', queue: queue.name, reason, queues: targets.map((t) => t.name), message: snapshot(message) }));
    for (const target of targets) target.enqueue({ content: message.content, properties, exchange: dlx, routingKey });
  }
}

/** A copy of a message for tests. */
function snapshot(message: { content: Buffer; properties: StoredProperties; exchange: string; routingKey: string; redelivered: boolean }): MemoryMessage {
  return {
    content: Buffer.from(message.content),
    properties: deliveredProperties(message.properties),
    exchange: message.exchange,
    routingKey: message.routingKey,
    redelivered: message.redelivered,
  };
}

/** The message's headers with its `x-death` updated for one more dead-lettering from `queue`. */
function withDeath(message: QueuedMessage, queue: string, reason: DeathReason): Record<string, unknown> {
  const headers = copyTable(message.properties.headers ?? {});
  const previous = Array.isArray(headers['x-death']) ? (headers['x-death'] as Array<Record<string, unknown>>) : [];
  const index = previous.findIndex((entry) => entry.queue === queue && entry.reason === reason);
  let deaths: Array<Record<string, unknown>>;
  if (index >= 0) {
    const entry = { ...previous[index], count: Number(previous[index].count ?? 0) + 1 };
    deaths = [entry, ...previous.slice(0, index), ...previous.slice(index + 1)];
  } else {
    const entry: Record<string, unknown> = {
      count: 1,
      reason,
      queue,
      time: { '!': 'timestamp', value: Math.floor(Date.now() / 1000) },
      exchange: message.exchange,
      'routing-keys': [message.routingKey],
    };
    if (message.properties.expiration !== undefined) entry['original-expiration'] = message.properties.expiration;
    deaths = [entry, ...previous];
  }
  if (previous.length === 0) {
    headers['x-first-death-reason'] = reason;
    headers['x-first-death-queue'] = queue;
    headers['x-first-death-exchange'] = message.exchange;
  }
  headers['x-death'] = deaths;
  return headers;
}

/** Whether dead-lettering into `queue` closes a cycle with no rejection in it (the newest death first). */
function isCycle(deaths: ReadonlyArray<Record<string, unknown>>, queue: string): boolean {
  for (const death of deaths) {
    if (death.reason === 'rejected') return false;
    if (death.queue === queue) return true;
  }
  return false;
}
