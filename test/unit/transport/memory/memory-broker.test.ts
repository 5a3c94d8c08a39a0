import { TopologyMismatchError } from '../../../../src/errors';
import { declareTopology } from '../../../../src/topology';
import type { TransportConfirmChannel } from '../../../../src/transport';
import { MemoryBroker, MemoryTransport, type MemoryChannel } from '../../../../src/transport/memory';
import { collect, memoryConnection, rejection, settle, silent, until } from '../../../support/memory';

let broker: MemoryBroker;
let connections: MemoryTransport[];

beforeEach(() => {
  broker = new MemoryBroker({ name: 'unit' });
  connections = [];
});

afterEach(async () => {
  await Promise.all(connections.map((c) => c.close()));
});

async function connect(): Promise<MemoryTransport> {
  const transport = await memoryConnection(broker);
  connections.push(transport);
  return transport;
}

type TransportChannel = MemoryChannel;

/** A channel on a connection of its own, typed as the memory channel (amqplib's optional declare options). */
async function channel(): Promise<MemoryChannel> {
  return (await (await connect()).openChannel()) as MemoryChannel;
}

async function confirmChannel(): Promise<TransportConfirmChannel> {
  return (await connect()).openConfirmChannel();
}

const body = (text: string) => Buffer.from(text);

/** Publishes on a confirm channel and resolves with the confirm's outcome ('ack' or the error's message). */
function confirmed(ch: TransportConfirmChannel, exchange: string, routingKey: string, text: string, options = {}): Promise<string> {
  return new Promise((resolve) => ch.publish(exchange, routingKey, body(text), options, (err) => resolve(err ? err.message : 'ack')));
}

describe('memory broker: routing', () => {
  test('the default exchange routes to the queue named by the routing key; nothing else is reached', async () => {
    const ch = await channel();
    await ch.assertQueue('a');
    await ch.assertQueue('b');
    ch.publish('', 'a', body('to a'));
    ch.publish('', 'nowhere', body('lost'));
    await settle();
    expect(broker.messages('a').map((m) => m.content.toString())).toEqual(['to a']);
    expect(broker.queue('b')?.messageCount).toBe(0);
  });

  test('direct, fanout and topic exchanges route by their bindings; topic * is one word, # any number', async () => {
    const ch = await channel();
    await ch.assertExchange('d', 'direct', {});
    await ch.assertExchange('f', 'fanout', {});
    await ch.assertExchange('t', 'topic', {});
    for (const q of ['q1', 'q2', 'q3']) await ch.assertQueue(q);
    await ch.bindQueue('q1', 'd', 'task_a', {});
    await ch.bindQueue('q1', 'f', '', {});
    await ch.bindQueue('q2', 'f', 'ignored', {});
    await ch.bindQueue('q2', 't', 'app.*.deal', {});
    await ch.bindQueue('q3', 't', 'app.#', {});
    ch.publish('d', 'task_a', body('direct'));
    ch.publish('d', 'task_b', body('unbound key'));
    ch.publish('f', 'anything', body('fanout'));
    ch.publish('t', 'app.tasks1.deal', body('topic one word'));
    ch.publish('t', 'app.x.y.deal', body('topic two words'));
    ch.publish('t', 'app', body('topic no word after'));
    await settle();
    const bodies = (q: string) => broker.messages(q).map((m) => m.content.toString());
    expect(bodies('q1')).toEqual(['direct', 'fanout']);
    expect(bodies('q2')).toEqual(['fanout', 'topic one word']);
    expect(bodies('q3')).toEqual(['topic one word', 'topic two words', 'topic no word after']);
  });

  test('headers exchanges match all (the default) or any; binding keys starting with x- are skipped unless x-match ends in -with-x', async () => {
    const ch = await channel();
    await ch.assertExchange('h', 'headers', {});
    for (const q of ['all', 'any', 'xkeys', 'withx']) await ch.assertQueue(q);
    await ch.bindQueue('all', 'h', '', { a: '1', b: '2' });
    await ch.bindQueue('any', 'h', '', { 'x-match': 'any', a: '1', b: '2' });
    await ch.bindQueue('xkeys', 'h', '', { 'x-match': 'all', 'x-k': 'v' });
    await ch.bindQueue('withx', 'h', '', { 'x-match': 'all-with-x', 'x-k': 'v' });
    ch.publish('h', '', body('both'), { headers: { a: '1', b: '2' } });
    ch.publish('h', '', body('only a'), { headers: { a: '1' } });
    ch.publish('h', '', body('wrong value'), { headers: { a: '2', b: '3' } });
    ch.publish('h', '', body('x header'), { headers: { 'x-k': 'v', a: '0' } });
    await settle();
    const bodies = (q: string) => broker.messages(q).map((m) => m.content.toString());
    expect(bodies('all')).toEqual(['both']);
    expect(bodies('any')).toEqual(['both', 'only a']);
    // No non-x keys to compare: "all" of none matches every message.
    expect(bodies('xkeys')).toEqual(['both', 'only a', 'wrong value', 'x header']);
    expect(bodies('withx')).toEqual(['x header']);
  });

  test('exchange-to-exchange bindings route on; an alternate exchange takes what its exchange cannot route; a message reaches a queue once', async () => {
    const ch = await channel();
    await ch.assertExchange('spare', 'fanout', {});
    await ch.assertExchange('front', 'direct', { arguments: { 'alternate-exchange': 'spare' } });
    await ch.assertExchange('back', 'topic', {});
    await ch.assertQueue('routed');
    await ch.assertQueue('unrouted');
    await ch.bindExchange('back', 'front', 'k', {});
    await ch.bindQueue('routed', 'back', '#', {});
    await ch.bindQueue('routed', 'front', 'k', {});
    await ch.bindQueue('unrouted', 'spare', '', {});
    ch.publish('front', 'k', body('via back and direct'));
    ch.publish('front', 'other', body('to the alternate'));
    await settle();
    expect(broker.messages('routed').map((m) => m.content.toString())).toEqual(['via back and direct']);
    expect(broker.messages('unrouted').map((m) => m.content.toString())).toEqual(['to the alternate']);
  });

  test('a published Buffer and headers are copied: changing them afterwards changes nothing in the queue', async () => {
    const ch = await channel();
    await ch.assertQueue('q');
    const content = body('original');
    const headers = { list: [1, 2] };
    ch.publish('', 'q', content, { headers });
    content.write('CHANGED!');
    headers.list.push(3);
    await settle();
    const [stored] = broker.messages('q');
    expect(stored.content.toString()).toBe('original');
    expect(stored.properties.headers).toEqual({ list: [1, 2] });
  });

  test('a header amqplib cannot encode throws from publish, and nothing is sent', async () => {
    const ch = await channel();
    await ch.assertQueue('q');
    expect(() => ch.publish('', 'q', body('x'), { headers: { f: () => 1 } })).toThrow(/Unknown type to encode: function/);
    await settle();
    expect(broker.queue('q')?.messageCount).toBe(0);
  });
});

