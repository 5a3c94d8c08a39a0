import {
  delayedRoute,
  delayTargetBinding,
  delayTopology,
  DELAY_LEVELS,
  delayLevelQueues,
  isDelayHeader,
  MAX_DELAY_SECONDS,
  type Topology,
} from '../../../src/topology';

/**
 * Follows a message through `topology` as the broker would: a headers exchange routes by its
 * `x-match: all` bindings, a queue holds the message for its x-message-ttl and dead-letters it
 * to its x-dead-letter-exchange. Returns the queues it waited in and where it left the levels.
 */
function walk(topology: Topology, exchange: string, headers: Readonly<Record<string, string>>): { waited: string[]; totalMs: number; reached: string } {
  const matches = (args: Readonly<Record<string, unknown>>): boolean =>
    Object.entries(args).every(([key, value]) => key === 'x-match' || headers[key] === value);
  const waited: string[] = [];
  let totalMs = 0;
  let at = exchange;
  for (let hops = 0; hops < 100; hops += 1) {
    const toQueue = topology.bindings.filter((b) => b.exchange === at && matches(b.arguments));
    const toExchange = (topology.exchangeBindings ?? []).filter((b) => b.source === at && matches(b.arguments));
    if (toQueue.length + toExchange.length !== 1) return { waited, totalMs, reached: at };
    if (toExchange.length === 1) {
      at = toExchange[0].destination;
      continue;
    }
    const queue = topology.queues.find((q) => q.name === toQueue[0].queue)!;
    waited.push(queue.name);
    totalMs += queue.options.arguments['x-message-ttl'] as number;
    at = queue.options.arguments['x-dead-letter-exchange'] as string;
  }
  throw new Error('the message went round in circles');
}

describe('delayTopology', () => {
  const topology = delayTopology();

  it('has one durable headers exchange and one durable classic queue per level, named by its TTL', () => {
    const levels = Array.from({ length: DELAY_LEVELS }, (_, k) => `warren.delay.${2 ** k}s`);
    expect(levels[0]).toBe('warren.delay.1s');
    expect(levels[DELAY_LEVELS - 1]).toBe('warren.delay.2097152s');
    expect(topology.queues.map((q) => q.name)).toEqual(['warren.delay.unroutable', ...levels]);
    expect(topology.exchanges.map((x) => [x.name, x.type])).toEqual([
      ['warren.delay.unroutable', 'fanout'],
      ['warren.delay.deliver', 'headers'],
      ...levels.map((name) => [name, 'headers']),
    ]);
    for (const spec of [...topology.queues, ...topology.exchanges]) expect(spec.options).toMatchObject({ durable: true, autoDelete: false });
  });

  it('gives each level queue a per-queue TTL of 2^k seconds, dead-lettering to the level below, the last to deliver', () => {
    const queue = (name: string) => topology.queues.find((q) => q.name === name)!.options.arguments;
    expect(queue('warren.delay.1s')).toStrictEqual({ 'x-message-ttl': 1000, 'x-dead-letter-exchange': 'warren.delay.deliver' });
    expect(queue('warren.delay.2s')).toStrictEqual({ 'x-message-ttl': 2000, 'x-dead-letter-exchange': 'warren.delay.1s' });
    expect(queue('warren.delay.1024s')).toStrictEqual({ 'x-message-ttl': 1_024_000, 'x-dead-letter-exchange': 'warren.delay.512s' });
  });

  it('routes bit k = 1 into the level queue and bit k = 0 on to the level below', () => {
    expect(topology.bindings).toContainEqual({
      queue: 'warren.delay.8s', exchange: 'warren.delay.8s', routingKey: '', arguments: { 'x-match': 'all', 'warren-delay-bit-3': '1' },
    });
    expect(topology.exchangeBindings).toContainEqual({
      destination: 'warren.delay.4s', source: 'warren.delay.8s', routingKey: '', arguments: { 'x-match': 'all', 'warren-delay-bit-3': '0' },
    });
    expect(topology.exchangeBindings).toContainEqual({
      destination: 'warren.delay.deliver', source: 'warren.delay.1s', routingKey: '', arguments: { 'x-match': 'all', 'warren-delay-bit-0': '0' },
    });
  });

  it('keeps what the deliver exchange cannot route in the unroutable queue', () => {
    expect(topology.exchanges.find((x) => x.name === 'warren.delay.deliver')!.options.arguments).toStrictEqual({
      'alternate-exchange': 'warren.delay.unroutable',
    });
    expect(topology.bindings).toContainEqual({ queue: 'warren.delay.unroutable', exchange: 'warren.delay.unroutable', routingKey: '', arguments: {} });
  });

  it('takes another prefix', () => {
    const other = delayTopology({ prefix: 'test.x.delay' });
    expect(other.queues.map((q) => q.name)).toContain('test.x.delay.4s');
    expect(other.exchanges.map((x) => x.name)).toContain('test.x.delay.deliver');
  });

  it('covers at least 30 days in one pass', () => {
    expect(MAX_DELAY_SECONDS).toBe(2 ** 22 - 1);
    expect(MAX_DELAY_SECONDS).toBeGreaterThanOrEqual(30 * 86_400);
  });
});

