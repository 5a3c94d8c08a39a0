import type { Channel } from 'amqplib';
import { BrokerUnavailableError, TopologyMismatchError } from '../../../src/errors';
import { buildTopology, declareTopology, type Topology, type TopologyChannel } from '../../../src/topology';
import { sampleDefinitions } from './fixtures';

// Compile-time contract: amqplib's Channel is a TopologyChannel as it is.
const acceptsAmqplibChannel = (channel: Channel): TopologyChannel => channel;
void acceptsAmqplibChannel;

type Call = readonly [method: string, ...args: unknown[]];

/** A channel that records every call and fails the call `failOn` picks with `error`. */
function fakeChannel(failOn?: (call: Call) => boolean, error?: Error) {
  const calls: Call[] = [];
  const record = (call: Call) => {
    calls.push(call);
    if (failOn?.(call)) return Promise.reject(error);
    return undefined;
  };
  const channel: TopologyChannel = {
    assertExchange: async (...args) => record(['assertExchange', ...args]) ?? { exchange: args[0] },
    assertQueue: async (...args) => record(['assertQueue', ...args]) ?? { queue: args[0], messageCount: 3, consumerCount: 1 },
    bindQueue: async (...args) => record(['bindQueue', ...args]) ?? {},
    bindExchange: async (...args) => record(['bindExchange', ...args]) ?? {},
  };
  return { channel, calls };
}

/** An error shaped like the one amqplib 2.x rejects a declare with. */
function brokerError(message: string, code: number): Error {
  return Object.assign(new Error(message), { code });
}

