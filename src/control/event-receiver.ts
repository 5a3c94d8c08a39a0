import { randomUUID } from 'node:crypto';
import type { Logger } from '../logging/logger';
import type { Transport } from '../transport';
import { decodeEvents, EVENT_EXCHANGE, EVENT_EXCHANGE_OPTIONS, EVENT_QUEUE_OPTIONS, type CeleryEvent } from './celery-events';
import type { LamportClock } from './lamport-clock';
import { OwnChannel } from './own-channel';

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
  private readonly channel: OwnChannel;
  private readonly logger: Logger;

  constructor(private readonly options: EventReceiverOptions) {
    this.logger = options.logger.child({ component: 'events' });
    this.channel = new OwnChannel({
      transport: options.transport,
      logger: this.logger,
      what: 'the event receiver channel',
      setUp: async (channel) => {
        await channel.assertExchange(EVENT_EXCHANGE, 'topic', EVENT_EXCHANGE_OPTIONS);
        await channel.assertQueue(this.queue, EVENT_QUEUE_OPTIONS);
        await channel.bindQueue(this.queue, EVENT_EXCHANGE, options.routingKey ?? '#', {});
        await channel.consume(this.queue, (message) => message && this.onMessage(message), { noAck: true });
      },
    });
  }

  async start(): Promise<void> {
    await this.options.transport.start();
    await this.channel.start();
  }

  close(): Promise<void> {
    return this.channel.close();
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