describe('quorum delay levels', () => {
  const quorum = delayTopology({ queueType: 'quorum' });
  const classic = delayTopology();
  const queue = (name: string): Readonly<Record<string, unknown>> => quorum.queues.find((q) => q.name === name)!.options.arguments;

  it('are a set of their own, warren.delay.quorum.<2^k>s, beside the classic names', () => {
    const levels = Array.from({ length: DELAY_LEVELS }, (_, k) => `warren.delay.quorum.${2 ** k}s`);
    expect(delayLevelQueues({ queueType: 'quorum' })).toEqual(levels);
    expect(delayLevelQueues()).toEqual(Array.from({ length: DELAY_LEVELS }, (_, k) => `warren.delay.${2 ** k}s`));
    expect(quorum.queues.map((q) => q.name)).toEqual(['warren.delay.quorum.unroutable', ...levels]);
    expect(quorum.exchanges.map((x) => x.name)).toEqual(['warren.delay.unroutable', 'warren.delay.deliver', ...levels]);
    // No level exchange or queue of one set is one of the other: a message routed into one set stays in it.
    const classicNames = new Set([...classic.queues.map((q) => q.name), ...classic.exchanges.map((x) => x.name)]);
    expect(levels.filter((name) => classicNames.has(name))).toEqual([]);
  });

  it('are quorum queues with a per-queue TTL that dead-letter at least once to the level below, the last to the shared deliver exchange', () => {
    const quorumArgs = { 'x-queue-type': 'quorum', 'x-dead-letter-strategy': 'at-least-once', 'x-overflow': 'reject-publish' };
    expect(queue('warren.delay.quorum.1s')).toStrictEqual({ 'x-message-ttl': 1000, 'x-dead-letter-exchange': 'warren.delay.deliver', ...quorumArgs });
    expect(queue('warren.delay.quorum.2s')).toStrictEqual({ 'x-message-ttl': 2000, 'x-dead-letter-exchange': 'warren.delay.quorum.1s', ...quorumArgs });
    expect(queue('warren.delay.quorum.unroutable')).toStrictEqual({ 'x-queue-type': 'quorum' });
    expect(quorum.queues.every((q) => q.options.durable && !q.options.autoDelete)).toBe(true);
  });

  it('share the deliver exchange, declared exactly as the classic set declares it, and the unroutable exchange', () => {
    const shared = (t: typeof quorum): unknown => t.exchanges.filter((x) => x.name === 'warren.delay.deliver' || x.name === 'warren.delay.unroutable');
    expect(shared(quorum)).toStrictEqual(shared(classic));
    expect(quorum.bindings).toContainEqual({ queue: 'warren.delay.quorum.unroutable', exchange: 'warren.delay.unroutable', routingKey: '', arguments: {} });
    expect(delayTargetBinding({ exchange: 'jobs', routingKey: 'k' }, { queueType: 'quorum' })).toStrictEqual(delayTargetBinding({ exchange: 'jobs', routingKey: 'k' }));
  });

  it.each([1, 5, 6, 3600, MAX_DELAY_SECONDS])('a %i s delay waits in quorum levels only, exactly that long, and leaves at deliver', (seconds) => {
    const route = delayedRoute({ exchange: 'jobs', routingKey: 'k' }, seconds * 1000, { queueType: 'quorum' });
    expect(route.exchange).toBe(`warren.delay.quorum.${2 ** Math.floor(Math.log2(seconds))}s`);
    const { waited, totalMs, reached } = walk(quorum, route.exchange, route.headers);
    expect(totalMs).toBe(seconds * 1000);
    expect(waited.every((name) => name.startsWith('warren.delay.quorum.'))).toBe(true);
    expect(reached).toBe('warren.delay.deliver');
    // The headers are the same in both sets: only the entry exchange differs.
    expect(route.headers).toStrictEqual(delayedRoute({ exchange: 'jobs', routingKey: 'k' }, seconds * 1000).headers);
  });
});

