import type { DeliveredMessage, TransportChannel } from '../../../src/transport';
import { AckBatch } from '../../../src/worker/ack-batch';

function message(tag: number): DeliveredMessage {
  return { content: Buffer.from('[]'), fields: { deliveryTag: tag, redelivered: false, exchange: '', routingKey: 'q' }, properties: {} };
}

/** A channel that records what was sent on it, as `ack 2 multiple`, `ack 4`, `nack 5 requeue`. */
function recordingChannel(): { channel: TransportChannel; sent: string[] } {
  const sent: string[] = [];
  const channel = {
    ack: (m: DeliveredMessage, allUpTo?: boolean) => sent.push(`ack ${m.fields.deliveryTag}${allUpTo ? ' multiple' : ''}`),
    nack: (m: DeliveredMessage, _allUpTo?: boolean, requeue?: boolean) => sent.push(`nack ${m.fields.deliveryTag}${requeue ? ' requeue' : ''}`),
  } as unknown as TransportChannel;
  return { channel, sent };
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('AckBatch', () => {
  test('acks of a turn go out together: one multiple below the oldest delivery in hand, the rest one by one', async () => {
    const { channel, sent } = recordingChannel();
    const batch = new AckBatch(channel);
    for (let tag = 1; tag <= 5; tag += 1) batch.received(message(tag));
    expect(batch.ack(message(2))).toBe(true);
    batch.ack(message(1));
    batch.ack(message(4));
    expect(sent).toEqual([]);
    await turn();
    // 3 is still in hand: the multiple stops below it, and 4 goes alone.
    expect(sent).toEqual(['ack 2 multiple', 'ack 4']);
    batch.nack(message(5), true);
    expect(sent).toEqual(['ack 2 multiple', 'ack 4', 'nack 5 requeue']);
    batch.ack(message(3));
    await turn();
    expect(sent).toEqual(['ack 2 multiple', 'ack 4', 'nack 5 requeue', 'ack 3 multiple']);
  });

  test('an ack of a delivery it was not told of goes alone, and holds back no multiple', async () => {
    const { channel, sent } = recordingChannel();
    const batch = new AckBatch(channel);
    batch.received(message(7));
    batch.ack(message(3));
    batch.ack(message(7));
    await turn();
    expect(sent).toEqual(['ack 7 multiple', 'ack 3']);
  });

  test('flush() sends at once; after close() an ack reports false and nothing goes out', async () => {
    const { channel, sent } = recordingChannel();
    const batch = new AckBatch(channel);
    batch.received(message(1));
    batch.received(message(2));
    batch.ack(message(1));
    batch.flush();
    expect(sent).toEqual(['ack 1 multiple']);
    batch.ack(message(2));
    batch.close();
    expect(batch.ack(message(2))).toBe(false);
    await turn();
    expect(sent).toEqual(['ack 1 multiple']);
  });
});