describe('declareTopology', () => {
  const topology = buildTopology(sampleDefinitions());

  it('declares every exchange, then every queue, then every binding, with the wire settings', async () => {
    const { channel, calls } = fakeChannel();
    await declareTopology(channel, topology);
    expect(calls).toStrictEqual([
      ['assertExchange', 'default', 'direct', { durable: true, autoDelete: false, arguments: {} }],
      ['assertExchange', 'for_task1', 'direct', { durable: true, autoDelete: false, arguments: {} }],
      ['assertExchange', 'for_task2', 'direct', { durable: true, autoDelete: false, arguments: {} }],
      ['assertExchange', 'dead', 'fanout', { durable: true, autoDelete: false, arguments: {} }],
      ['assertExchange', 'events', 'topic', { durable: true, autoDelete: false, arguments: {} }],
      ['assertQueue', 'default', { durable: true, autoDelete: false, arguments: {} }],
      [
        'assertQueue',
        'for_task1',
        { durable: true, autoDelete: false, arguments: { 'x-max-priority': 10, 'x-dead-letter-exchange': 'dead' } },
      ],
      ['assertQueue', 'for_task2', { durable: true, autoDelete: false, arguments: { 'x-queue-type': 'quorum' } }],
      ['assertQueue', 'dead_letters', { durable: true, autoDelete: false, arguments: {} }],
      ['bindQueue', 'default', 'default', 'default', {}],
      ['bindQueue', 'for_task1', 'for_task1', 'task_a', {}],
      ['bindQueue', 'for_task2', 'for_task2', 'task_b', {}],
      ['bindQueue', 'for_task2', 'events', 'task.#', { note: 'second' }],
      ['bindQueue', 'dead_letters', 'dead', '', {}],
    ]);
  });

  it('reports what it declared, with the counts the broker gave for each queue', async () => {
    const { channel } = fakeChannel();
    const report = await declareTopology(channel, topology);
    expect(report.exchanges.map((x) => x.name)).toEqual(['default', 'for_task1', 'for_task2', 'dead', 'events']);
    expect(report.queues).toStrictEqual([
      { name: 'default', messageCount: 3, consumerCount: 1 },
      { name: 'for_task1', messageCount: 3, consumerCount: 1 },
      { name: 'for_task2', messageCount: 3, consumerCount: 1 },
      { name: 'dead_letters', messageCount: 3, consumerCount: 1 },
    ]);
    expect(report.bindings).toHaveLength(5);
  });

  it('declares the same calls again on a second run', async () => {
    const first = fakeChannel();
    const second = fakeChannel();
    await declareTopology(first.channel, topology);
    await declareTopology(second.channel, topology);
    expect(second.calls).toStrictEqual(first.calls);
  });

  it('sends every declare of a step before the first answer, and the next step only after the last answer', async () => {
    const answers: Array<() => void> = [];
    const log: string[] = [];
    const pending = (call: string, value: unknown) => {
      log.push(call);
      return new Promise<never>((resolve) => answers.push(() => resolve(value as never)));
    };
    const channel: TopologyChannel = {
      assertExchange: (name) => pending(`exchange ${name}`, {}),
      assertQueue: (name) => pending(`queue ${name}`, { messageCount: 0, consumerCount: 0 }),
      bindQueue: (queue, exchange) => pending(`bind ${queue} ${exchange}`, {}),
      bindExchange: (destination) => pending(`bind-exchange ${destination}`, {}),
    };
    const declared = declareTopology(channel, topology);
    const answerAll = async (expected: number) => {
      await new Promise((resolve) => setImmediate(resolve));
      expect(answers).toHaveLength(expected);
      answers.splice(0).forEach((answer) => answer());
    };
    await answerAll(5);
    expect(log).toEqual(['exchange default', 'exchange for_task1', 'exchange for_task2', 'exchange dead', 'exchange events']);
    await answerAll(4);
    await answerAll(5);
    await declared;
    expect(log.slice(5, 9)).toEqual(['queue default', 'queue for_task1', 'queue for_task2', 'queue dead_letters']);
  });

  it('spreads the declares of each step over several channels in turn', async () => {
    const channels = [fakeChannel(), fakeChannel(), fakeChannel()];
    const report = await declareTopology(channels.map((c) => c.channel), topology);
    expect(channels.map((c) => c.calls.map(([method, name]) => `${method} ${String(name)}`))).toEqual([
      ['assertExchange default', 'assertExchange dead', 'assertQueue default', 'assertQueue dead_letters', 'bindQueue default', 'bindQueue for_task2'],
      ['assertExchange for_task1', 'assertExchange events', 'assertQueue for_task1', 'bindQueue for_task1', 'bindQueue dead_letters'],
      ['assertExchange for_task2', 'assertQueue for_task2', 'bindQueue for_task2'],
    ]);
    expect(report.queues.map((q) => q.name)).toEqual(['default', 'for_task1', 'for_task2', 'dead_letters']);
  });

  it('after a failure sends nothing of the next step and rethrows the failure the broker answered', async () => {
    const boom = brokerError('Operation failed: QueueDeclare; 404 (NOT-FOUND) with message "boom"', 404);
    const ended = new Error('Channel ended, no reply will be forthcoming');
    const { channel, calls } = fakeChannel(([method, name]) => method === 'assertQueue' && name !== 'default', boom);
    const failing: TopologyChannel = {
      ...channel,
      // Declares after the refused one fail with the channel the broker closed.
      assertQueue: (name, options) => (name === 'for_task2' || name === 'dead_letters' ? Promise.reject(ended) : channel.assertQueue(name, options)),
    };
    await expect(declareTopology(failing, topology)).rejects.toBe(boom);
    expect(calls.some(([method]) => method === 'bindQueue')).toBe(false);
  });
});

/*
 * Each text below is what amqplib 2.3.1 reported for a declare that RabbitMQ 3.10.8 refused,
 * provoked on the local broker and copied verbatim.
 */
