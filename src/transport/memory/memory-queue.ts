import type { StoredProperties } from './field-values';

/** A message in a queue of the memory broker. Its bytes and properties never change. */
export interface QueuedMessage {
  readonly content: Buffer;
  readonly properties: StoredProperties;
  /** The exchange and routing key it was published (or dead-lettered) with. */
  readonly exchange: string;
  readonly routingKey: string;
  /** Its place in the queue: a requeued message goes back there. */
  readonly seq: number;
  /** Its priority in a queue with `x-max-priority` (capped there), else 0. */
  readonly priority: number;
  /** When its TTL (the queue's or its own `expiration`, the shorter) runs out; kept across requeues. */
  readonly expiresAt: number | undefined;
  redelivered: boolean;
  /** Times it came back to the queue unsettled: a quorum queue's delivery count. */
  returns: number;
}

/** What a queue needs from the channel of a consumer. */
export interface ConsumerChannel {
  /** Whether the channel's prefetch limits let `consumer` take one more message now. */
  canDeliver(consumer: QueueConsumer): boolean;
  deliver(consumer: QueueConsumer, message: QueuedMessage): void;
  /** The queue of `consumer` was deleted: the broker cancels it and tells the client. */
  cancelledByBroker(consumer: QueueConsumer): void;
}

export interface QueueConsumer {
  readonly tag: string;
  readonly channel: ConsumerChannel;
  readonly queue: MemoryQueue;
  readonly noAck: boolean;
  readonly exclusive: boolean;
  /** Per-consumer prefetch (basic.qos without `global`); 0 is none. */
  readonly prefetch: number;
  /** Its deliveries not yet settled. */
  unacked: number;
}

/** Why a message left a queue for its dead-letter exchange, as `x-death` names it. */
export type DeathReason = 'rejected' | 'expired' | 'maxlen' | 'delivery_limit';

/** What a queue asks of its broker. */
export interface QueueHost {
  now(): number;
  /** Dead-letters `message` (to the queue's dead-letter exchange, or nowhere). */
  deadLetter(queue: MemoryQueue, message: QueuedMessage, reason: DeathReason): void;
  /** The queue's `x-expires` ran out with nobody using it, or its last consumer went (auto-delete). */
  deleteUnused(queue: MemoryQueue): void;
}

export interface QueueSettings {
  readonly name: string;
  readonly durable: boolean;
  readonly autoDelete: boolean;
  /** The connection that declared it exclusive, if it was. */
  readonly exclusiveOwner: object | undefined;
  readonly arguments: Readonly<Record<string, unknown>>;
}

function numberArgument(table: Readonly<Record<string, unknown>>, name: string): number | undefined {
  const value = table[name];
  return typeof value === 'number' ? value : undefined;
}

/**
 * A queue of the memory broker, as RabbitMQ 3.10 keeps one: messages in order (by priority
 * first where the queue has `x-max-priority`), delivered round-robin to the consumers whose
 * prefetch allows it; per-queue and per-message TTL counted at the head; `x-max-length` with
 * its overflow behaviours; on quorum queues a delivery count (`x-delivery-count`) and
 * `x-delivery-limit`.
 */
export class MemoryQueue {
  readonly name: string;
  readonly durable: boolean;
  readonly autoDelete: boolean;
  readonly exclusiveOwner: object | undefined;
  readonly arguments: Readonly<Record<string, unknown>>;
  readonly type: 'classic' | 'quorum';
  readonly consumers: QueueConsumer[] = [];
  /** Ready messages by priority, each list in queue order. */
  private readonly levels: QueuedMessage[][];
  private readonly ttl: number | undefined;
  private readonly deliveryLimit: number | undefined;
  private nextSeq = 0;
  private nextConsumer = 0;
  private hadConsumer = false;
  private dispatchQueued = false;
  private headTimer: NodeJS.Timeout | undefined;
  private unusedTimer: NodeJS.Timeout | undefined;
  deleted = false;

