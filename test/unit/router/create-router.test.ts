import type { Definitions, QueueDefinition, RouteDefinition } from '../../../src/config/types';
import { RouteNotFoundError, UnknownQueueError } from '../../../src/errors';
import { createRouter } from '../../../src/router';

function queue(name: string, bindings: { exchange: string; routingKey: string }[] = []): QueueDefinition {
  return {
    name,
    durable: true,
    autoDelete: false,
    type: 'classic',
    arguments: {},
    bindings: bindings.map((b) => ({ ...b, arguments: {} })),
  };
}

function definitions(routes: RouteDefinition[], extraQueues: QueueDefinition[] = []): Definitions {
  return {
    broker: { urls: ['amqp://guest:guest@127.0.0.1:5672/'], failoverStrategy: 'in-order' },
    exchanges: ['default', 'for_task1', 'for_task2', 'events'].map((name) => ({
      name,
      type: 'direct',
      durable: true,
      autoDelete: false,
      arguments: {},
    })),
    queues: [
      queue('default', [{ exchange: 'default', routingKey: 'default' }]),
      queue('for_task1', [{ exchange: 'for_task1', routingKey: 'task_a' }]),
      queue('for_task2', [
        { exchange: 'for_task2', routingKey: 'task_b' },
        { exchange: 'events', routingKey: 'second' },
      ]),
      queue('regexed', [{ exchange: 'default', routingKey: 'regexed' }]),
      ...extraQueues,
    ],
    routes,
    defaultQueue: 'default',
    timezone: 'UTC',
    schedule: [],
    sources: ['definitions/warren.yaml'],
  };
}

const exact = (pattern: string, target: Omit<RouteDefinition, 'pattern' | 'kind'>): RouteDefinition => ({
  pattern,
  kind: 'exact',
  ...target,
});
const glob = (pattern: string, target: Omit<RouteDefinition, 'pattern' | 'kind'>): RouteDefinition => ({
  pattern,
  kind: 'glob',
  ...target,
});
const regex = (pattern: string, target: Omit<RouteDefinition, 'pattern' | 'kind'>): RouteDefinition => ({
  pattern,
  kind: 'regex',
  ...target,
});

describe('createRouter: lookup order', () => {
  it('routes an exact name before a glob, and a glob written before a regex before that regex', () => {
    const routes = [
      glob('app1.*', { queue: 'for_task2' }),
      regex('/^app1\\./', { queue: 'regexed' }),
      exact('app1.tasks1.deal1', { queue: 'for_task1', routingKey: 'task_a' }),
    ];
    const router = createRouter(definitions(routes));
    expect(router.route('app1.tasks1.deal1')).toEqual({ exchange: 'for_task1', routingKey: 'task_a', queue: 'for_task1' });
    expect(router.route('app1.tasks1.other')).toEqual({ exchange: 'for_task2', routingKey: 'task_b', queue: 'for_task2' });

    const withoutGlob = createRouter(definitions(routes.filter((r) => r.kind !== 'glob')));
    expect(withoutGlob.route('app1.tasks1.other')).toEqual({ exchange: 'default', routingKey: 'regexed', queue: 'regexed' });
  });

  it('tries glob and regex routes in file order, so a regex written first wins over a later glob', () => {
    const router = createRouter(
      definitions([regex('/^app1\\./', { queue: 'regexed' }), glob('app1.*', { queue: 'for_task2' })]),
    );
    expect(router.route('app1.tasks1.deal1').queue).toBe('regexed');
  });

  it('takes the first of two matching globs in file order', () => {
    const router = createRouter(
      definitions([glob('app1.tasks2.*', { queue: 'for_task2' }), glob('app1.*', { queue: 'for_task1' })]),
    );
    expect(router.route('app1.tasks2.deal2').queue).toBe('for_task2');
    expect(router.route('app1.tasks3.deal3').queue).toBe('for_task1');
  });

  it('routes a name no route matches to the default queue', () => {
    const router = createRouter(definitions([glob('app1.*', { queue: 'for_task1' })]));
    expect(router.route('other.task')).toEqual({ exchange: 'default', routingKey: 'default', queue: 'default' });
  });

  it('uses a regex unanchored unless the pattern anchors it', () => {
    const router = createRouter(definitions([regex('/tasks2/', { queue: 'for_task2' })]));
    expect(router.route('app9.tasks2.x').queue).toBe('for_task2');
    expect(router.route('app9.tasks3.x').queue).toBe('default');
  });
});

