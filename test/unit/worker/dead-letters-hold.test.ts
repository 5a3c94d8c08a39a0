import { createLogger } from '../../../src/logging/logger';
import type { DeliveredMessage, Publisher, TransportChannel } from '../../../src/transport';
import { DeadLetters } from '../../../src/worker/dead-letters';
import type { Delivery } from '../../../src/worker/delivery';

/*
 * A copy sent round while the consumer pauses must wait for the pause (the consumer's cancel):
 * a quorum queue may hand a message enqueued before it applied the cancel to the cancelled
 * consumer, and take it back counted, as if a worker had lost a run of it.
 */
describe('DeadLetters.holdCopiesUntil', () => {
  const logger = createLogger({ level: 'silent' });
  const order: string[] = [];
  const publisher = {
    publish: async (message: { routingKey: string }) => {
      order.push(`publish ${message.routingKey}`);
    },
  } as unknown as Publisher;
  const channel = {
    ack: () => order.push('ack'),
    nack: () => order.push('nack'),
  } as unknown as TransportChannel;
  const delivery = (): Delivery => ({
    channel,
    queue: 'jobs',
    settled: false,
    message: {
      content: Buffer.from('[[], {}, {}]'),
      fields: { deliveryTag: 1, redelivered: false, exchange: '', routingKey: 'jobs' },
      properties: { headers: { id: 'a', task: 't', 'x-warren-deliveries': 1 } },
    } as unknown as DeliveredMessage,
  });
  const deadLetters = () => new DeadLetters([{ name: 'jobs', type: 'quorum', deliveryLimit: 2 } as never], publisher, 'w@h', logger, () => undefined);

  beforeEach(() => order.splice(0));
  /** Acks go out together at the end of the event loop's turn. */
  const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

  test('a copy is published only once the pause has settled, then the delivery is acked', async () => {
    const letters = deadLetters();
    let finishPause!: () => void;
    letters.holdCopiesUntil(new Promise<void>((resolve) => (finishPause = resolve)));
    const sent = letters.sendRound(delivery());
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(order).toEqual([]);
    order.push('paused');
    finishPause();
    await expect(sent).resolves.toBe(true);
    await nextTurn();
    expect(order).toEqual(['paused', 'publish jobs', 'ack']);
  });

  test('a pause that fails (the channel closed) releases the copies too', async () => {
    const letters = deadLetters();
    letters.holdCopiesUntil(Promise.reject(new Error('channel closed')));
    await expect(letters.sendRound(delivery())).resolves.toBe(true);
    await nextTurn();
    expect(order).toEqual(['publish jobs', 'ack']);
  });

  test('without a pause, copies go at once', async () => {
    await expect(deadLetters().sendRound(delivery())).resolves.toBe(true);
    await nextTurn();
    expect(order).toEqual(['publish jobs', 'ack']);
  });
});
