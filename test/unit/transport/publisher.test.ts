import { EventEmitter } from 'node:events';
import { createLogger } from '../../../src';
import { BrokerUnavailableError, ClosedError, PublishRejectedError, UnroutableError } from '../../../src/errors';
import { Publisher, type PublisherOptions, type PublishRequest } from '../../../src/transport';
import type { PublishOptions, ReturnedMessage, Transport, TransportChannel, TransportConfirmChannel } from '../../../src/transport';

/** One write on a fake channel, with the callback its confirm calls. */
interface Write {
  routingKey: string;
  options: PublishOptions | undefined;
  confirm(error: Error | null): void;
}

/**
 * A confirm channel driven by the test: it records writes and confirms, nacks, returns or closes
 * when told. `close` fails the unconfirmed writes first, then tells its listeners, as amqplib does.
 */
class FakeChannel extends EventEmitter {
  readonly writes: Write[] = [];
  closed = false;
  /** What publish() returns: false means "buffers full, wait for drain". */
  room = true;
  throwOnPublish: Error | undefined;

  publish(_exchange: string, routingKey: string, _content: Buffer, options?: PublishOptions, callback?: (error: Error | null) => void): boolean {
    if (this.throwOnPublish) throw this.throwOnPublish;
    if (this.closed) throw new Error('Channel closed');
    let done = false;
    this.writes.push({
      routingKey,
      options,
      confirm: (error) => {
        if (done) return;
        done = true;
        callback?.(error);
      },
    });
    return this.room;
  }

  /** The broker closed it (`reason`), or the connection went (no reason). */
  end(reason?: string, order: 'confirms first' | 'close first' = 'confirms first'): void {
    this.closed = true;
    if (reason) this.emit('error', new Error(reason));
    const fail = () => this.writes.forEach((w) => w.confirm(new Error('message nacked')));
    if (order === 'confirms first') {
      fail();
      this.emit('close');
    } else {
      this.emit('close');
      fail();
    }
  }

  async close(): Promise<void> {
    if (!this.closed) this.end();
  }
}

class FakeTransport implements Transport {
  readonly broker = 'amqp://guest:***@broker:5672/';
  node = 'amqp://guest:***@broker:5672/';
  connected = true;
  readonly channels: FakeChannel[] = [];
  /** How each new channel answers writes by itself, by its index (none: the test confirms by hand). */
  answers: (index: number) => FakeChannel['answer'] = () => undefined;
  private readonly listeners = new Set<() => void>();