  constructor(
    settings: QueueSettings,
    private readonly host: QueueHost,
  ) {
    this.name = settings.name;
    this.durable = settings.durable;
    this.autoDelete = settings.autoDelete;
    this.exclusiveOwner = settings.exclusiveOwner;
    this.arguments = settings.arguments;
    this.type = settings.arguments['x-queue-type'] === 'quorum' ? 'quorum' : 'classic';
    const maxPriority = this.type === 'classic' ? numberArgument(settings.arguments, 'x-max-priority') : undefined;
    this.levels = Array.from({ length: (maxPriority ?? 0) + 1 }, () => []);
    this.ttl = numberArgument(settings.arguments, 'x-message-ttl');
    this.deliveryLimit = this.type === 'quorum' ? numberArgument(settings.arguments, 'x-delivery-limit') : undefined;
    this.touch();
  }

  get messageCount(): number {
    return this.levels.reduce((sum, level) => sum + level.length, 0);
  }

  private get messageBytes(): number {
    return this.levels.reduce((sum, level) => sum + level.reduce((bytes, m) => bytes + m.content.length, 0), 0);
  }

  /** Ready messages in the order they would be delivered. */
  messages(): QueuedMessage[] {
    return [...this.levels].reverse().flat();
  }

  /**
   * Takes in a message published to (or dead-lettered into) this queue. `rejected` when the
   * queue is full and its `x-overflow` refuses publishes: the publisher's confirm is a nack.
   */
  enqueue(message: { content: Buffer; properties: StoredProperties; exchange: string; routingKey: string }): 'queued' | 'rejected' {
    const overflow = this.arguments['x-overflow'];
    if (overflow === 'reject-publish' || overflow === 'reject-publish-dlx') {
      if (this.isFull(message.content.length)) {
        if (overflow === 'reject-publish-dlx') this.host.deadLetter(this, this.stored(message), 'maxlen');
        return 'rejected';
      }
    }
    this.insert(this.stored(message));
    // drop-head (the default): the oldest messages make room.
    while (this.isFull(0) && this.messageCount > 0) this.host.deadLetter(this, this.shiftHead()!, 'maxlen');
    this.scheduleDispatch();
    return 'queued';
  }

  private stored(message: { content: Buffer; properties: StoredProperties; exchange: string; routingKey: string }): QueuedMessage {
    const maxPriority = this.levels.length - 1;
    const asked = message.properties.priority;
    const priority = typeof asked === 'number' && asked > 0 ? Math.min(asked, maxPriority) : 0;
    const now = this.host.now();
    const own = message.properties.expiration === undefined ? undefined : Number(message.properties.expiration);
    const ttl = own === undefined || Number.isNaN(own) ? this.ttl : this.ttl === undefined ? own : Math.min(own, this.ttl);
    return {
      content: message.content,
      properties: message.properties,
      exchange: message.exchange,
      routingKey: message.routingKey,
      seq: this.nextSeq++,
      priority,
      expiresAt: ttl === undefined ? undefined : now + ttl,
      redelivered: false,
      returns: 0,
    };
  }

  /** Whether the queue is over its `x-max-length` / `x-max-length-bytes` with `adding` more bytes in one more message. */
  private isFull(adding: number): boolean {
    const maxLength = numberArgument(this.arguments, 'x-max-length');
    const maxBytes = numberArgument(this.arguments, 'x-max-length-bytes');
    const extra = adding > 0 ? 1 : 0;
    return (maxLength !== undefined && this.messageCount + extra > maxLength) || (maxBytes !== undefined && this.messageBytes + adding > maxBytes);
  }

  /**
   * A delivery that was not settled comes back (nack or reject with requeue, its channel or
   * connection closed, its consumer cancelled with the queue still there): at its old place,
   * flagged redelivered. A quorum queue counts it, and dead-letters it past `x-delivery-limit`.
   */
  requeue(message: QueuedMessage): void {
    if (this.deleted) return;
    message.redelivered = true;
    message.returns += 1;
    if (this.deliveryLimit !== undefined && message.returns > this.deliveryLimit) {
      this.host.deadLetter(this, message, 'delivery_limit');
      return;
    }
    this.insert(message);
    this.scheduleDispatch();
  }

