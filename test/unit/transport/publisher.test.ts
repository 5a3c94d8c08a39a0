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
  /** Confirm each write by itself, a turn later: as a broker that acks, or nacks, everything. */
  answer: 'ack' | 'nack' | ((write: Write) => 'ack' | 'nack') | undefined;

  publish(_exchange: string, routingKey: string, _content: Buffer, options?: PublishOptions, callback?: (error: Error | null) => void): boolean {
    if (this.throwOnPublish) throw this.throwOnPublish;
    if (this.closed) throw new Error('Channel closed');
    let done = false;
    const write: Write = {
      routingKey,
      options,
      confirm: (error) => {
        if (done) return;
        done = true;
        callback?.(error);
      },
    };
    this.writes.push(write);
    const answer = this.answer;
    if (answer !== undefined) {
      setImmediate(() => {
        if (this.closed) return;
        const verdict = typeof answer === 'function' ? answer(write) : answer;
        write.confirm(verdict === 'ack' ? null : new Error('message nacked'));
      });
    }
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
    channel.answer = this.answers(this.channels.length);
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

/** Waits (at most 5 s) until `check` holds. */
async function waitUntil(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

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
    'a nack while the channel stays open is retried, whatever its error says (%p)',
    async (text) => {
      const { transport, publisher } = await started();
      const result = outcome(publisher.publish(request('a')));
      await settle();
      transport.channel.writes[0].confirm(new Error(text));
      await waitUntil(() => transport.channels[1]?.writes.length === 1);
      transport.channels[1].writes[0].confirm(null);
      expect(await result).toBe('ok');
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

  test('each publish times out publishTimeoutMs after its own call, whatever settled before it', async () => {
    const { transport, publisher } = await started({ publishTimeoutMs: 300 });
    const began = Date.now();
    const first = outcome(publisher.publish(request('first')));
    const confirmed = outcome(publisher.publish(request('confirmed')));
    await new Promise((resolve) => setTimeout(resolve, 150));
    const later = outcome(publisher.publish(request('later')));
    transport.channel.writes[1].confirm(null);
    expect(await confirmed).toBe('ok');
    expect(await first).toBeInstanceOf(BrokerUnavailableError);
    const firstAt = Date.now() - began;
    expect(await later).toBeInstanceOf(BrokerUnavailableError);
    const laterAt = Date.now() - began;
    expect(firstAt).toBeGreaterThanOrEqual(295);
    expect(laterAt).toBeGreaterThanOrEqual(445);
  });

  test('leaves no timer behind once every publish is settled, so an idle process can exit', async () => {
    const timers = (): number => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
    const before = timers();
    const { transport, publisher } = await started({ publishTimeoutMs: 60_000 });
    const results = ['a', 'b', 'c'].map((key) => outcome(publisher.publish(request(key))));
    expect(timers()).toBe(before + 1);
    transport.channel.writes.forEach((w) => w.confirm(null));
    expect(await Promise.all(results)).toEqual(['ok', 'ok', 'ok']);
    expect(timers()).toBe(before);
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

describe('Publisher: a nack retires the channel, not the publish', () => {
  const node2 = 'amqp://guest:***@node2:5672/';

  test('after a nack nothing more is written on that channel; a new one takes the retry and what follows; the old one closes once its own confirms are in', async () => {
    const { transport, publisher } = await started();
    const first = transport.channel;
    const a = outcome(publisher.publish(request('q')));
    const b = outcome(publisher.publish({ ...request('q'), properties: { correlationId: 'b' } }));
    await settle();
    expect(first.writes).toHaveLength(2);
    first.writes[0].confirm(new Error('message nacked'));
    await settle();
    await settle();
    expect(transport.channels).toHaveLength(2);
    // b waits for its confirm on the retired channel, which stays open until it comes.
    expect(first.closed).toBe(false);
    const c = outcome(publisher.publish(request('other')));
    await settle();
    expect(transport.channels[1].writes.map((w) => w.routingKey)).toEqual(['other']);
    expect(first.writes).toHaveLength(2);
    first.writes[1].confirm(null);
    expect(await b).toBe('ok');
    expect(first.closed).toBe(true);
    // The nacked publish goes out again on the new channel after its backoff.
    await waitUntil(() => transport.channels[1].writes.length === 2);
    expect(transport.channels[1].writes.map((w) => w.routingKey)).toEqual(['other', 'q']);
    transport.channels[1].writes.forEach((w) => w.confirm(null));
    expect(await Promise.all([a, c])).toEqual(['ok', 'ok']);
    expect(transport.channels).toHaveLength(2);
  });

  test('publishes to the nacked route wait for its backoff, then go out in call order after the retried one', async () => {
    const { transport, publisher } = await started();
    const first = outcome(publisher.publish({ ...request('q'), properties: { correlationId: '1' } }));
    await settle();
    transport.channel.writes[0].confirm(new Error('message nacked'));
    await settle();
    await settle();
    const second = outcome(publisher.publish({ ...request('q'), properties: { correlationId: '2' } }));
    const elsewhere = outcome(publisher.publish(request('other')));
    await settle();
    expect(transport.channels[1].writes.map((w) => w.routingKey)).toEqual(['other']);
    await waitUntil(() => transport.channels[1].writes.length === 3);
    expect(transport.channels[1].writes.map((w) => w.options?.correlationId)).toEqual(['other', '1', '2']);
    transport.channels[1].writes.forEach((w) => w.confirm(null));
    expect(await Promise.all([first, second, elsewhere])).toEqual(['ok', 'ok', 'ok']);
  });

  test('channels that nack every publish until they are replaced (a quorum leader election): confirmed on the first channel that takes it', async () => {
    const { transport, publisher } = await started();
    transport.answers = (index) => (index < 3 ? 'nack' : 'ack');
    transport.channel.answer = 'nack';
    const results = ['q', 'q', 'q'].map((key, i) => outcome(publisher.publish({ ...request(key), properties: { correlationId: String(i) } })));
    expect(await Promise.all(results)).toEqual(['ok', 'ok', 'ok']);
    expect(transport.channels).toHaveLength(4);
    // Each nacking channel got the three once, was retired and closed; the last took them.
    expect(transport.channels.slice(0, 3).map((c) => [c.writes.length, c.closed])).toEqual([
      [3, true],
      [3, true],
      [3, true],
    ]);
    expect(transport.channels[3].writes.map((w) => w.options?.correlationId)).toEqual(['0', '1', '2']);
  });

  test('nacked until the deadline: one PublishRejectedError naming the node, the route, the nacks and the likely reason', async () => {
    const { transport, publisher } = await started({ publishTimeoutMs: 1000 });
    transport.node = node2;
    transport.answers = () => 'nack';
    transport.channel.answer = 'nack';
    const error = await outcome(publisher.publish(request('a')));
    expect(error).toBeInstanceOf(PublishRejectedError);
    const { rejection, message } = error as PublishRejectedError;
    expect(rejection).toEqual({ node: node2, exchange: 'jobs', routingKey: 'a', nacks: expect.any(Number), channels: rejection?.nacks });
    // 100 + 200 + 400 ms of backoff fit in a second: at least three writes, each on a channel of its own.
    expect(rejection!.nacks).toBeGreaterThanOrEqual(3);
    expect(message).toMatch(
      new RegExp(
        `^the broker at amqp://guest:\\*\\*\\*@node2:5672/ refused the message to exchange "jobs" with routing key "a" ${rejection!.nacks} times on ${rejection!.nacks} channels ` +
          `over \\d+ ms \\(basic.nack; retried until publishTimeoutMs, 1000 ms\\): a quorum queue it routes to has no reachable leader \\(the leader's node is down or an election is under way\\), ` +
          `or a queue it routes to is full \\(maxLength with overflow reject-publish\\)$`,
      ),
    );
    // Every channel that nacked was closed: nothing lingers.
    await settle();
    expect(transport.channels.filter((c) => !c.closed)).toHaveLength(1);
  });

  test('a nack on a channel that had delivered to the route before is final at once (a full queue): PublishRejectedError, and the channel stays', async () => {
    const { transport, publisher } = await started({ publishTimeoutMs: 60_000 });
    let taken = 0;
    transport.channel.answer = () => (taken++ === 0 ? 'ack' : 'nack');
    expect(await outcome(publisher.publish(request('full')))).toBe('ok');
    const error = await outcome(publisher.publish(request('full')));
    expect(error).toBeInstanceOf(PublishRejectedError);
    expect(transport.channels).toHaveLength(1);
    expect(transport.channel.closed).toBe(false);
    const { rejection, message } = error as PublishRejectedError;
    expect(rejection).toEqual({ node: 'amqp://guest:***@broker:5672/', exchange: 'jobs', routingKey: 'full', nacks: 1, channels: 1 });
    expect(message).toMatch(
      /^the broker at amqp:\/\/guest:\*\*\*@broker:5672\/ refused the message to exchange "jobs" with routing key "full" once on 1 channel over \d+ ms \(basic.nack, on a channel that had delivered there before\): a queue it routes to is most likely full \(maxLength with overflow reject-publish\)$/,
    );
    // Another route on the same channel goes on.
    transport.channel.answer = 'ack';
    expect(await outcome(publisher.publish(request('other')))).toBe('ok');
  });

  test('a nacked publish keeps its place in maxPending while it waits', async () => {
    const { transport, publisher } = await started({ maxPending: 1, publishTimeoutMs: 1000 });
    const waiting = outcome(publisher.publish(request('q')));
    await settle();
    transport.channel.writes[0].confirm(new Error('message nacked'));
    await settle();
    await settle();
    const overflow = await outcome(publisher.publish(request('other')));
    expect((overflow as Error).message).toBe('1 publishes are already waiting for the broker at amqp://guest:***@broker:5672/ (limit 1); it is slow to confirm');
    await waitUntil(() => transport.channels[1]?.writes.length === 1);
    transport.channels[1].writes[0].confirm(null);
    expect(await waiting).toBe('ok');
  });

  test('written again after a nack and cut off by the connection loss: BrokerUnavailableError, the broker may have it', async () => {
    const { transport, publisher } = await started();
    const result = outcome(publisher.publish(request('q')));
    await settle();
    transport.channel.writes[0].confirm(new Error('message nacked'));
    await waitUntil(() => transport.channels[1]?.writes.length === 1);
    transport.drop();
    const error = await result;
    expect(error).toBeInstanceOf(BrokerUnavailableError);
    expect((error as Error).message).toMatch(/closed before it confirmed the message to exchange "jobs" \(waited \d+ ms\); it may or may not have it$/);
  });

  test('written again after a nack and not confirmed by the deadline: BrokerUnavailableError, saying it was nacked before', async () => {
    const { transport, publisher } = await started({ publishTimeoutMs: 400 });
    const result = outcome(publisher.publish(request('q')));
    await settle();
    transport.channel.writes[0].confirm(new Error('message nacked'));
    const error = await result;
    expect(transport.channels[1].writes).toHaveLength(1);
    expect(error).toBeInstanceOf(BrokerUnavailableError);
    expect((error as Error).message).toMatch(/did not confirm the message to exchange "jobs" within 400 ms \(waited \d+ ms, connected; nacked once before\)$/);
  });

  test('close() rejects a publish waiting for its backoff with ClosedError', async () => {
    const { transport, publisher } = await started();
    const result = outcome(publisher.publish(request('q')));
    await settle();
    transport.channel.writes[0].confirm(new Error('message nacked'));
    await settle();
    await settle();
    await publisher.close();
    expect(await result).toBeInstanceOf(ClosedError);
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

describe('Publisher: a nack with survivesReconnect false (beat)', () => {
  test('a nacked fire is retried on a new channel of the same connection', async () => {
    const { transport, publisher } = await started({ survivesReconnect: false });
    const result = outcome(publisher.publish(request('q')));
    await settle();
    transport.channel.writes[0].confirm(new Error('message nacked'));
    await waitUntil(() => transport.channels[1]?.writes.length === 1);
    transport.channels[1].writes[0].confirm(null);
    expect(await result).toBe('ok');
  });

  test('when the connection goes while a nacked fire waits for its backoff, it rejects at once and is never sent after the reconnect', async () => {
    const { transport, publisher } = await started({ survivesReconnect: false });
    const result = outcome(publisher.publish(request('q')));
    await settle();
    transport.channel.writes[0].confirm(new Error('message nacked'));
    await settle();
    await settle();
    transport.drop();
    const error = await result;
    expect(error).toBeInstanceOf(BrokerUnavailableError);
    expect((error as Error).message).toBe(
      'the message to exchange "jobs" was not sent to the broker at amqp://guest:***@broker:5672/: the connection went before it was sent; it is not sent after the reconnect',
    );
    transport.reconnect();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(transport.channels.slice(1).flatMap((c) => c.writes)).toEqual([]);
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