describe('memory broker: declaring', () => {
  test('declaring again with the same settings is idempotent and reports the queue\'s messages and consumers', async () => {
    const ch = await channel();
    await ch.assertQueue('q', { durable: true, arguments: { 'x-max-priority': 10 } });
    ch.publish('', 'q', body('one'));
    await collect(ch, 'q');
    ch.publish('', 'q', body('two'));
    await settle();
    const again = await ch.assertQueue('q', { durable: true, arguments: { 'x-max-priority': 10 } });
    expect(again).toEqual({ queue: 'q', messageCount: 0, consumerCount: 1 });
  });

  test('a queue declared with another argument fails with 406 and RabbitMQ\'s "inequivalent arg" text, and the channel closes', async () => {
    const ch = await channel();
    await ch.assertQueue('q', { arguments: { 'x-max-priority': 10 } });
    const events: string[] = [];
    ch.on('error', (err) => events.push(`error: ${err.message}`));
    ch.on('close', () => events.push('close'));
    const error = await rejection(ch.assertQueue('q', {}));
    expect(error.code).toBe(406);
    expect(error.message).toBe(
      'Operation failed: QueueDeclare; 406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - inequivalent arg ' +
        "'x-max-priority' for queue 'q' in vhost '/': received none but current is the value '10' of type 'byte'\"",
    );
    expect(events).toEqual([
      'error: Channel closed by server: 406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - inequivalent arg ' +
        "'x-max-priority' for queue 'q' in vhost '/': received none but current is the value '10' of type 'byte'\"",
      'close',
    ]);
    expect(await rejection(ch.checkQueue('q'))).toMatchObject({ name: 'IllegalOperationError', message: 'Channel closed' });
    expect(() => ch.publish('', 'q', body('x'))).toThrow('Channel closed');
  });

  test('durable, auto_delete, a differing value and a quorum type are each named as RabbitMQ names them', async () => {
    const setup = await channel();
    await setup.assertQueue('durable', { durable: true });
    await setup.assertQueue('ttl', { arguments: { 'x-message-ttl': 1000 } });
    await setup.assertQueue('qq', { arguments: { 'x-queue-type': 'quorum' } });
    await setup.assertExchange('x', 'direct', {});
    const refusal = async (declare: (ch: TransportChannel) => Promise<unknown>) => (await rejection(declare(await channel()))).message.replace(/^.*PRECONDITION_FAILED - /, '');
    expect(await refusal((ch) => ch.assertQueue('durable', { durable: false }))).toBe(
      "inequivalent arg 'durable' for queue 'durable' in vhost '/': received 'false' but current is 'true'\"",
    );
    expect(await refusal((ch) => ch.assertQueue('durable', { autoDelete: true }))).toBe(
      "inequivalent arg 'auto_delete' for queue 'durable' in vhost '/': received 'true' but current is 'false'\"",
    );
    expect(await refusal((ch) => ch.assertQueue('ttl', { arguments: { 'x-message-ttl': 500 } }))).toBe(
      "inequivalent arg 'x-message-ttl' for queue 'ttl' in vhost '/': received '500' but current is '1000'\"",
    );
    expect(await refusal((ch) => ch.assertQueue('qq', {}))).toBe(
      "inequivalent arg 'x-queue-type' for queue 'qq' in vhost '/': received none but current is the value 'quorum' of type 'longstr'\"",
    );
    expect(await refusal((ch) => ch.assertExchange('x', 'fanout', {}))).toBe(
      "inequivalent arg 'type' for exchange 'x' in vhost '/': received 'fanout' but current is 'direct'\"",
    );
  });

  test('arguments RabbitMQ does not compare may differ', async () => {
    const ch = await channel();
    await ch.assertQueue('q', { arguments: { 'x-custom': 1 } });
    await expect(ch.assertQueue('q', { arguments: { 'x-custom': 2 } })).resolves.toMatchObject({ queue: 'q' });
  });

  test('declareTopology turns the 406 into TopologyMismatchError naming the queue and the friendly option', async () => {
    const ch = await channel();
    await ch.assertQueue('jobs', { durable: true, autoDelete: false, arguments: { 'x-max-priority': 10 } });
    const topology = { exchanges: [], queues: [{ name: 'jobs', options: { durable: true, autoDelete: false, arguments: {} } }], bindings: [] };
    const error = await rejection(declareTopology(await channel(), topology));
    expect(error).toBeInstanceOf(TopologyMismatchError);
    expect(error.message).toBe(
      'queue "jobs" exists on the broker with other settings (argument x-max-priority (maxPriority) differs): ' +
        "warren declared none, the broker has the value '10' of type 'byte' (vhost '/')",
    );
  });

  test('a passive check of a missing queue or exchange fails with 404 and closes the channel', async () => {
    const ch = await channel();
    const error = await rejection(ch.checkQueue('nope'));
    expect(error.code).toBe(404);
    expect(error.message).toBe('Operation failed: QueueDeclare; 404 (NOT-FOUND) with message "NOT_FOUND - no queue \'nope\' in vhost \'/\'"');
    const ch2 = await channel();
    await expect(ch2.bindQueue('nope', 'amq.direct', 'k', {})).rejects.toMatchObject({ code: 404, message: expect.stringContaining("no queue 'nope'") });
  });

  test('invalid queue arguments and quorum properties are refused with 406', async () => {
    const refused = async (declare: (ch: TransportChannel) => Promise<unknown>) => rejection(declare(await channel()));
    expect((await refused((ch) => ch.assertQueue('q', { arguments: { 'x-message-ttl': -1 } }))).message).toContain(
      "invalid arg 'x-message-ttl' for queue 'q' in vhost '/': {value_negative,-1}",
    );
    expect((await refused((ch) => ch.assertQueue('qq', { durable: false, arguments: { 'x-queue-type': 'quorum' } }))).message).toContain(
      "invalid property 'non-durable' for queue 'qq' in vhost '/'",
    );
    expect((await refused((ch) => ch.assertExchange('amq.mine', 'direct', {}))).code).toBe(403);
  });
});

