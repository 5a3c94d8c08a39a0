import { randomUUID } from 'node:crypto';
import type { Logger } from '../logging/logger';
import type { Transport, TransportChannel } from '../transport';
import { decodeEvents, EVENT_EXCHANGE, EVENT_EXCHANGE_OPTIONS, EVENT_QUEUE_OPTIONS, type CeleryEvent } from './celery-events';
import type { LamportClock } from './lamport-clock';

export interface EventReceiverOptions {
  transport: Transport;
  clock: LamportClock;
  logger: Logger;
  onEvent: (event: CeleryEvent) => void;
  /** Binding key on `celeryev`. @defaultValue '#' (every event) */
  routingKey?: string;
}

/**
 * Receives Celery events, as Celery's `EventReceiver` (and so `celery events`, Flower): a queue
 * of its own, `celeryev.<uuid>` (auto-delete, events kept 5 s, gone a minute after its
 * consumer), bound to `celeryev`, consumed without acks, again after a reconnect. A message
 * sent as a list of events (a Python worker's `task.multi` batches) gives each. A malformed
 * event is left out with its reason logged; `task-sent` gets a clock of its own, as Celery
 * does (clients never sync theirs).
 */
export class EventReceiver {
  readonly queue = `celeryev.${randomUUID()}`;
  private channel: TransportChannel | undefined;
  private unsubscribe: (() => void) | undefined;
  private closed = false;
  private readonly logger: Logger;

  constructor(private readonly options: EventReceiverOptions) {
    this.logger = options.logger.child({ component: 'events' });
  }

  async start(): Promise<void> {
    await this.options.transport.start();
    this.unsubscribe = this.options.transport.onConnect(() => {
      void this.open().catch((err: unknown) => this.logger.warn({ err: (err as Error).message }, 'could not receive events again'));
    });
    await this.open();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe?.();
    const channel = this.channel;
    this.channel = undefined;
    await channel?.close().catch(() => undefined);
  }

  private async open(): Promise<void> {
    if (this.closed) return;
    const { transport } = this.options;
    const channel = await transport.openChannel();
    channel.on('error', (err: Error) => this.logger.warn({ err: err.message }, 'the broker closed the event channel'));
    try {
      await channel.assertExchange(EVENT_EXCHANGE, 'topic', EVENT_EXCHANGE_OPTIONS);
      await channel.assertQueue(this.queue, EVENT_QUEUE_OPTIONS);
      await channel.bindQueue(this.queue, EVENT_EXCHANGE, this.options.routingKey ?? '#', {});
      await channel.consume(this.queue, (message) => message && this.onMessage(message), { noAck: true });
    } catch (err) {
      await channel.close().catch(() => undefined);
      throw err;
    }
    const previous = this.channel;
    this.channel = channel;
    await previous?.close().catch(() => undefined);
  }

  private onMessage(message: { content: Buffer; properties: { contentType?: string; contentEncoding?: string; headers?: Record<string, unknown> } }): void {
    const { events, problems } = decodeEvents(message);
    for (const reason of problems) this.logger.warn({ reason }, 'malformed event ignored');
    const { clock } = this.options;
    for (const event of events) {
      if (event.type === 'task-sent') event.clock = Math.max(1, clock.value) - 1;
      else if (typeof event.clock === 'number') clock.adjust(event.clock);
      else event.clock = clock.forward();
      try {
        this.options.onEvent(event);
      } catch (err) {
        this.logger.warn({ type: event.type, err: (err as Error).message }, 'an event listener threw; ignored');
      }
    }
  }
}
