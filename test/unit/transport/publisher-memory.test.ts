import { BrokerUnavailableError, PublishRejectedError, UnroutableError } from '../../../src/errors';
import { Publisher, type PublisherOptions, type Transport } from '../../../src/transport';
import { MemoryBroker, type MemoryChannel, type MemoryTransport } from '../../../src/transport/memory';
import { memoryConnection, rejection, settle, silent, until } from '../../support/memory';

/*
 * The publisher on the memory broker: confirms, returns, nacks, and what a publish does while
 * the broker is away. Asserted on what reached the queue and what the caller was told.
 */

let broker: MemoryBroker;
let transport: MemoryTransport;
let publishers: Publisher[];

beforeEach(async () => {
  broker = new MemoryBroker({ name: 'publisher' });
  transport = await memoryConnection(broker);
  publishers = [];
  const channel = (await transport.openChannel()) as MemoryChannel;
  await channel.assertQueue('jobs', { durable: true });
  await channel.assertQueue('small', { durable: true, arguments: { 'x-max-length': 1, 'x-overflow': 'reject-publish' } });
  await channel.assertExchange('gone', 'direct', {});
  await channel.close();
});

afterEach(async () => {
  broker.start();
  await Promise.all(publishers.map((p) => p.close()));
  await transport.close();
});

async function publisher(options: Partial<PublisherOptions> = {}, on: Transport = transport): Promise<Publisher> {
  const p = new Publisher(on, { name: 'test', logger: silent, ...options });
  publishers.push(p);
  await p.start();
  return p;
}

const request = (routingKey: string, text = 'x', exchange = '') => ({
  exchange,
  routingKey,
  body: Buffer.from(text),
  properties: { contentType: 'text/plain', deliveryMode: 2, correlationId: text },
});

describe('publisher on memory://', () => {
  test('resolves once the broker confirmed the message, which is then in its queue', async () => {
    const p = await publisher();
    await p.publish(request('jobs', 'hello'));
    expect(broker.messages('jobs').map((m) => [m.content.toString(), m.properties.correlationId])).toEqual([['hello', 'hello']]);
  });

  test('confirms are pipelined: many publishes go out together and each resolves with its own confirm', async () => {
    const p = await publisher();
    await Promise.all(Array.from({ length: 200 }, (_, i) => p.publish(request('jobs', String(i)))));
    expect(broker.messages('jobs').map((m) => m.content.toString())).toEqual(Array.from({ length: 200 }, (_, i) => String(i)));
  });

  test('an unroutable message rejects with UnroutableError naming exchange and routing key', async () => {
    const p = await publisher();
    const error = await rejection(p.publish(request('no-such-queue')));
    expect(error).toBeInstanceOf(UnroutableError);
    expect(error.message).toBe('message to exchange "(default)" with routing key "no-such-queue" was returned unroutable by the broker (312 NO_ROUTE)');
    // Its return does not spill onto the next publish.
    await expect(p.publish(request('jobs'))).resolves.toBeUndefined();
  });

  test('a message the broker nacks (a full queue that rejects publishes) rejects with PublishRejectedError', async () => {
    const p = await publisher();
    await p.publish(request('small', 'fits'));
    const error = await rejection(p.publish(request('small', 'too many')));
    expect(error).toBeInstanceOf(PublishRejectedError);
    expect(error.message).toContain('exchange "(default)"');
    expect(broker.messages('small').map((m) => m.content.toString())).toEqual(['fits']);
  });

  test('while the broker is down a publish waits, and goes out once it is back', async () => {
    const p = await publisher({ publishTimeoutMs: 5000 });
    broker.stop();
    await until(() => !transport.isConnected(), 'the disconnect');
    let done = false;
    const pending = p.publish(request('jobs', 'waited')).then(() => {
      done = true;
    });
    await settle();
    expect(done).toBe(false);
    broker.start();
    await pending;
    expect(broker.messages('jobs').map((m) => m.content.toString())).toEqual(['waited']);
  });

  test('while the broker is down a publish rejects after publishTimeoutMs with BrokerUnavailableError naming the broker', async () => {
    const p = await publisher({ publishTimeoutMs: 30 });
    broker.stop();
    await until(() => !transport.isConnected(), 'the disconnect');
    const error = await rejection(p.publish(request('jobs')));
    expect(error).toBeInstanceOf(BrokerUnavailableError);
    expect(error.message).toMatch(/^the broker at memory:\/\/publisher did not confirm the message to exchange "\(default\)" within 30 ms \(waited \d+ ms, disconnected\)$/);
    broker.start();
    await until(() => transport.isConnected(), 'the reconnect');
    await settle();
    expect(broker.messages('jobs')).toEqual([]);
  });

  test('beyond maxPending waiting publishes, one more rejects at once, saying the broker is not connected', async () => {
    const p = await publisher({ publishTimeoutMs: 5000, maxPending: 1 });
    broker.stop();
    await until(() => !transport.isConnected(), 'the disconnect');
    const waiting = p.publish(request('jobs', 'first'));
    const error = await rejection(p.publish(request('jobs', 'second')));
    expect(error).toBeInstanceOf(BrokerUnavailableError);
    expect(error.message).toBe('1 publishes are already waiting for the broker at memory://publisher (limit 1); it is not connected');
    broker.start();
    await waiting;
    expect(broker.messages('jobs').map((m) => m.content.toString())).toEqual(['first']);
  });

  test('a publish channel the broker closes (404: a deleted exchange) is replaced; a later publish is confirmed', async () => {
    const p = await publisher();
    broker.deleteExchange('gone');
    const error = await rejection(p.publish(request('k', 'x', 'gone')));
    expect(error).toBeInstanceOf(BrokerUnavailableError);
    expect(error.message).toContain("NOT_FOUND - no exchange 'gone' in vhost '/'");
    await settle(1);
    await expect(p.publish(request('jobs', 'after'))).resolves.toBeUndefined();
    expect(broker.messages('jobs').map((m) => m.content.toString())).toEqual(['after']);
  });

  test('a publish made right after the 404, before the channel was replaced, is confirmed too', async () => {
    const p = await publisher();
    broker.deleteExchange('gone');
    await rejection(p.publish(request('k', 'x', 'gone')));
    await expect(p.publish(request('jobs', 'right after'))).resolves.toBeUndefined();
  });

  describe('survivesReconnect: false (beat)', () => {
    test('while disconnected a publish rejects at once and is never sent later', async () => {
      const p = await publisher({ survivesReconnect: false });
      await p.publish(request('jobs', 'before'));
      broker.stop();
      await until(() => !transport.isConnected(), 'the disconnect');
      await expect(p.publish(request('jobs', 'during'))).rejects.toBeInstanceOf(BrokerUnavailableError);
      broker.start();
      await until(() => transport.isConnected(), 'the reconnect');
      await p.publish(request('jobs', 'after'));
      expect(broker.messages('jobs').map((m) => m.content.toString())).toEqual(['before', 'after']);
    });

    test('a publish whose connection goes before its confirm rejects with BrokerUnavailableError', async () => {
      const p = await publisher({ survivesReconnect: false });
      await p.publish(request('jobs', 'warm-up'));
      const inFlight = p.publish(request('jobs', 'in flight'));
      broker.dropConnections();
      const error = await rejection(inFlight);
      expect(error).toBeInstanceOf(BrokerUnavailableError);
      expect(error.message).toContain('closed before it confirmed the message to exchange "(default)"');
    });
  });
});
