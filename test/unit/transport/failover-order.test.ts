import { FailoverOrder } from '../../../src/transport/failover-order';

const urls = ['amqp://a/', 'amqp://b/', 'amqp://c/'];

/** The addresses of one round. */
function round(order: FailoverOrder, lost?: string): string[] {
  order.begin(lost);
  const tried: string[] = [];
  for (let url = order.next(); url !== undefined; url = order.next()) tried.push(url);
  return tried;
}

/** A fixed sequence of "random" numbers, for shuffle. */
function sequence(...values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length];
}

describe('FailoverOrder', () => {
  test('in-order: every round from the first address; after a loss, the next address first and the lost one last', () => {
    const order = new FailoverOrder(urls, 'in-order');
    expect(round(order)).toEqual(urls);
    expect(round(order)).toEqual(urls);
    expect(round(order, 'amqp://a/')).toEqual(['amqp://b/', 'amqp://c/', 'amqp://a/']);
    expect(round(order, 'amqp://b/')).toEqual(['amqp://c/', 'amqp://a/', 'amqp://b/']);
    expect(round(order)).toEqual(urls);
  });

  test('round-robin: a cycle, each round beginning after the last address tried', () => {
    const order = new FailoverOrder(urls, 'round-robin');
    order.begin();
    expect(order.next()).toBe('amqp://a/');
    expect(order.next()).toBe('amqp://b/');
    // Connected to b, then lost it: c comes next, then a, then b.
    expect(round(order, 'amqp://b/')).toEqual(['amqp://c/', 'amqp://a/', 'amqp://b/']);
    order.begin();
    expect(order.next()).toBe('amqp://c/');
    order.end();
    expect(order.next()).toBeUndefined();
    expect(round(order)).toEqual(['amqp://a/', 'amqp://b/', 'amqp://c/']);
  });

  test('shuffle: every round a new random order; after a loss the lost address last', () => {
    // Fisher-Yates from the end: j = floor(r * (i + 1)).
    const order = new FailoverOrder(urls, 'shuffle', sequence(0, 0));
    expect(round(order)).toEqual(['amqp://b/', 'amqp://c/', 'amqp://a/']);
    const lostLast = new FailoverOrder(urls, 'shuffle', sequence(0));
    expect(round(lostLast, 'amqp://a/')).toEqual(['amqp://c/', 'amqp://b/', 'amqp://a/']);
  });

  test('shuffle spreads the first address of many processes over every node', () => {
    const firsts = new Map<string, number>();
    for (let i = 0; i < 300; i += 1) {
      const order = new FailoverOrder(urls, 'shuffle');
      order.begin();
      const first = order.next()!;
      firsts.set(first, (firsts.get(first) ?? 0) + 1);
    }
    expect([...firsts.keys()].sort()).toEqual(urls);
    for (const count of firsts.values()) expect(count).toBeGreaterThan(50);
  });

  test('a round over, next() is undefined until the next begins', () => {
    const order = new FailoverOrder(['amqp://only/']);
    expect(order.next()).toBeUndefined();
    order.begin();
    expect(order.next()).toBe('amqp://only/');
    expect(order.next()).toBeUndefined();
    expect(round(order, 'amqp://only/')).toEqual(['amqp://only/']);
  });
});