  private insert(message: QueuedMessage): void {
    const level = this.levels[message.priority];
    let low = 0;
    let high = level.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (level[middle].seq < message.seq) low = middle + 1;
      else high = middle;
    }
    level.splice(low, 0, message);
  }

  private head(): QueuedMessage | undefined {
    for (let p = this.levels.length - 1; p >= 0; p -= 1) if (this.levels[p].length > 0) return this.levels[p][0];
    return undefined;
  }

  private shiftHead(): QueuedMessage | undefined {
    for (let p = this.levels.length - 1; p >= 0; p -= 1) if (this.levels[p].length > 0) return this.levels[p].shift();
    return undefined;
  }

  /** The headers a delivery carries beyond the message's own: a quorum queue's delivery count. */
  deliveryHeaders(message: QueuedMessage): Record<string, unknown> {
    return this.type === 'quorum' && message.returns > 0 ? { 'x-delivery-count': message.returns } : {};
  }

  addConsumer(consumer: QueueConsumer): void {
    this.consumers.push(consumer);
    this.hadConsumer = true;
    this.touch();
    this.scheduleDispatch();
  }

  /** Removes a consumer; an auto-delete queue goes with its last one. */
  removeConsumer(consumer: QueueConsumer): void {
    const index = this.consumers.indexOf(consumer);
    if (index < 0) return;
    this.consumers.splice(index, 1);
    if (this.nextConsumer > index) this.nextConsumer -= 1;
    if (this.consumers.length === 0) {
      if (this.autoDelete && this.hadConsumer) {
        this.host.deleteUnused(this);
        return;
      }
      this.touch();
    }
  }

  /** Removes every ready message; returns how many there were. */
  purge(): number {
    const count = this.messageCount;
    for (const level of this.levels) level.length = 0;
    return count;
  }

  /** Drops the messages in memory that a broker restart loses: the transient ones. */
  dropTransient(): void {
    for (const level of this.levels) {
      const kept = level.filter((message) => message.properties.deliveryMode === 2 || this.type === 'quorum');
      level.splice(0, level.length, ...kept);
    }
  }

  /** Delivers what the consumers' prefetch allows, soon (after the frame being handled). */
  scheduleDispatch(): void {
    if (this.dispatchQueued || this.deleted) return;
    this.dispatchQueued = true;
    queueMicrotask(() => this.dispatch());
  }

  private dispatch(): void {
    this.dispatchQueued = false;
    if (this.deleted) return;
    this.expireHead();
    while (this.consumers.length > 0 && this.messageCount > 0) {
      const consumer = this.nextAvailableConsumer();
      if (!consumer) break;
      const message = this.shiftHead()!;
      consumer.channel.deliver(consumer, message);
      this.expireHead();
    }
    this.scheduleHeadExpiry();
  }

  /** The next consumer round-robin whose prefetch allows one more delivery. */
  private nextAvailableConsumer(): QueueConsumer | undefined {
    const count = this.consumers.length;
    for (let i = 0; i < count; i += 1) {
      const index = (this.nextConsumer + i) % count;
      const consumer = this.consumers[index];
      if (consumer.channel.canDeliver(consumer)) {
        this.nextConsumer = (index + 1) % count;
        return consumer;
      }
    }
    return undefined;
  }

  /** TTL is counted at the head, as RabbitMQ does: expired messages there are dead-lettered. */
  private expireHead(): void {
    const now = this.host.now();
    for (let head = this.head(); head?.expiresAt !== undefined && head.expiresAt <= now; head = this.head()) {
      this.host.deadLetter(this, this.shiftHead()!, 'expired');
    }
  }

  private scheduleHeadExpiry(): void {
    if (this.headTimer) clearTimeout(this.headTimer);
    this.headTimer = undefined;
    const expiresAt = this.head()?.expiresAt;
    if (expiresAt === undefined || this.deleted) return;
    this.headTimer = setTimeout(() => this.scheduleDispatch(), Math.max(0, expiresAt - this.host.now()));
    this.headTimer.unref();
  }

  /** The queue was used (declared, consumed): its `x-expires` counts again from now. */
  touch(): void {
    if (this.unusedTimer) clearTimeout(this.unusedTimer);
    this.unusedTimer = undefined;
    const expires = numberArgument(this.arguments, 'x-expires');
    if (expires === undefined || this.deleted || this.consumers.length > 0) return;
    this.unusedTimer = setTimeout(() => {
      if (this.consumers.length === 0) this.host.deleteUnused(this);
    }, expires);
    this.unusedTimer.unref();
  }

  /** The queue is gone: stops its timers; returns its consumers, who are told. */
  markDeleted(): QueueConsumer[] {
    this.deleted = true;
    if (this.headTimer) clearTimeout(this.headTimer);
    if (this.unusedTimer) clearTimeout(this.unusedTimer);
    return this.consumers.splice(0);
  }
}