  async start(): Promise<void> {}
  async openChannel(): Promise<TransportChannel> {
    throw new Error('not used');
  }
  async openConfirmChannel(): Promise<TransportConfirmChannel> {
    if (!this.connected) throw new BrokerUnavailableError('not connected');
    const channel = new FakeChannel();
    this.channels.push(channel);
    return channel as unknown as TransportConfirmChannel;
  }
  withTemporaryChannel<T>(): Promise<T> {
    throw new Error('not used');
  }
  isConnected(): boolean {
    return this.connected;
  }
  connectedTo(): string | undefined {
    return this.connected ? this.node : undefined;
  }
  onConnect(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  async close(): Promise<void> {}

  get channel(): FakeChannel {
    return this.channels[this.channels.length - 1];
  }

  /** The connection goes: its channels close first, then it reports itself closed (same turn). */
  drop(): void {
    for (const channel of this.channels) if (!channel.closed) channel.end();
    this.connected = false;
  }

  reconnect(): void {
    this.connected = true;
    for (const listener of this.listeners) listener();
  }
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

function request(routingKey: string, mandatory = false): PublishRequest {
  return { exchange: 'jobs', routingKey, body: Buffer.from('{}'), properties: { correlationId: routingKey }, mandatory };
}

async function started(options: Partial<PublisherOptions> = {}) {
  const transport = new FakeTransport();
  const publisher = new Publisher(transport, { name: 'test', logger: createLogger({ level: 'silent' }), ...options });
  await publisher.start();
  return { transport, publisher };
}

/** The publish's outcome: 'ok' or the error. */
function outcome(publish: Promise<void>): Promise<'ok' | Error> {
  return publish.then(
    () => 'ok' as const,
    (error: Error) => error,
  );
}

describe('Publisher: confirms', () => {
  test('writes every publish at once and resolves each on its own confirm, in any order', async () => {
    const { transport, publisher } = await started();
    const results = ['a', 'b', 'c'].map((key) => outcome(publisher.publish(request(key))));
    await settle();
    expect(transport.channel.writes.map((w) => w.routingKey)).toEqual(['a', 'b', 'c']);
    transport.channel.writes[2].confirm(null);
    transport.channel.writes[0].confirm(null);
    transport.channel.writes[1].confirm(null);
    expect(await Promise.all(results)).toEqual(['ok', 'ok', 'ok']);
  });

  test('sets mandatory by default and rejects a returned message with UnroutableError', async () => {
    const { transport, publisher } = await started();
    const result = outcome(publisher.publish({ ...request('nowhere'), mandatory: undefined }));
    await settle();
    const returned: ReturnedMessage = {
      content: Buffer.from('{}'),
      fields: { exchange: 'jobs', routingKey: 'nowhere', replyCode: 312, replyText: 'NO_ROUTE' },
      properties: { correlationId: 'nowhere' },
    };
    expect(transport.channel.writes[0].options?.mandatory).toBe(true);
    transport.channel.emit('return', returned);
    transport.channel.writes[0].confirm(null);
    const error = await result;
    expect(error).toBeInstanceOf(UnroutableError);
    expect((error as Error).message).toBe('message to exchange "jobs" with routing key "nowhere" was returned unroutable by the broker (312 NO_ROUTE)');
  });

  test('waits for drain after a write the channel had no room for, then writes the rest in order', async () => {
    const { transport, publisher } = await started();
    transport.channel.room = false;
    const results = ['a', 'b', 'c'].map((key) => outcome(publisher.publish(request(key))));
    await settle();
    expect(transport.channel.writes.map((w) => w.routingKey)).toEqual(['a']);
    transport.channel.room = true;
    transport.channel.emit('drain');
    expect(transport.channel.writes.map((w) => w.routingKey)).toEqual(['a', 'b', 'c']);
    transport.channel.writes.forEach((w) => w.confirm(null));
    expect(await Promise.all(results)).toEqual(['ok', 'ok', 'ok']);
  });
});

describe('Publisher: what a failure is comes from what happened, never from an error text', () => {
  test.each(['timeout', 'Channel closed', 'channel closed', 'message nacked'])(
    'a nack while the channel stays open is PublishRejectedError, whatever its error says (%p)',
    async (text) => {
      const { transport, publisher } = await started();
      const result = outcome(publisher.publish(request('a')));
      await settle();
      transport.channel.writes[0].confirm(new Error(text));
      const error = await result;
      expect(error).toBeInstanceOf(PublishRejectedError);
      expect((error as PublishRejectedError).code).toBe('WARREN_PUBLISH_REJECTED');
      expect((error as Error).message).toBe('the broker refused the message to exchange "jobs" (basic.nack)');
    },
  );

  test.each(['confirms first', 'close first'] as const)(
    'a channel the broker closes before the confirm is BrokerUnavailableError naming its reason (%s)',
    async (order) => {
      const { transport, publisher } = await started();
      const result = outcome(publisher.publish(request('a')));
      await settle();
      transport.channel.end('Channel closed by server: 404 (NOT-FOUND) with message "NOT_FOUND - no exchange \'jobs\' in vhost \'/\'"', order);
      const error = await result;
      expect(error).toBeInstanceOf(BrokerUnavailableError);
      expect((error as Error).message).toMatch(
        /^the channel to the broker at amqp:\/\/guest:\*\*\*@broker:5672\/ closed before it confirmed the message to exchange "jobs" \(waited \d+ ms\); it may or may not have it: Channel closed by server: 404 \(NOT-FOUND\)/,
      );
    },
  );

  test('a lost connection cuts off what was not confirmed: BrokerUnavailableError without a broker reason', async () => {
    const { transport, publisher } = await started();
    const result = outcome(publisher.publish(request('a')));
    await settle();
    transport.drop();
    const error = await result;
    expect(error).toBeInstanceOf(BrokerUnavailableError);
    expect((error as Error).message).toMatch(/closed before it confirmed the message to exchange "jobs" \(waited \d+ ms\); it may or may not have it$/);
  });

  test('a publish the channel refuses to write (it stays open) is PublishRejectedError', async () => {
    const { transport, publisher } = await started();
    transport.channel.throwOnPublish = new TypeError('header "x" cannot be encoded');
    const error = await outcome(publisher.publish(request('a')));
    expect(error).toBeInstanceOf(PublishRejectedError);
    expect((error as Error).message).toBe('the message to exchange "jobs" could not be published: header "x" cannot be encoded');
  });

  test('no confirm within publishTimeoutMs is BrokerUnavailableError, connected or not', async () => {
    const { publisher } = await started({ publishTimeoutMs: 30 });
    const error = await outcome(publisher.publish(request('a')));
    expect(error).toBeInstanceOf(BrokerUnavailableError);
    expect((error as Error).message).toMatch(
      /^the broker at amqp:\/\/guest:\*\*\*@broker:5672\/ did not confirm the message to exchange "jobs" within 30 ms \(waited \d+ ms, connected\)$/,
    );
  });
});

describe('Publisher: channel and connection loss', () => {
  test('a channel the broker closes while the connection stays is replaced at once; later publishes go out on the new one', async () => {
    const { transport, publisher } = await started();
    const lost = outcome(publisher.publish(request('lost')));
    await settle();
    transport.channel.end('Channel closed by server: 404 (NOT-FOUND)');
    expect(await lost).toBeInstanceOf(BrokerUnavailableError);
    await settle();
    expect(transport.channels).toHaveLength(2);
    const next = outcome(publisher.publish(request('next')));
    await settle();
    expect(transport.channels[1].writes.map((w) => w.routingKey)).toEqual(['next']);
    transport.channels[1].writes[0].confirm(null);
    expect(await next).toBe('ok');
  });

  test('while disconnected, publishes wait and go out in order after the reconnect', async () => {
    const { transport, publisher } = await started();
    transport.drop();
    await settle();
    const results = ['a', 'b'].map((key) => outcome(publisher.publish(request(key))));
    await settle();
    expect(transport.channels).toHaveLength(1);
    transport.reconnect();
    await settle();
    expect(transport.channels).toHaveLength(2);
    expect(transport.channel.writes.map((w) => w.routingKey)).toEqual(['a', 'b']);
    transport.channel.writes.forEach((w) => w.confirm(null));
    expect(await Promise.all(results)).toEqual(['ok', 'ok']);
  });

  test('while disconnected, a publish rejects after publishTimeoutMs, saying so', async () => {
    const { transport, publisher } = await started({ publishTimeoutMs: 30 });
    transport.drop();
    await settle();
    const error = await outcome(publisher.publish(request('a')));
    expect((error as Error).message).toMatch(/did not confirm the message to exchange "jobs" within 30 ms \(waited \d+ ms, disconnected\)$/);
    transport.reconnect();
    await settle();
    expect(transport.channel.writes).toEqual([]);
  });

  test('beyond maxPending a publish rejects at once, naming the broker and the limit', async () => {
    const { transport, publisher } = await started({ maxPending: 2, publishTimeoutMs: 1000 });
    transport.drop();
    await settle();
    const waiting = [outcome(publisher.publish(request('a'))), outcome(publisher.publish(request('b')))];
    const overflow = await outcome(publisher.publish(request('c')));
    expect(overflow).toBeInstanceOf(BrokerUnavailableError);
    expect((overflow as Error).message).toBe('2 publishes are already waiting for the broker at amqp://guest:***@broker:5672/ (limit 2); it is not connected');
    transport.reconnect();
    await settle();
    transport.channel.writes.forEach((w) => w.confirm(null));
    expect(await Promise.all(waiting)).toEqual(['ok', 'ok']);
  });

  test('a write that finds its channel closed waits for the next channel instead of failing', async () => {
    const { transport, publisher } = await started();
    const first = transport.channel;
    first.closed = true; // closed, but its close not yet told
    const result = outcome(publisher.publish(request('a')));
    first.end('Channel closed by server: 404 (NOT-FOUND)');
    await settle();
    await settle();
    expect(transport.channels).toHaveLength(2);
    expect(transport.channel.writes.map((w) => w.routingKey)).toEqual(['a']);
    transport.channel.writes[0].confirm(null);
    expect(await result).toBe('ok');
  });
});

describe('Publisher: survivesReconnect false (beat)', () => {
  test('a publish while disconnected rejects at once', async () => {
    const { transport, publisher } = await started({ survivesReconnect: false });
    transport.drop();
    await settle();
    const error = await outcome(publisher.publish(request('a')));
    expect(error).toBeInstanceOf(BrokerUnavailableError);
    expect((error as Error).message).toBe('not connected to the broker at amqp://guest:***@broker:5672/');
  });

  test('when the connection goes, nothing waiting is sent after the reconnect: unconfirmed and unwritten publishes reject at once', async () => {
    const { transport, publisher } = await started({ survivesReconnect: false });
    transport.channel.room = false;
    const sent = outcome(publisher.publish(request('sent')));
    const queued = outcome(publisher.publish(request('queued')));
    await settle();
    expect(transport.channel.writes.map((w) => w.routingKey)).toEqual(['sent']);
    transport.drop();
    const [sentError, queuedError] = await Promise.all([sent, queued]);
    expect(sentError).toBeInstanceOf(BrokerUnavailableError);
    expect(queuedError).toBeInstanceOf(BrokerUnavailableError);
    expect((queuedError as Error).message).toBe(
      'the message to exchange "jobs" was not sent to the broker at amqp://guest:***@broker:5672/: the connection went before it was sent; it is not sent after the reconnect',
    );
    transport.reconnect();
    await settle();
    expect(transport.channels).toHaveLength(2);
    expect(transport.channel.writes).toEqual([]);
    const after = outcome(publisher.publish(request('after')));
    await settle();
    transport.channel.writes[0].confirm(null);
    expect(await after).toBe('ok');
  });
});

describe('Publisher: close', () => {
  test('what waits rejects with ClosedError, and so does every later publish', async () => {
    const { transport, publisher } = await started();
    transport.drop();
    await settle();
    const waiting = outcome(publisher.publish(request('a')));
    await publisher.close();
    const error = await waiting;
    expect(error).toBeInstanceOf(ClosedError);
    expect((error as Error).message).toBe('the publisher is closed');
    expect(await outcome(publisher.publish(request('b')))).toBeInstanceOf(ClosedError);
  });
});