describe('delayedRoute', () => {
  const topology = delayTopology();
  const target = { exchange: 'jobs', routingKey: 'task_a' };

  it('enters at the level of the highest bit, with one header per bit below it, keeping the routing key', () => {
    expect(delayedRoute(target, 5000)).toStrictEqual({
      exchange: 'warren.delay.4s',
      routingKey: 'task_a',
      headers: { 'warren-delay-exchange': 'jobs', 'warren-delay-bit-0': '1', 'warren-delay-bit-1': '0', 'warren-delay-bit-2': '1' },
      seconds: 5,
    });
  });

  it('rounds up to whole seconds, so nothing arrives early, and delays at least one second', () => {
    expect(delayedRoute(target, 1001).seconds).toBe(2);
    expect(delayedRoute(target, 2000).seconds).toBe(2);
    expect(delayedRoute(target, 1).seconds).toBe(1);
    expect(delayedRoute(target, 0).seconds).toBe(1);
  });

  it('caps one pass at the longest delay the levels give', () => {
    const route = delayedRoute(target, 90 * 86_400_000);
    expect(route.seconds).toBe(MAX_DELAY_SECONDS);
    expect(route.exchange).toBe('warren.delay.2097152s');
  });

  it('names a queue instead of an exchange for the default exchange', () => {
    expect(delayedRoute({ exchange: '', routingKey: 'q1' }, 1000).headers).toStrictEqual({ 'warren-delay-queue': 'q1', 'warren-delay-bit-0': '1' });
  });

  it.each([1, 2, 3, 5, 7, 8, 60, 61, 3600, 86_399, 30 * 86_400, MAX_DELAY_SECONDS])(
    'a %i s delay waits in the levels of its set bits, for exactly that long, and leaves at deliver',
    (seconds) => {
      const route = delayedRoute(target, seconds * 1000);
      const { waited, totalMs, reached } = walk(topology, route.exchange, route.headers);
      expect(totalMs).toBe(seconds * 1000);
      expect(waited).toHaveLength(seconds.toString(2).split('').filter((bit) => bit === '1').length);
      expect(reached).toBe('warren.delay.deliver');
    },
  );

  it('marks its headers as delay headers, and nothing else', () => {
    const route = delayedRoute(target, 5000);
    expect(Object.keys(route.headers).every(isDelayHeader)).toBe(true);
    expect(['task', 'id', 'eta', 'x-death', 'warren-other'].some(isDelayHeader)).toBe(false);
  });
});

describe('delayTargetBinding', () => {
  it('binds the deliver exchange to the destination exchange by its name', () => {
    expect(delayTargetBinding({ exchange: 'jobs', routingKey: 'task_a' })).toStrictEqual({
      destination: 'jobs', source: 'warren.delay.deliver', routingKey: '', arguments: { 'x-match': 'all', 'warren-delay-exchange': 'jobs' },
    });
  });

  it('binds the queue itself for the default exchange, which cannot be bound', () => {
    expect(delayTargetBinding({ exchange: '', routingKey: 'q1' })).toStrictEqual({
      queue: 'q1', exchange: 'warren.delay.deliver', routingKey: '', arguments: { 'x-match': 'all', 'warren-delay-queue': 'q1' },
    });
  });

  it('matches exactly the messages delayedRoute sends to that destination', () => {
    const binding = delayTargetBinding({ exchange: 'jobs', routingKey: 'k' });
    const own = delayedRoute({ exchange: 'jobs', routingKey: 'k' }, 3000).headers;
    const other = delayedRoute({ exchange: 'jobs2', routingKey: 'k' }, 3000).headers;
    const matches = (headers: Record<string, string>) =>
      Object.entries(binding.arguments).every(([key, value]) => key === 'x-match' || headers[key] === value);
    expect([matches(own), matches(other)]).toEqual([true, false]);
  });
});