describe('createRouter: glob patterns (fnmatch semantics)', () => {
  const routeTo = (pattern: string, name: string): string | undefined =>
    createRouter(definitions([glob(pattern, { queue: 'for_task1' })])).route(name).queue;

  it('lets * match any sequence, dots included, and nothing', () => {
    expect(routeTo('app1.*', 'app1.tasks2.deep.deal2')).toBe('for_task1');
    expect(routeTo('app1.*', 'app1.')).toBe('for_task1');
    expect(routeTo('*.deal1', 'app1.tasks1.deal1')).toBe('for_task1');
    expect(routeTo('app1.*', 'app10.tasks')).toBe('default');
  });

  it('lets ? match exactly one character', () => {
    expect(routeTo('app?.deal', 'app1.deal')).toBe('for_task1');
    expect(routeTo('app?.deal', 'app.deal')).toBe('default');
    expect(routeTo('app?.deal', 'app12.deal')).toBe('default');
  });

  it('matches [abc], ranges and [!abc] classes', () => {
    expect(routeTo('app[12].deal', 'app2.deal')).toBe('for_task1');
    expect(routeTo('app[12].deal', 'app3.deal')).toBe('default');
    expect(routeTo('app[0-9].deal', 'app7.deal')).toBe('for_task1');
    expect(routeTo('app[!12].deal', 'app3.deal')).toBe('for_task1');
    expect(routeTo('app[!12].deal', 'app1.deal')).toBe('default');
  });

  it('reads a ] right after [ as part of the class, and an unclosed [ literally', () => {
    expect(routeTo('a[]]b', 'a]b')).toBe('for_task1');
    expect(routeTo('a[!]]b', 'a]b')).toBe('default');
    expect(routeTo('a[!]]b', 'axb')).toBe('for_task1');
    expect(routeTo('a[b', 'a[b')).toBe('for_task1');
  });

  it('matches the whole name and treats regex characters literally', () => {
    expect(routeTo('app1.deal', 'xapp1.deal')).toBe('default');
    expect(routeTo('app1.deal', 'app1xdeal')).toBe('default');
    expect(routeTo('a+b(c)', 'a+b(c)')).toBe('for_task1');
    expect(routeTo('a^b$', 'a^b$')).toBe('for_task1');
  });
});

describe('createRouter: targets', () => {
  it('takes exchange and routing key from the first binding of the routed queue', () => {
    const router = createRouter(definitions([exact('t', { queue: 'for_task2' })]));
    expect(router.route('t')).toEqual({ exchange: 'for_task2', routingKey: 'task_b', queue: 'for_task2' });
  });

  it("lets the route's routing key replace the binding's key", () => {
    const router = createRouter(definitions([exact('t', { queue: 'for_task2', routingKey: 'special' })]));
    expect(router.route('t')).toEqual({ exchange: 'for_task2', routingKey: 'special', queue: 'for_task2' });
  });

  it('sends to a queue without bindings through the default exchange, keyed by the queue name', () => {
    const router = createRouter(definitions([exact('t', { queue: 'unbound' })], [queue('unbound')]));
    expect(router.route('t')).toEqual({ exchange: '', routingKey: 'unbound', queue: 'unbound' });
  });

  it('routes to an exchange and routing key with no queue', () => {
    const router = createRouter(definitions([exact('t', { exchange: 'events', routingKey: 'audit' })]));
    expect(router.route('t')).toStrictEqual({ exchange: 'events', routingKey: 'audit' });
  });
});

describe('createRouter: overrides', () => {
  const router = createRouter(definitions([exact('app1.tasks1.deal1', { queue: 'for_task1', routingKey: 'task_a' })]));

  it('replaces the routed target with the queue override', () => {
    expect(router.route('app1.tasks1.deal1', { queue: 'for_task2' })).toEqual({
      exchange: 'for_task2',
      routingKey: 'task_b',
      queue: 'for_task2',
    });
  });

  it('replaces only the exchange with the exchange override', () => {
    expect(router.route('app1.tasks1.deal1', { exchange: 'events' })).toEqual({
      exchange: 'events',
      routingKey: 'task_a',
      queue: 'for_task1',
    });
  });

  it('accepts the default exchange "" as an exchange override', () => {
    expect(router.route('app1.tasks1.deal1', { exchange: '', routingKey: 'for_task1' })).toEqual({
      exchange: '',
      routingKey: 'for_task1',
      queue: 'for_task1',
    });
  });

  it('replaces only the routing key with the routing key override', () => {
    expect(router.route('app1.tasks1.deal1', { routingKey: 'other' })).toEqual({
      exchange: 'for_task1',
      routingKey: 'other',
      queue: 'for_task1',
    });
  });

  it('applies exchange and routing key overrides on top of a queue override', () => {
    expect(router.route('x', { queue: 'for_task2', exchange: 'events', routingKey: 'second' })).toEqual({
      exchange: 'events',
      routingKey: 'second',
      queue: 'for_task2',
    });
  });

  it('rejects an undeclared queue override, listing the declared queues', () => {
    const attempt = () => router.route('app1.tasks1.deal1', { queue: 'nope' });
    expect(attempt).toThrow(UnknownQueueError);
    expect(attempt).toThrow('unknown queue "nope" (declared queues: default, for_task1, for_task2, regexed)');
  });

  it('rejects an undeclared exchange override with a message naming it and the declared ones', () => {
    const attempt = () => router.route('app1.tasks1.deal1', { exchange: 'nope' });
    expect(attempt).toThrow(RouteNotFoundError);
    expect(attempt).toThrow(
      'the exchange override for task "app1.tasks1.deal1" names exchange "nope", which is not declared ' +
        '(declared exchanges: "default", "for_task1", "for_task2", "events"; "" is the default exchange)',
    );
  });
});

describe('createRouter: construction', () => {
  it('fails at construction when a route names an undeclared queue', () => {
    expect(() => createRouter(definitions([glob('app1.*', { queue: 'missing' })]))).toThrow(
      'unknown queue "missing" (declared queues: default, for_task1, for_task2, regexed)',
    );
  });

  it('fails at construction when a route names an undeclared exchange', () => {
    expect(() => createRouter(definitions([glob('app1.*', { exchange: 'missing', routingKey: 'k' })]))).toThrow(
      'route "app1.*" names exchange "missing", which is not declared ' +
        '(declared exchanges: "default", "for_task1", "for_task2", "events"; "" is the default exchange)',
    );
  });

  it('fails at construction when the default queue is not declared', () => {
    const defs = { ...definitions([]), defaultQueue: 'celery' };
    expect(() => createRouter(defs)).toThrow(UnknownQueueError);
  });
});
