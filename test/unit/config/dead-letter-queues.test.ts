import { FILE, problemsOf, resolveOne } from './problems';

/** A document with the queues given and `work` as the default queue. */
const withQueues = (...queues: Array<Record<string, unknown>>) => ({
  exchanges: [{ name: 'jobs', type: 'direct' }],
  queues,
  defaultQueue: 'work',
});

describe('deadLetterQueue', () => {
  test('true declares a fanout exchange and a classic queue named <queue>.dlq, and dead-letters the queue there', () => {
    const definitions = resolveOne(withQueues({ name: 'work', exchange: 'jobs', deadLetterQueue: true }));
    expect(definitions.queues).toEqual([
      {
        name: 'work',
        durable: true,
        autoDelete: false,
        type: 'classic',
        deadLetterExchange: 'work.dlq',
        deadLetterQueue: 'work.dlq',
        arguments: {},
        bindings: [{ exchange: 'jobs', routingKey: 'work', arguments: {} }],
      },
      {
        name: 'work.dlq',
        durable: true,
        autoDelete: false,
        type: 'classic',
        arguments: {},
        bindings: [{ exchange: 'work.dlq', routingKey: '', arguments: {} }],
      },
    ]);
    expect(definitions.exchanges).toContainEqual({ name: 'work.dlq', type: 'fanout', durable: true, autoDelete: false, arguments: {} });
  });

  test('{ name } names them; false asks for none', () => {
    const definitions = resolveOne(
      withQueues({ name: 'work', deadLetterQueue: { name: 'graveyard' } }, { name: 'other', deadLetterQueue: false }),
    );
    expect(definitions.queues.map((q) => [q.name, q.deadLetterExchange])).toEqual([
      ['work', 'graveyard'],
      ['other', undefined],
      ['graveyard', undefined],
    ]);
  });

  test('a -Q or route may name the dead-letter queue, as any declared queue', () => {
    const definitions = resolveOne({ ...withQueues({ name: 'work', deadLetterQueue: true }), routes: { 'x.y': 'work.dlq' } });
    expect(definitions.routes).toEqual([{ pattern: 'x.y', kind: 'exact', queue: 'work.dlq' }]);
  });

  test('cannot stand beside deadLetterExchange, and must be true, false or { name }', () => {
    expect(
      problemsOf(() =>
        resolveOne(withQueues({ name: 'work', deadLetterQueue: true, deadLetterExchange: 'jobs' }, { name: 'b', deadLetterQueue: 'yes' })),
      ),
    ).toEqual([
      `${FILE}: queues[0]: has both deadLetterExchange and deadLetterQueue (expected one of them)`,
      `${FILE}: queues[1].deadLetterQueue: "yes" is not a dead-letter queue (expected true, false, or a mapping with name)`,
    ]);
  });

  test('its name must not be taken by a declared queue or exchange, or another dead-letter queue', () => {
    expect(
      problemsOf(() =>
        resolveOne(
          withQueues(
            { name: 'work', deadLetterQueue: true },
            { name: 'work.dlq' },
            { name: 'b', deadLetterQueue: { name: 'jobs' } },
            { name: 'c', deadLetterQueue: { name: 'shared' } },
            { name: 'd', deadLetterQueue: { name: 'shared' } },
          ),
        ),
      ),
    ).toEqual([
      `${FILE}: queues[0].deadLetterQueue: "work.dlq" is already a declared queue (expected a free name: deadLetterQueue: { name: ... })`,
      `${FILE}: queues[2].deadLetterQueue: "jobs" is already a declared exchange (expected a free name: deadLetterQueue: { name: ... })`,
      `${FILE}: queues[4].deadLetterQueue: "shared" is already the dead-letter queue of "c" (expected a free name: deadLetterQueue: { name: ... })`,
    ]);
  });
});

describe('deliveryLimit', () => {
  test('is kept on quorum and classic queues alike', () => {
    const definitions = resolveOne(withQueues({ name: 'work', type: 'quorum', deliveryLimit: 3 }, { name: 'plain', deliveryLimit: 1 }));
    expect(definitions.queues.map((q) => [q.name, q.deliveryLimit])).toEqual([
      ['work', 3],
      ['plain', 1],
    ]);
  });

  test('must be a whole number of at least 1', () => {
    expect(problemsOf(() => resolveOne(withQueues({ name: 'work', deliveryLimit: 0 }, { name: 'b', deliveryLimit: 2.5 })))).toEqual([
      `${FILE}: queues[0].deliveryLimit: 0 is out of range (expected an integer >= 1)`,
      `${FILE}: queues[1].deliveryLimit: 2.5 is not an integer (expected an integer >= 1)`,
    ]);
  });
});
