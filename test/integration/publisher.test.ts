import { createLogger } from '../../src';
import { BrokerUnavailableError, PublishRejectedError, UnroutableError } from '../../src/errors';
import { BrokerConnection, Publisher, type PublishRequest } from '../../src/transport';
import { maskUrl } from '../../src/util/mask-url';
import { testBrokerUrl } from '../support/broker-url';
import { BrokerProbe, randomPrefix, waitFor } from '../support/broker';

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('Publisher on the real broker', () => {
  const prefix = randomPrefix('publisher');
  const queue = `${prefix}.q`;
  const full = `${prefix}.full`;
  const exchange = `${prefix}.x`;
  let connection: BrokerConnection;
  let publisher: Publisher;
  let probe: BrokerProbe;

  const to = (routingKey: string, body = Buffer.from('{}'), target = ''): PublishRequest => ({
    exchange: target,
    routingKey,
    body,
    properties: { contentType: 'application/json' },
  });

  beforeAll(async () => {
    probe = await BrokerProbe.open();
    await probe.declareQueue(queue, { durable: false });
    // Holds one message and nacks the next: the broker's basic.nack, for real.
    await probe.declareQueue(full, { durable: false, arguments: { 'x-max-length': 1, 'x-overflow': 'reject-publish' } });
    connection = new BrokerConnection({ urls: [testBrokerUrl()], logger: createLogger({ level: 'silent' }) });
    await connection.start();
    publisher = new Publisher(connection, { name: 'test', logger: createLogger({ level: 'silent' }), publishTimeoutMs: 5000 });
    await publisher.start();
  });

  afterAll(async () => {
    await publisher.close();
    await connection.close();
    await probe.cleanUp([queue, full], [exchange]);
    await probe.close();
  });

  test('5,000 publishes at once, more than the channel buffers: publish() returns false, the rest wait for drain, every one is confirmed and queued', async () => {
    // Counts the writes the channel had no room for, to know the drain path ran.
    let full = 0;
    const counting = new BrokerConnection({ urls: [testBrokerUrl()], logger: createLogger({ level: 'silent' }) });
    await counting.start();
    const open = counting.openConfirmChannel.bind(counting);
    counting.openConfirmChannel = async () => {
      const channel = await open();
      const publish = channel.publish.bind(channel);
      channel.publish = (...args: Parameters<typeof publish>) => {
        const room = publish(...args);
        if (!room) full += 1;
        return room;
      };
      return channel;
    };
    const bulk = new Publisher(counting, { name: 'bulk', logger: createLogger({ level: 'silent' }) });
    await bulk.start();
    try {
      const body = Buffer.alloc(1024, 'x');
      await Promise.all(Array.from({ length: 5000 }, () => bulk.publish(to(queue, body))));
      expect(full).toBeGreaterThan(0);
      await waitFor('5,000 messages in the queue', async () => (await probe.messageCount(queue)) === 5000);
    } finally {
      await bulk.close();
      await counting.close();
    }
  });

  test('a message the broker nacks on a channel that delivered to its queue before (a full queue that rejects publishes) rejects at once with PublishRejectedError saying why', async () => {
    await publisher.publish(to(full));
    const error = await publisher.publish(to(full)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PublishRejectedError);
    const node = maskUrl(testBrokerUrl());
    expect((error as PublishRejectedError).rejection).toEqual({ node, exchange: '', routingKey: full, nacks: 1, channels: 1 });
    expect((error as Error).message).toMatch(
      new RegExp(
        `^the broker at ${escape(node)} refused the message to exchange "\\(default\\)" with routing key "${escape(full)}" once on 1 channel over \\d+ ms ` +
          `\\(basic.nack, on a channel that had delivered there before\\): a queue it routes to is most likely full \\(maxLength with overflow reject-publish\\)$`,
      ),
    );
    // The channel stays: the next publish elsewhere is confirmed.
    await publisher.publish(to(queue));
  });

  test('an unroutable message rejects with UnroutableError', async () => {
    const error = await publisher.publish(to(`${prefix}.nowhere`)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnroutableError);
    expect((error as Error).message).toBe(`message to exchange "(default)" with routing key "${prefix}.nowhere" was returned unroutable by the broker (312 NO_ROUTE)`);
  });

  test('a publish to a deleted exchange (404 closes the channel) rejects naming the reason; the channel is replaced at once', async () => {
    const error = await publisher.publish(to('k', Buffer.from('{}'), exchange)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BrokerUnavailableError);
    expect((error as Error).message).toMatch(
      new RegExp(
        `^the channel to the broker at ${escape(connection.broker)} closed before it confirmed the message to exchange "${escape(exchange)}" ` +
          `\\(waited \\d+ ms\\); it may or may not have it: Channel closed by server: 404 \\(NOT-FOUND\\) with message "NOT_FOUND - no exchange '${escape(exchange)}' in vhost '/'"$`,
      ),
    );
    const began = Date.now();
    await publisher.publish(to(queue));
    expect(Date.now() - began).toBeLessThan(1000);
  });
});
