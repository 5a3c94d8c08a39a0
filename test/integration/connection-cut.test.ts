import { createLogger } from '../../src';
import { BrokerConnection, Publisher, type PublishRequest } from '../../src/transport';
import { BrokerProbe, randomPrefix, waitFor } from '../support/broker';
import { TcpProxy } from '../support/tcp-proxy';

/**
 * A connection cut under the transport (the proxy breaks every live connection, as a network
 * fault or a broker restart would), with the broker itself untouched: the transport reconnects
 * at once, through the same proxy.
 */
describe('a cut connection', () => {
  const prefix = randomPrefix('connection-cut');
  const queue = `${prefix}.q`;
  let proxy: TcpProxy;
  let connection: BrokerConnection;
  let probe: BrokerProbe;
  const silent = createLogger({ level: 'silent' });

  const to = (body: string): PublishRequest => ({ exchange: '', routingKey: queue, body: Buffer.from(body), properties: {} });
  const cut = async (): Promise<void> => {
    proxy.cut();
    await waitFor('the transport to notice', () => !connection.isConnected(), 5000, 5);
  };
  const reconnected = (): Promise<void> => waitFor('the transport to reconnect', () => connection.isConnected(), 10_000, 20);

  beforeEach(async () => {
    probe = await BrokerProbe.open();
    await probe.declareQueue(queue, { durable: false });
    proxy = await TcpProxy.start();
    connection = new BrokerConnection({ urls: [proxy.url()], logger: silent });
    await connection.start();
  });

  afterEach(async () => {
    await connection.close();
    await proxy.close();
    await probe.cleanUp([queue]);
    await probe.close();
  });

  test('publishes made while disconnected wait and are confirmed after the reconnect, in order', async () => {
    const publisher = new Publisher(connection, { name: 'test', logger: silent });
    await publisher.start();
    await cut();
    const sent = Promise.all(['a', 'b', 'c'].map((body) => publisher.publish(to(body))));
    await sent;
    const bodies: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      const message = await probe.get(queue);
      if (message) bodies.push(message.content.toString());
    }
    expect(bodies).toEqual(['a', 'b', 'c']);
    await publisher.close();
  });

  test('without survivesReconnect, a publish cut off before its confirm rejects and nothing goes out after the reconnect', async () => {
    proxy.setDelay(300); // the publish is still on its way when the cut comes
    const publisher = new Publisher(connection, { name: 'beat', logger: silent, survivesReconnect: false });
    await publisher.start();
    const lost = publisher.publish(to('lost')).then(
      () => undefined,
      (err: Error & { code?: string }) => err,
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    await cut();
    const error = await lost;
    expect(error?.code).toBe('WARREN_BROKER_UNAVAILABLE');
    expect(error?.message).toMatch(/closed before it confirmed the message to exchange "\(default\)" \(waited \d+ ms\); it may or may not have it$/);
    const refused = await publisher.publish(to('while down')).catch((err: Error) => err);
    expect((refused as Error).message).toBe(`not connected to the broker at ${connection.broker}`);

    proxy.setDelay(0);
    await reconnected();
    await publisher.publish(to('after'));
    expect(await probe.messageCount(queue)).toBe(1);
    expect((await probe.get(queue) || undefined)?.content.toString()).toBe('after');
    await publisher.close();
  });

  test('a declare cut off by the lost connection rejects with BrokerUnavailableError, not the channel’s own words', async () => {
    proxy.setDelay(300);
    const declare = connection
      .withTemporaryChannel((channel) => channel.assertQueue(`${prefix}.declared`, { durable: false, autoDelete: true }))
      .then(
        () => undefined,
        (err: Error & { code?: string }) => err,
      );
    await new Promise((resolve) => setTimeout(resolve, 400)); // the channel is open, the declare on its way
    await cut();
    const error = await declare;
    expect(error?.code).toBe('WARREN_BROKER_UNAVAILABLE');
    expect(error?.message).toMatch(new RegExp(`^the connection to the broker at ${connection.broker.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} was lost during work on a channel of its own \\(.+\\)$`));
  });
});