describe('memory broker: exclusive queues', () => {
  test('another connection gets 405 RESOURCE_LOCKED; the queue goes when its owner\'s connection closes', async () => {
    const owner = await connect();
    const other = await connect();
    await (await owner.openChannel()).assertQueue('lock', { exclusive: true, durable: false });
    const error = await rejection((await other.openChannel()).assertQueue('lock', { exclusive: true, durable: false }));
    expect(error.code).toBe(405);
    expect(error.message).toContain("RESOURCE_LOCKED - cannot obtain exclusive access to locked queue 'lock' in vhost '/'");
    // The owner may use it; another connection may not even check it.
    await expect((await owner.openChannel()).checkQueue('lock')).resolves.toMatchObject({ queue: 'lock' });
    await expect((await other.openChannel()).checkQueue('lock')).rejects.toMatchObject({ code: 405 });
    await owner.close();
    expect(broker.queue('lock')).toBeUndefined();
    await expect((await other.openChannel()).assertQueue('lock', { exclusive: true, durable: false })).resolves.toMatchObject({ queue: 'lock' });
  });

  test('an exclusive declare of a queue declared non-exclusive gets the same 405', async () => {
    await (await channel()).assertQueue('shared', { durable: false });
    await expect((await channel()).assertQueue('shared', { durable: false, exclusive: true })).rejects.toMatchObject({ code: 405 });
  });

  test('an exclusive consumer keeps others out with 403', async () => {
    const ch = await channel();
    await ch.assertQueue('q');
    await ch.consume('q', () => undefined, { exclusive: true });
    await expect((await channel()).consume('q', () => undefined)).rejects.toMatchObject({
      code: 403,
      message: expect.stringContaining("ACCESS_REFUSED - queue 'q' in vhost '/' in exclusive use"),
    });
  });
});

