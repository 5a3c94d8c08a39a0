import type { Logger } from '../logging/logger';
import type { Transport } from '../transport';
import { buildEvent, encodeEvent, encodeEvents, EVENT_EXCHANGE, EVENT_EXCHANGE_OPTIONS, eventGroup, type CeleryEvent, type EventSource } from './celery-events';
import type { LamportClock } from './lamport-clock';
import { OwnChannel } from './own-channel';

export interface EventDispatcherOptions {
  transport: Transport;
  source: EventSource;
  clock: LamportClock;
  logger: Logger;
  /**
   * The event groups sent (`worker`, `task`); an event of another group is not built at all.
   * Undefined: every group (a client's `task-sent`). @defaultValue every group
   */
  groups?: Iterable<string>;
  /** Messages (events, or batches of them) held while there is no channel, or its buffers are full; past it they are dropped and counted. @defaultValue 1000 */
  maxBuffered?: number;
  /** Called with each event dropped (for metrics). */
  onDropped?: (type: string) => void;
  /**
   * Groups whose events go out in batches, as a Python worker sends its task events: a list of
   * events in one message, routing key `<group>.multi`, sent when `batchLimit` are waiting or
   * at the end of the event loop's turn, whichever comes first. @defaultValue none
   */
  batchGroups?: Iterable<string>;
  /** Events per batch at most (Celery's `buffer_limit`). @defaultValue 24 */
  batchLimit?: number;
}

/** One message to publish: one event, or a batch of `events` of one group. */
type OutgoingMessage = { routingKey: string; body: Buffer; properties: Record<string, unknown>; events: number };

/**
 * Publishes Celery events (`celery.events.EventDispatcher`'s job) on a channel of its own, so
 * that nothing about them can reach task deliveries or results: no confirms, no waiting, never
 * a throw. `send()` returns at once. While the channel is being (re)opened, or its buffers are
 * full (`publish` returned false, the broker or the network pushing back), events wait in a
 * bounded buffer; past it they are dropped and counted (`dropped`), and a warning says so at
 * most once a minute. Observability never weakens delivery.
 */
export class EventDispatcher {
  private readonly groups: Set<string> | undefined;
  private readonly own: OwnChannel;
  private full = false;
  private readonly buffer: OutgoingMessage[] = [];
  private readonly batchGroups: Set<string>;
  private readonly batchLimit: number;
  /** Events of batched groups waiting for their batch to go out, by group. */
  private readonly batches = new Map<string, CeleryEvent[]>();
  private batchFlush: NodeJS.Immediate | undefined;
  private readonly maxBuffered: number;
  private droppedCount = 0;
  private lastDropWarning = 0;
  private closed = false;
  private readonly logger: Logger;

  constructor(private readonly options: EventDispatcherOptions) {
    this.groups = options.groups ? new Set(options.groups) : undefined;
    this.maxBuffered = options.maxBuffered ?? 1000;
    this.batchGroups = new Set(options.batchGroups ?? []);
    this.batchLimit = options.batchLimit ?? 24;
    this.logger = options.logger.child({ component: 'events' });
    this.own = new OwnChannel({
      transport: options.transport,
      logger: this.logger,
      what: 'the event channel',
      setUp: async (channel) => {
        // On a channel of its own: a refused declare closes that one.
        await options.transport.withTemporaryChannel((ch) => ch.assertExchange(EVENT_EXCHANGE, 'topic', EVENT_EXCHANGE_OPTIONS));
        channel.on('drain', () => {
          if (channel !== this.own.current) return;
          this.full = false;
          this.flush();
        });
      },
      onOpen: () => {
        this.full = false;
        this.flush();
      },
    });
  }

  /** Events dropped so far (buffer full while the broker pushed back or the connection was down). */
  get dropped(): number {
    return this.droppedCount;
  }

  /** Whether events of `group` (`task`, `worker`) are sent now. */
  sends(group: string): boolean {
    return !this.closed && (this.groups === undefined || this.groups.has(group));
  }

  /** Starts sending a group (`enable_events` adds `task`); false when it was sent already. */
  enableGroup(group: string): boolean {
    if (this.groups === undefined || this.groups.has(group)) return false;
    this.groups.add(group);
    return true;
  }

