import { connect, type ChannelModel } from 'amqplib';
import type { Socket } from 'node:net';
import { coalesceWrites } from '../../src/transport/coalesced-writes';
import { BrokerProbe, randomPrefix } from '../support/broker';
import { testBrokerUrl } from '../support/broker-url';

/** The socket under amqplib's connection, with a count of the system calls that wrote to it. */
function countWrites(model: ChannelModel): { writes: number; chunks: number } {
  const socket = (model as unknown as { connection: { stream: Socket & { _write: Function; _writev: Function } } }).connection.stream;
  const counts = { writes: 0, chunks: 0 };
  const write = socket._write;
  const writev = socket._writev;
  socket._write = function (this: Socket, ...args: unknown[]) {
    counts.writes += 1;
    counts.chunks += 1;
    return write.apply(this, args);
  };
  socket._writev = function (this: Socket, chunks: unknown[], ...rest: unknown[]) {
    counts.writes += 1;
    counts.chunks += chunks.length;
    return writev.call(this, chunks, ...rest);
  };
  return counts;
}

describe('coalesced writes (one socket write per pass of amqplib from its channels to the socket)', () => {
  const queue = `${randomPrefix('coalesced')}.q`;
  let probe: BrokerProbe;
  const models: ChannelModel[] = [];

  beforeAll(async () => {
    probe = await BrokerProbe.open();
    await probe.declareQueue(queue, { durable: false });
  });

  afterAll(async () => {
    await Promise.all(models.map((model) => model.close().catch(() => undefined)));
    await probe.cleanUp([queue]);
    await probe.close();
  });

  /** 20 confirmed publishes made in one turn on a fresh connection; the socket's write counts. */
  async function publishTwenty(coalesced: boolean): Promise<{ writes: number; chunks: number }> {
    const model = await connect(testBrokerUrl());
    models.push(model);
    if (coalesced) expect(coalesceWrites(model)).toBe(true);
    const channel = await model.createConfirmChannel();
    const counts = countWrites(model);
    const confirms = Array.from(
      { length: 20 },
      (_, n) => new Promise<void>((resolve, reject) => channel.publish('', queue, Buffer.from(`m${n}`), {}, (err) => (err ? reject(err) : resolve()))),
    );
    await Promise.all(confirms);
    const written = { ...counts };
    await channel.close();
    return written;
  }

  test('20 publishes made in one turn leave in one writev, and all 20 reach the queue', async () => {
    const counts = await publishTwenty(true);
    expect(counts.chunks).toBe(20);
    expect(counts.writes).toBe(1);
    expect(await probe.messageCount(queue)).toBe(20);
  });

  test('without it, amqplib writes each publish on its own (what the count above is measured against)', async () => {
    const counts = await publishTwenty(false);
    expect(counts.writes).toBe(20);
    expect(await probe.messageCount(queue)).toBe(40);
  });

  test('an amqplib connection of another shape is left as it is', () => {
    expect(coalesceWrites({} as ChannelModel)).toBe(false);
    expect(coalesceWrites({ connection: { muxer: { out: {} } } } as unknown as ChannelModel)).toBe(false);
  });
});