describe('memory broker: consumers, prefetch and settlement', () => {
  test('deliveries are asynchronous: nothing reaches the consumer while publish runs', async () => {
    const ch = await channel();
    await ch.assertQueue('q');
    const { messages } = await collect(ch, 'q', { noAck: true });
    ch.publish('', 'q', body('x'));
    expect(messages).toHaveLength(0);
    await until(() => messages.length === 1, 'the delivery');
  });

  test('a per-consumer prefetch of 2 holds the third message until one is acked', async () => {
    const ch = await channel();
    await ch.assertQueue('q');
    await ch.prefetch(2, false);
    for (const text of ['1', '2', '3', '4']) ch.publish('', 'q', body(text));
    const { messages, bodies } = await collect(ch, 'q');
    await settle();
    expect(bodies()).toEqual(['1', '2']);
    expect(broker.queue('q')).toMatchObject({ messageCount: 2, unackedCount: 2 });
    ch.ack(messages[0]!);
    await until(() => messages.length === 3, 'the third delivery');
    await settle();
    expect(bodies()).toEqual(['1', '2', '3']);
  });

  test('a global prefetch is shared by every consumer of the channel', async () => {
    const ch = await channel();
    await ch.assertQueue('a');
    await ch.assertQueue('b');
    await ch.prefetch(3, true);
    for (let i = 0; i < 3; i += 1) {
      ch.publish('', 'a', body(`a${i}`));
      ch.publish('', 'b', body(`b${i}`));
    }
    const a = await collect(ch, 'a');
    const b = await collect(ch, 'b');
    await settle();
    expect(a.messages.length + b.messages.length).toBe(3);
  });

  test('consumers of one queue get messages round-robin', async () => {
    const ch = await channel();
    await ch.assertQueue('q');
    const one = await collect(ch, 'q', { noAck: true });
    const two = await collect(ch, 'q', { noAck: true });
    for (const text of ['1', '2', '3', '4']) ch.publish('', 'q', body(text));
    await until(() => one.messages.length + two.messages.length === 4, 'four deliveries');
    expect(one.bodies()).toEqual(['1', '3']);
    expect(two.bodies()).toEqual(['2', '4']);
  });

  test('a nack with requeue puts the message back at its place, flagged redelivered', async () => {
    const ch = await channel();
    await ch.assertQueue('q');
    await ch.prefetch(1, false);
    for (const text of ['first', 'second', 'third']) ch.publish('', 'q', body(text));
    const { messages } = await collect(ch, 'q');
    await until(() => messages.length === 1, 'the first delivery');
    ch.nack(messages[0]!, false, true);
    await until(() => messages.length === 2, 'the redelivery');
    expect(messages[1]!.content.toString()).toBe('first');
    expect(messages[1]!.fields.redelivered).toBe(true);
    expect(messages[0]!.fields.redelivered).toBe(false);
    ch.ack(messages[1]!);
    await until(() => messages.length === 3, 'the next delivery');
    expect(messages[2]!.content.toString()).toBe('second');
    expect(messages[2]!.fields.redelivered).toBe(false);
  });

  test('an ack with allUpTo settles every delivery up to its tag, and only those', async () => {
    const ch = await channel();
    await ch.assertQueue('q');
    for (const text of ['1', '2', '3']) ch.publish('', 'q', body(text));
    const { messages } = await collect(ch, 'q');
    await until(() => messages.length === 3, 'three deliveries');
    ch.ack(messages[1]!, true);
    await settle();
    expect(broker.queue('q')).toMatchObject({ messageCount: 0, unackedCount: 1 });
    await ch.close();
    expect(broker.messages('q').map((m) => m.content.toString())).toEqual(['3']);
  });

  test('acking a delivery tag the channel does not hold closes the channel with 406', async () => {
    const ch = await channel();
    await ch.assertQueue('q');
    ch.publish('', 'q', body('x'));
    const { messages } = await collect(ch, 'q');
    await until(() => messages.length === 1, 'the delivery');
    const errors: Error[] = [];
    ch.on('error', (err) => errors.push(err));
    ch.ack(messages[0]!);
    ch.ack(messages[0]!);
    await until(() => errors.length === 1, 'the channel error');
    expect(errors[0]).toMatchObject({ code: 406, message: expect.stringContaining('PRECONDITION_FAILED - unknown delivery tag 1') });
    // The first ack counted: nothing comes back.
    expect(broker.queue('q')).toMatchObject({ messageCount: 0, unackedCount: 0 });
  });

  test('closing a channel redelivers its unacked messages to another consumer, flagged redelivered', async () => {
    const first = await channel();
    await first.assertQueue('q');
    for (const text of ['1', '2']) first.publish('', 'q', body(text));
    const held = await collect(first, 'q');
    await until(() => held.messages.length === 2, 'both deliveries');
    const second = await channel();
    const taken = await collect(second, 'q');
    await first.close();
    await until(() => taken.messages.length === 2, 'the redeliveries');
    expect(taken.bodies()).toEqual(['1', '2']);
    expect(taken.messages.every((m) => m!.fields.redelivered)).toBe(true);
    // Acking on the closed channel throws, as amqplib does.
    expect(() => first.ack(held.messages[0]!)).toThrow('Channel closed');
  });

  test('a consumer whose queue is deleted is told with null; its unacked deliveries may still be acked', async () => {
    const ch = await channel();
    await ch.assertQueue('q');
    ch.publish('', 'q', body('x'));
    const { messages } = await collect(ch, 'q');
    await until(() => messages.length === 1, 'the delivery');
    broker.deleteQueue('q');
    await until(() => messages.length === 2, 'the cancel');
    expect(messages[1]).toBeNull();
    const errors: Error[] = [];
    ch.on('error', (err) => errors.push(err));
    ch.ack(messages[0]!);
    await settle();
    expect(errors).toEqual([]);
  });

  test('an auto-delete queue goes with its last consumer', async () => {
    const ch = await channel();
    await ch.assertQueue('temp', { durable: false, autoDelete: true });
    const { consumerTag } = await collect(ch, 'temp');
    expect(broker.queue('temp')).toBeDefined();
    await ch.cancel(consumerTag);
    expect(broker.queue('temp')).toBeUndefined();
  });

  test('a queue with x-expires goes once nobody used it for that long', async () => {
    const ch = await channel();
    await ch.assertQueue('unused', { durable: false, arguments: { 'x-expires': 20 } });
    await until(() => broker.queue('unused') === undefined, 'the queue to expire');
  });
});