  /** Stops sending a group (`disable_events` removes `task`); false when it was not sent. */
  disableGroup(group: string): boolean {
    if (this.groups === undefined || !this.groups.has(group)) return false;
    this.groups.delete(group);
    return true;
  }

  /**
   * Declares the `celeryev` exchange and opens the channel; again after every reconnect. A
   * failure is logged: events wait (bounded) for the next connection.
   */
  async start(): Promise<void> {
    await this.own.start().catch((err: unknown) => this.logger.warn({ err: (err as Error).message }, 'could not open the event channel; events wait (bounded) for the next connection'));
  }

  /**
   * Sends one event of `type` with its own fields, unless its group is not sent. Never throws,
   * never waits: the event goes out, waits in the bounded buffer, or is dropped and counted.
   */
  send(type: string, fields: Record<string, unknown>): void {
    const group = eventGroup(type);
    if (!this.sends(group)) return;
    try {
      const event = buildEvent(type, fields, this.options.source, this.options.clock.forward());
      if (this.batchGroups.has(group)) {
        this.batch(group, event);
        return;
      }
      // Batches waiting go first: a monitor sees events in the order they happened.
      if (this.batches.size > 0) this.flushBatches();
      this.out({ ...encodeEvent(event), events: 1 });
    } catch (err) {
      this.drop(type, err instanceof Error ? err.message : String(err));
    }
  }

  private out(message: OutgoingMessage): void {
    if (this.own.current && !this.full && this.buffer.length === 0) this.write(message);
    else this.hold(message);
  }

  private batch(group: string, event: CeleryEvent): void {
    const list = this.batches.get(group) ?? [];
    list.push(event);
    this.batches.set(group, list);
    if (list.length >= this.batchLimit) this.flushBatch(group);
    else this.batchFlush ??= setImmediate(() => this.flushBatches());
  }

  private flushBatches(): void {
    clearImmediate(this.batchFlush);
    this.batchFlush = undefined;
    for (const group of [...this.batches.keys()]) this.flushBatch(group);
  }

  private flushBatch(group: string): void {
    const events = this.batches.get(group);
    this.batches.delete(group);
    if (!events || events.length === 0) return;
    try {
      this.out({ ...encodeEvents(group, events), events: events.length });
    } catch (err) {
      for (const event of events) this.drop(event.type, err instanceof Error ? err.message : String(err));
    }
  }

  /** Stops sending and closes the channel; events already written go out first (AMQP keeps their order). */
  async close(): Promise<void> {
    if (this.closed) return;
    clearImmediate(this.batchFlush);
    this.flushBatches();
    this.closed = true;
    if (this.buffer.length > 0 && this.own.current && !this.full) this.flush();
    await this.own.close();
  }

  private write(message: OutgoingMessage): void {
    const channel = this.own.current!;
    try {
      const more = channel.publish(EVENT_EXCHANGE, message.routingKey, message.body, message.properties);
      if (!more) this.full = true;
    } catch (err) {
      // The channel is closing: its `close` listener opens the next one.
      this.hold(message);
      this.logger.debug({ err: (err as Error).message }, 'event channel refused a publish; held');
    }
  }

  private hold(message: OutgoingMessage): void {
    if (this.buffer.length >= this.maxBuffered) {
      for (let i = 0; i < message.events; i += 1) this.drop(message.routingKey.replace(/\./g, '-'), 'the buffer is full');
      return;
    }
    this.buffer.push(message);
  }

  private drop(type: string, why: string): void {
    this.droppedCount += 1;
    this.options.onDropped?.(type);
    const now = Date.now();
    if (now - this.lastDropWarning >= 60_000) {
      this.lastDropWarning = now;
      this.logger.warn(
        { type, dropped: this.droppedCount, buffered: this.buffer.length, why },
        'Celery event dropped: the broker is pushing back or the connection is down (events never slow tasks; they are dropped instead)',
      );
    }
  }

  private flush(): void {
    while (this.buffer.length > 0 && this.own.current && !this.full) this.write(this.buffer.shift()!);
  }
}