describe('declareTopology: 406 PRECONDITION_FAILED becomes TopologyMismatchError', () => {
  const mismatches: [title: string, brokerText: string, message: string][] = [
    [
      'a queue declared without the priority it has',
      `Operation failed: QueueDeclare; 406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - inequivalent arg 'x-max-priority' for queue 'wtn1mu2r.prio' in vhost '/': received none but current is the value '10' of type 'byte'"`,
      `queue "wtn1mu2r.prio" exists on the broker with other settings (argument x-max-priority (maxPriority) differs): warren declared none, the broker has the value '10' of type 'byte' (vhost '/')`,
    ],
    [
      'a queue declared with another priority',
      `Operation failed: QueueDeclare; 406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - inequivalent arg 'x-max-priority' for queue 'wtn1mu2r.prio' in vhost '/': received '5' but current is '10'"`,
      `queue "wtn1mu2r.prio" exists on the broker with other settings (argument x-max-priority (maxPriority) differs): warren declared '5', the broker has '10' (vhost '/')`,
    ],
    [
      'a queue declared with a priority it lacks',
      `Operation failed: QueueDeclare; 406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - inequivalent arg 'x-max-priority' for queue 'wtn1mu2r.plain' in vhost '/': received the value '5' of type 'byte' but current is none"`,
      `queue "wtn1mu2r.plain" exists on the broker with other settings (argument x-max-priority (maxPriority) differs): warren declared the value '5' of type 'byte', the broker has none (vhost '/')`,
    ],
    [
      'a durable queue declared transient',
      `Operation failed: QueueDeclare; 406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - inequivalent arg 'durable' for queue 'wtn1mu2r.dur' in vhost '/': received 'false' but current is 'true'"`,
      `queue "wtn1mu2r.dur" exists on the broker with other settings (argument durable differs): warren declared 'false', the broker has 'true' (vhost '/')`,
    ],
    [
      'a queue declared auto-delete',
      `Operation failed: QueueDeclare; 406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - inequivalent arg 'auto_delete' for queue 'wtn1mu2r.ad' in vhost '/': received 'true' but current is 'false'"`,
      `queue "wtn1mu2r.ad" exists on the broker with other settings (argument auto_delete (autoDelete) differs): warren declared 'true', the broker has 'false' (vhost '/')`,
    ],
    [
      'a queue declared with another message TTL',
      `Operation failed: QueueDeclare; 406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - inequivalent arg 'x-message-ttl' for queue 'wtn1mu2r.ttl' in vhost '/': received '3000' but current is '2000'"`,
      `queue "wtn1mu2r.ttl" exists on the broker with other settings (argument x-message-ttl (messageTtl) differs): warren declared '3000', the broker has '2000' (vhost '/')`,
    ],
    [
      'a quorum queue declared classic',
      `Operation failed: QueueDeclare; 406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue 'wtn1mu2r.quorum' in vhost '/': received none but current is the value 'quorum' of type 'longstr'"`,
      `queue "wtn1mu2r.quorum" exists on the broker with other settings (argument x-queue-type (type) differs): warren declared none, the broker has the value 'quorum' of type 'longstr' (vhost '/')`,
    ],
    [
      'a classic queue declared quorum',
      `Operation failed: QueueDeclare; 406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue 'wtn1mu2r.plain' in vhost '/': received the value 'quorum' of type 'longstr' but current is none"`,
      `queue "wtn1mu2r.plain" exists on the broker with other settings (argument x-queue-type (type) differs): warren declared the value 'quorum' of type 'longstr', the broker has none (vhost '/')`,
    ],
    [
      'a queue declared with another dead-letter exchange',
      `Operation failed: QueueDeclare; 406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - inequivalent arg 'x-dead-letter-exchange' for queue 'wtn1mu2r.dlx' in vhost '/': received 'other' but current is 'dlx'"`,
      `queue "wtn1mu2r.dlx" exists on the broker with other settings (argument x-dead-letter-exchange (deadLetterExchange) differs): warren declared 'other', the broker has 'dlx' (vhost '/')`,
    ],
    [
      'an exchange declared with another type',
      `Operation failed: ExchangeDeclare; 406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - inequivalent arg 'type' for exchange 'wtn1mu2r.x' in vhost '/': received 'topic' but current is 'direct'"`,
      `exchange "wtn1mu2r.x" exists on the broker with other settings (argument type differs): warren declared 'topic', the broker has 'direct' (vhost '/')`,
    ],
    [
      'a durable exchange declared transient',
      `Operation failed: ExchangeDeclare; 406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - inequivalent arg 'durable' for exchange 'wtn1mu2r.xd' in vhost '/': received 'false' but current is 'true'"`,
      `exchange "wtn1mu2r.xd" exists on the broker with other settings (argument durable differs): warren declared 'false', the broker has 'true' (vhost '/')`,
    ],
    [
      'an exchange declared without its alternate exchange',
      `Operation failed: ExchangeDeclare; 406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - inequivalent arg 'alternate-exchange' for exchange 'wt1xnnj7.x' in vhost '/': received none but current is the value 'ae' of type 'longstr'"`,
      `exchange "wt1xnnj7.x" exists on the broker with other settings (argument alternate-exchange differs): warren declared none, the broker has the value 'ae' of type 'longstr' (vhost '/')`,
    ],
    [
      "the channel's own close error",
      `Channel closed by server: 406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - inequivalent arg 'auto_delete' for exchange 'wt1xnnj7.x' in vhost '/': received 'true' but current is 'false'"`,
      `exchange "wt1xnnj7.x" exists on the broker with other settings (argument auto_delete (autoDelete) differs): warren declared 'true', the broker has 'false' (vhost '/')`,
    ],
  ];

  it.each(mismatches)('names the object and argument for %s', async (_title, brokerText, message) => {
    const cause = brokerError(brokerText, 406);
    const { channel } = fakeChannel(([method]) => method !== 'bindQueue', cause);
    const failure = await declareTopology(channel, buildTopology(sampleDefinitions())).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(TopologyMismatchError);
    expect((failure as TopologyMismatchError).message).toBe(message);
    expect((failure as TopologyMismatchError).code).toBe('WARREN_TOPOLOGY_MISMATCH');
    expect((failure as TopologyMismatchError).cause).toBe(cause);
  });

  it("says which node a durable classic queue lives on when the broker answers that its node of the cluster is down (404)", async () => {
    const cause = brokerError(
      `Operation failed: QueueDeclare; 404 (NOT-FOUND) with message "NOT_FOUND - home node 'rq1@localhost' of durable queue 'warren.delay.unroutable' in vhost '/' is down or inaccessible"`,
      404,
    );
    const { channel } = fakeChannel(([method]) => method === 'assertQueue', cause);
    const failure = await declareTopology(channel, buildTopology(sampleDefinitions())).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(BrokerUnavailableError);
    expect((failure as BrokerUnavailableError).code).toBe('WARREN_BROKER_UNAVAILABLE');
    expect((failure as Error).message).toBe(
      `queue "warren.delay.unroutable" (vhost '/') lives on node rq1@localhost of the cluster, which is down or unreachable: ` +
        'a classic queue is on one node only and cannot be used until that node is back (a quorum queue is replicated)',
    );
    expect((failure as Error).cause).toBe(cause);
  });

  it('fills kind, objectName and argument from the broker text', async () => {
    const { channel } = fakeChannel(
      () => true,
      brokerError(mismatches[0][1], 406),
    );
    const failure = (await declareTopology(channel, buildTopology(sampleDefinitions())).catch((e: unknown) => e)) as TopologyMismatchError;
    expect([failure.kind, failure.objectName, failure.argument]).toEqual(['queue', 'wtn1mu2r.prio', 'x-max-priority (maxPriority)']);
  });

  it.each([
    [
      'a 406 that is not about an existing object',
      `Operation failed: QueueDeclare; 406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - invalid property 'non-durable' for queue 'wt1xnnj7.qq' in vhost '/'"`,
      406,
    ],
    [
      'a 404 binding to a missing exchange',
      `Operation failed: QueueBind; 404 (NOT-FOUND) with message "NOT_FOUND - no exchange 'wtn1mu2r.nope' in vhost '/'"`,
      404,
    ],
  ])('rethrows %s as the channel reported it', async (_title, brokerText, code) => {
    const cause = brokerError(brokerText, code);
    const { channel } = fakeChannel(() => true, cause);
    await expect(declareTopology(channel, buildTopology(sampleDefinitions()))).rejects.toBe(cause);
  });
});

describe('declareTopology on an empty topology', () => {
  it('declares nothing and reports nothing', async () => {
    const empty: Topology = { exchanges: [], queues: [], bindings: [] };
    const { channel, calls } = fakeChannel();
    expect(await declareTopology(channel, empty)).toStrictEqual({ exchanges: [], queues: [], bindings: [], exchangeBindings: [] });
    expect(calls).toEqual([]);
  });
});

describe('declareTopology with exchange-to-exchange bindings', () => {
  it('binds exchanges after the queue bindings, and reports them', async () => {
    const topology: Topology = {
      exchanges: [],
      queues: [],
      bindings: [{ queue: 'q', exchange: 'a', routingKey: '', arguments: {} }],
      exchangeBindings: [{ destination: 'b', source: 'a', routingKey: 'k', arguments: { 'x-match': 'all', h: '1' } }],
    };
    const { channel, calls } = fakeChannel();
    const report = await declareTopology(channel, topology);
    expect(calls).toStrictEqual([
      ['bindQueue', 'q', 'a', '', {}],
      ['bindExchange', 'b', 'a', 'k', { 'x-match': 'all', h: '1' }],
    ]);
    expect(report.exchangeBindings).toEqual(topology.exchangeBindings);
  });
});