describe('memory broker: confirms and returns', () => {
  test('a routed publish is acked; an unroutable mandatory one is returned (before its ack) with 312 NO_ROUTE', async () => {
    const ch = await confirmChannel();
    await ch.assertQueue('q');
    const events: string[] = [];
    ch.on('return', (message) => events.push(`return ${message.fields.replyCode} ${message.fields.replyText} ${message.content.toString()}`));
    const routed = confirmed(ch, '', 'q', 'routed', { mandatory: true });
    const unroutable = confirmed(ch, '', 'nowhere', 'lost', { mandatory: true }).then((outcome) => events.push(`confirm ${outcome}`));
    expect(await routed).toBe('ack');
    await unroutable;
    expect(events).toEqual(['return 312 NO_ROUTE lost', 'confirm ack']);
  });

  test('a full queue with x-overflow reject-publish nacks the publish', async () => {
    const ch = await confirmChannel();
    await ch.assertQueue('small', { arguments: { 'x-max-length': 1, 'x-overflow': 'reject-publish' } });
    expect(await confirmed(ch, '', 'small', 'fits')).toBe('ack');
    expect(await confirmed(ch, '', 'small', 'too many')).toBe('message nacked');
    expect(broker.messages('small').map((m) => m.content.toString())).toEqual(['fits']);
  });

  test('by default a full queue drops its oldest message instead', async () => {
    const ch = await confirmChannel();
    await ch.assertQueue('small', { arguments: { 'x-max-length': 2 } });
    for (const text of ['1', '2', '3']) expect(await confirmed(ch, '', 'small', text)).toBe('ack');
    expect(broker.messages('small').map((m) => m.content.toString())).toEqual(['2', '3']);
  });

  test('a publish to a missing exchange closes the channel with 404; its confirm fails with "channel closed"', async () => {
    const ch = await confirmChannel();
    const errors: Error[] = [];
    ch.on('error', (err) => errors.push(err));
    expect(await confirmed(ch, 'missing', 'k', 'x')).toBe('channel closed');
    expect(errors.map((e) => e.message)).toEqual([
      'Channel closed by server: 404 (NOT-FOUND) with message "NOT_FOUND - no exchange \'missing\' in vhost \'/\'"',
    ]);
  });

  test('a message over the broker\'s maximum size closes the channel with 406', async () => {
    const small = new MemoryBroker({ maxMessageBytes: 4 });
    const transport = await memoryConnection(small);
    connections.push(transport);
    const ch = await transport.openConfirmChannel();
    await ch.assertQueue('q');
    const errors: Error[] = [];
    ch.on('error', (err) => errors.push(err));
    expect(await confirmed(ch, '', 'q', 'too big')).toBe('channel closed');
    expect(errors[0].message).toContain('PRECONDITION_FAILED - message size 7 is larger than configured max size 4');
  });

  test('unconfirmed publishes fail with "channel closed" when the connection drops', async () => {
    const ch = await confirmChannel();
    await ch.assertQueue('q');
    const outcome = confirmed(ch, '', 'q', 'x');
    broker.dropConnections();
    expect(await outcome).toBe('channel closed');
  });
});

describe('memory broker: TTL, dead letters, priorities', () => {
  test('an expired message is dead-lettered with its routing key and an x-death saying why', async () => {
    const ch = await channel();
    await ch.assertExchange('dlx', 'direct', {});
    await ch.assertQueue('dead');
    await ch.bindQueue('dead', 'dlx', 'original.key', {});
    await ch.assertQueue('waiting', { arguments: { 'x-message-ttl': 10, 'x-dead-letter-exchange': 'dlx' } });
    await ch.assertExchange('in', 'direct', {});
    await ch.bindQueue('waiting', 'in', 'original.key', {});
    ch.publish('in', 'original.key', body('late'), { headers: { mine: 'kept' } });
    await until(() => broker.queue('dead')!.messageCount === 1, 'the dead letter');
    const [dead] = broker.messages('dead');
    expect(dead.content.toString()).toBe('late');
    expect(dead.exchange).toBe('dlx');
    expect(dead.routingKey).toBe('original.key');
    expect(dead.properties.headers).toMatchObject({
      mine: 'kept',
      'x-first-death-reason': 'expired',
      'x-first-death-queue': 'waiting',
      'x-first-death-exchange': 'in',
      'x-death': [{ count: 1, reason: 'expired', queue: 'waiting', exchange: 'in', 'routing-keys': ['original.key'], time: { '!': 'timestamp', value: expect.any(Number) } }],
    });
    expect(broker.queue('waiting')!.messageCount).toBe(0);
  });

  test('a message rejected without requeue goes to the dead-letter exchange with the dead-letter routing key', async () => {
    const ch = await channel();
    await ch.assertQueue('dead');
    await ch.assertQueue('work', { arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'dead' } });
    ch.publish('', 'work', body('bad'));
    const { messages } = await collect(ch, 'work');
    await until(() => messages.length === 1, 'the delivery');
    ch.nack(messages[0]!, false, false);
    await until(() => broker.queue('dead')!.messageCount === 1, 'the dead letter');
    expect(broker.messages('dead')[0].properties.headers?.['x-death']).toEqual([
      expect.objectContaining({ count: 1, reason: 'rejected', queue: 'work', 'routing-keys': ['work'] }),
    ]);
  });

  test('a per-message expiration counts too, and a message dead-lettered back into its own queue by expiry is dropped (a cycle)', async () => {
    const ch = await channel();
    await ch.assertQueue('loop', { arguments: { 'x-dead-letter-exchange': '' } });
    ch.publish('', 'loop', body('x'), { expiration: '5' });
    await until(() => broker.queue('loop')!.messageCount === 1, 'the message');
    await until(() => broker.queue('loop')!.messageCount === 0, 'the expiry');
    // Had it been dead-lettered back in, it would be there again (without an expiration).
    await settle();
    expect(broker.queue('loop')!.messageCount).toBe(0);
  });

  test('x-max-priority delivers higher priorities first, in order within a priority', async () => {
    const ch = await channel();
    await ch.assertQueue('p', { arguments: { 'x-max-priority': 5 } });
    ch.publish('', 'p', body('low 1'));
    ch.publish('', 'p', body('high'), { priority: 9 });
    ch.publish('', 'p', body('mid'), { priority: 3 });
    ch.publish('', 'p', body('low 2'), { priority: 0 });
    await settle();
    expect(broker.messages('p').map((m) => m.content.toString())).toEqual(['high', 'mid', 'low 1', 'low 2']);
  });
});

describe('memory broker: quorum queues', () => {
  test('x-delivery-limit 2: delivered 3 times (x-delivery-count absent, 1, 2), then dead-lettered as delivery_limit', async () => {
    const ch = await channel();
    await ch.assertQueue('dead');
    await ch.assertQueue('qq', { arguments: { 'x-queue-type': 'quorum', 'x-delivery-limit': 2, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'dead' } });
    ch.publish('', 'qq', body('poison'));
    const counts: unknown[] = [];
    await ch.consume('qq', (message) => {
      counts.push(message!.properties.headers?.['x-delivery-count']);
      ch.nack(message!, false, true);
    });
    await until(() => broker.queue('dead')!.messageCount === 1, 'the dead letter');
    expect(counts).toEqual([undefined, 1, 2]);
    expect(broker.messages('dead')[0].properties.headers?.['x-death']).toEqual([expect.objectContaining({ reason: 'delivery_limit', queue: 'qq' })]);
  });

  test('a consume with a global prefetch closes the connection with 540 NOT_IMPLEMENTED; the transport reconnects', async () => {
    const transport = await connect();
    const ch = (await transport.openChannel()) as MemoryChannel;
    await ch.assertQueue('qq', { arguments: { 'x-queue-type': 'quorum' } });
    await ch.prefetch(5, true);
    let reconnected = false;
    transport.onConnect(() => {
      reconnected = true;
    });
    const error = await rejection(ch.consume('qq', () => undefined));
    expect(error.code).toBe(540);
    expect(error.message).toBe(
      'Connection closed: 540 (NOT-IMPLEMENTED) with message "NOT_IMPLEMENTED - queue \'qq\' in vhost \'/\' does not support global qos"',
    );
    await until(() => reconnected, 'the reconnect');
    // A per-consumer prefetch is fine.
    const again = await transport.openChannel();
    await again.prefetch(5, false);
    await expect(again.consume('qq', () => undefined)).resolves.toHaveProperty('consumerTag');
  });
});

describe('memory transport: connection loss', () => {
  test('dropConnections closes every channel, requeues unacked messages and reconnects', async () => {
    const transport = await connect();
    const ch = await transport.openChannel();
    await ch.assertQueue('q');
    ch.publish('', 'q', body('held'));
    const { messages } = await collect(ch, 'q');
    await until(() => messages.length === 1, 'the delivery');
    let closed = false;
    ch.on('close', () => {
      closed = true;
      // Channels close before the transport is reconnected, as amqplib's do before the manager reconnects.
      expect(transport.isConnected()).toBe(false);
    });
    const reconnected = new Promise<void>((resolve) => transport.onConnect(resolve));
    broker.dropConnections();
    await reconnected;
    expect(closed).toBe(true);
    expect(broker.messages('q')).toEqual([expect.objectContaining({ redelivered: true })]);
    await expect(transport.openChannel()).resolves.toBeDefined();
  });

  test('while the broker is stopped, openChannel throws BrokerUnavailableError; after start the transport reconnects', async () => {
    const transport = await connect();
    broker.stop();
    await until(() => !transport.isConnected(), 'the disconnect');
    await expect(transport.openChannel()).rejects.toMatchObject({ code: 'WARREN_BROKER_UNAVAILABLE', message: 'not connected to the broker at memory://unit' });
    const reconnected = new Promise<void>((resolve) => transport.onConnect(resolve));
    broker.start();
    await reconnected;
    expect(transport.isConnected()).toBe(true);
  });

  test('work on a temporary channel cut off by a lost connection fails with BrokerUnavailableError; a refusal keeps its code', async () => {
    const transport = await connect();
    const cut = transport.withTemporaryChannel(async (ch) => {
      await ch.assertQueue('q', {});
      broker.dropConnections();
      await ch.assertQueue('r', {});
    });
    await expect(cut).rejects.toMatchObject({
      code: 'WARREN_BROKER_UNAVAILABLE',
      message: 'the connection to the broker at memory://unit was lost during work on a channel of its own (Channel ended, no reply will be forthcoming)',
    });
    await until(() => transport.isConnected(), 'the reconnect');
    await expect(transport.withTemporaryChannel((ch) => ch.checkQueue('missing'))).rejects.toMatchObject({ code: 404 });
  });

  test('a restart keeps durable queues with their persistent messages and loses the rest', async () => {
    const ch = await channel();
    await ch.assertQueue('durable', { durable: true });
    await ch.assertQueue('transient', { durable: false });
    ch.publish('', 'durable', body('persistent'), { deliveryMode: 2 });
    ch.publish('', 'durable', body('transient'));
    await settle();
    broker.stop();
    broker.start();
    expect(broker.queueNames()).toEqual(['durable']);
    expect(broker.messages('durable').map((m) => m.content.toString())).toEqual(['persistent']);
  });

  test('start() on a stopped broker waits for it, and says so when it does not come', async () => {
    broker.stop();
    const waiting = new MemoryTransport({ broker, logger: silent, connectTimeoutMs: 20 });
    await expect(waiting.start()).rejects.toMatchObject({
      code: 'WARREN_BROKER_UNAVAILABLE',
      message: 'no broker answered at memory://unit within 20 ms (the memory broker is stopped)',
    });
    const patient = new MemoryTransport({ broker, logger: silent, connectTimeoutMs: 5000 });
    connections.push(patient);
    const started = patient.start();
    broker.start();
    await started;
    expect(patient.isConnected()).toBe(true);
  });
});

describe('memory broker: observing', () => {
  test('observe() reports publishes, settlements and refusals in the order they happen', async () => {
    const events: string[] = [];
    broker.observe((event) => events.push(event.type === 'refused' ? `refused ${event.code}` : `${event.type} ${'queue' in event ? event.queue : event.queues.join(',')}`));
    const ch = await channel();
    await ch.assertQueue('q');
    for (const text of ['1', '2', '3']) ch.publish('', 'q', body(text));
    const { messages } = await collect(ch, 'q');
    await until(() => messages.length === 3, 'three deliveries');
    ch.ack(messages[0]!);
    ch.nack(messages[1]!, false, true);
    ch.nack(messages[2]!, false, false);
    ch.ack(messages[0]!);
    await until(() => events.includes('refused 406'), 'the refusal');
    expect(events).toEqual(['published q', 'published q', 'published q', 'acked q', 'requeued q', 'rejected q', 'dead-lettered q', 'refused 406']);
    // The requeued one waits in the queue: its consumer's channel closed before it came round again.
    expect(broker.messages('q')).toEqual([expect.objectContaining({ redelivered: true, content: body('2') })]);
  });

  test('dropConnection(id) cuts one connection: the owner of an exclusive queue, found by the queue\'s owner', async () => {
    const owner = await connect();
    const other = await connect();
    await (await owner.openChannel()).assertQueue('lock', { exclusive: true, durable: false });
    const id = broker.queue('lock')!.owner!;
    expect(broker.connectionList().map((c) => c.id)).toContain(id);
    expect(broker.dropConnection(id)).toBe(true);
    expect(broker.queue('lock')).toBeUndefined();
    await until(() => !owner.isConnected() || broker.connectionList().length === 2, 'the drop');
    expect(other.isConnected()).toBe(true);
  });
});
