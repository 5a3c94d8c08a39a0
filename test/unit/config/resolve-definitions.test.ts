import {
  DEFAULT_BROKER_URL,
  type BindingDefinition,
  resolveDefinitions,
  type Definitions,
  type QueueDefinition,
  type ScheduleEntryDefinition,
} from '../../../src/config';
import { example, FILE, problemsOf, resolveOne } from './problems';

function entry(definitions: Definitions, name: string): ScheduleEntryDefinition {
  const found = definitions.schedule.find((candidate) => candidate.name === name);
  if (found === undefined) throw new Error(`no schedule entry ${name}`);
  return found;
}

/** A queue with every default filled in, bound as given. */
function queueWithDefaults(name: string, bindings: BindingDefinition[]): QueueDefinition {
  return { name, durable: true, autoDelete: false, type: 'classic', arguments: {}, bindings };
}

describe('defaults', () => {
  test('fills in exchange and queue defaults: durable, not auto-delete, classic, no arguments', () => {
    const definitions = resolveOne({
      exchanges: [{ name: 'jobs', type: 'topic' }],
      queues: [{ name: 'work', exchange: 'jobs', routingKey: 'work.#' }],
      defaultQueue: 'work',
    });
    expect(definitions.exchanges).toEqual([{ name: 'jobs', type: 'topic', durable: true, autoDelete: false, arguments: {} }]);
    expect(definitions.queues).toEqual([queueWithDefaults('work', [{ exchange: 'jobs', routingKey: 'work.#', arguments: {} }])]);
  });

  test('binds with the queue name when the routing key is left out', () => {
    const definitions = resolveOne({
      exchanges: [{ name: 'jobs', type: 'direct' }],
      queues: [{ name: 'work', exchange: 'jobs' }, { name: 'more', bindings: [{ exchange: 'jobs' }, { exchange: 'jobs', routingKey: 'x' }] }],
      defaultQueue: 'work',
    });
    expect(definitions.queues.map((queue) => queue.bindings.map((binding) => binding.routingKey))).toEqual([['work'], ['more', 'x']]);
  });

  test('leaves a queue without exchange or bindings unbound', () => {
    const definitions = resolveOne({ queues: [{ name: 'direct-only' }], defaultQueue: 'direct-only' });
    expect(definitions.queues[0].bindings).toEqual([]);
    expect(definitions.exchanges).toEqual([]);
  });

  test('adds Celery\'s own celery exchange, queue and binding when the default queue is left out', () => {
    const definitions = resolveOne({});
    expect(definitions.defaultQueue).toBe('celery');
    expect(definitions.exchanges).toEqual([{ name: 'celery', type: 'direct', durable: true, autoDelete: false, arguments: {} }]);
    expect(definitions.queues).toEqual([queueWithDefaults('celery', [{ exchange: 'celery', routingKey: 'celery', arguments: {} }])]);
  });

  test('adds only the celery queue when a celery exchange is declared, binding it there', () => {
    const definitions = resolveOne({ exchanges: [{ name: 'celery', type: 'topic', durable: false }] });
    expect(definitions.exchanges).toEqual([{ name: 'celery', type: 'topic', durable: false, autoDelete: false, arguments: {} }]);
    expect(definitions.queues.map((queue) => [queue.name, queue.bindings])).toEqual([
      ['celery', [{ exchange: 'celery', routingKey: 'celery', arguments: {} }]],
    ]);
  });

  test('adds nothing when the celery queue is declared', () => {
    const definitions = resolveOne({ queues: [{ name: 'celery', type: 'quorum' }] });
    expect(definitions.exchanges).toEqual([]);
    expect(definitions.queues.map((queue) => [queue.name, queue.type])).toEqual([['celery', 'quorum']]);
  });

  test('lets routes and schedule entries name the added celery queue', () => {
    const definitions = resolveOne({ routes: { 'a.*': 'celery' }, schedule: { tick: { task: 'a.b', every: 1, queue: 'celery' } } });
    expect(definitions.routes[0].queue).toBe('celery');
    expect(definitions.schedule[0].queue).toBe('celery');
  });

  test('uses UTC, the default broker and an empty routes table and schedule for an empty file', () => {
    const definitions = resolveOne(null);
    expect(definitions.timezone).toBe('UTC');
    expect(definitions.broker).toEqual({ urls: [DEFAULT_BROKER_URL], failoverStrategy: 'in-order' });
    expect(definitions.routes).toEqual([]);
    expect(definitions.schedule).toEqual([]);
    expect(definitions.sources).toEqual([FILE]);
  });
});

describe('queues', () => {
  test('keeps friendly options, with durations turned into milliseconds', () => {
    const definitions = resolveOne({
      exchanges: [{ name: 'dlx', type: 'fanout' }],
      queues: [
        {
          name: 'work',
          maxPriority: 10,
          messageTtl: '1.5m',
          maxLength: 1000,
          deadLetterExchange: 'dlx',
          deadLetterRoutingKey: 'dead',
          expires: 3_600_000,
          arguments: { 'x-single-active-consumer': true },
        },
      ],
      defaultQueue: 'work',
    });
    expect(definitions.queues[0]).toEqual<QueueDefinition>({
      name: 'work',
      durable: true,
      autoDelete: false,
      type: 'classic',
      maxPriority: 10,
      messageTtl: 90_000,
      maxLength: 1000,
      deadLetterExchange: 'dlx',
      deadLetterRoutingKey: 'dead',
      expires: 3_600_000,
      arguments: { 'x-single-active-consumer': true },
      bindings: [],
    });
  });
});

describe('routes', () => {
  test('keeps file order and tells exact names, globs and /regex/ apart', () => {
    const definitions = resolveOne({
      ...example(),
      routes: {
        'app1.tasks1.deal1': { queue: 'for_task1', routingKey: 'task_a' },
        'app1.tasks2.*': { queue: 'for_task2' },
        '/^app3\\./': 'for_task1',
        'app4.?': 'default',
        'app5.[ab]': 'default',
        'app6.x': { exchange: 'for_task1', routingKey: 'task_a' },
        'app7.x': { queue: 'for_task1', exchange: 'for_task1' },
      },
    });
    expect(definitions.routes).toEqual([
      { pattern: 'app1.tasks1.deal1', kind: 'exact', queue: 'for_task1', routingKey: 'task_a' },
      { pattern: 'app1.tasks2.*', kind: 'glob', queue: 'for_task2' },
      { pattern: '/^app3\\./', kind: 'regex', queue: 'for_task1' },
      { pattern: 'app4.?', kind: 'glob', queue: 'default' },
      { pattern: 'app5.[ab]', kind: 'glob', queue: 'default' },
      { pattern: 'app6.x', kind: 'exact', exchange: 'for_task1', routingKey: 'task_a' },
      { pattern: 'app7.x', kind: 'exact', queue: 'for_task1', exchange: 'for_task1' },
    ]);
  });
});

describe('schedule', () => {
  const exampleWithSchedule = (schedule: Record<string, unknown>, timezone?: string): Definitions =>
    resolveOne({ ...example(), ...(timezone === undefined ? {} : { timezone }), schedule });

  test('turns intervals into milliseconds: strings by unit, numbers as seconds', () => {
    const definitions = exampleWithSchedule({
      a: { task: 't', every: '250ms' },
      b: { task: 't', every: 30 },
      c: { task: 't', every: '1.5m' },
    });
    expect(definitions.schedule.map((e) => e.schedule)).toEqual([
      { kind: 'every', everyMs: 250 },
      { kind: 'every', everyMs: 30_000 },
      { kind: 'every', everyMs: 90_000 },
    ]);
  });

  test('normalizes cron strings and turns crontab mappings into a 5-field string, missing fields *', () => {
    const definitions = exampleWithSchedule({
      a: { task: 't', cron: '  30 7  * * 1 ' },
      b: { task: 't', cron: { minute: 30, hour: 7, dayOfWeek: 'mon-fri' } },
      c: { task: 't', cron: '0 */5 * * * *' },
    });
    expect(definitions.schedule.map((e) => e.schedule)).toEqual([
      { kind: 'cron', expression: '30 7 * * 1', timezone: 'UTC' },
      { kind: 'cron', expression: '30 7 * * mon-fri', timezone: 'UTC' },
      { kind: 'cron', expression: '0 */5 * * * *', timezone: 'UTC' },
    ]);
  });

  test('gives a cron entry its own time zone, else the file\'s, else UTC', () => {
    const withFileZone = exampleWithSchedule(
      { own: { task: 't', cron: '0 7 * * *', timezone: 'America/New_York' }, inherited: { task: 't', cron: '0 7 * * *' } },
      'Asia/Shanghai',
    );
    expect(entry(withFileZone, 'own').schedule).toEqual({ kind: 'cron', expression: '0 7 * * *', timezone: 'America/New_York' });
    expect(entry(withFileZone, 'inherited').schedule).toEqual({ kind: 'cron', expression: '0 7 * * *', timezone: 'Asia/Shanghai' });
    expect(withFileZone.timezone).toBe('Asia/Shanghai');
  });

  test('reads one-off times with their offset, from strings or Dates', () => {
    const definitions = exampleWithSchedule({
      text: { task: 't', at: '2026-12-01T08:00:00+08:00' },
      date: { task: 't', at: new Date('2026-12-01T00:00:00Z') },
    });
    expect(entry(definitions, 'text').schedule).toEqual({ kind: 'at', at: new Date('2026-12-01T00:00:00Z') });
    expect(entry(definitions, 'date').schedule).toEqual({ kind: 'at', at: new Date('2026-12-01T00:00:00Z') });
  });

  test('fills in entry defaults and keeps every option given', () => {
    const definitions = exampleWithSchedule({
      bare: { task: 'app1.tasks1.deal1', every: '10s' },
      full: {
        task: 'app1.tasks2.deal2',
        cron: '30 7 * * 1',
        args: ['hello'],
        kwargs: { a: 1 },
        queue: 'for_task2',
        routingKey: 'task_b',
        priority: 5,
        expires: 300,
        enabled: false,
        misfire: { policy: 'catch-up', max: 10 },
        startAt: '2026-01-01T00:00:00Z',
        endAt: '2027-01-01T00:00:00Z',
      },
    });
    expect(entry(definitions, 'bare')).toEqual<ScheduleEntryDefinition>({
      name: 'bare',
      task: 'app1.tasks1.deal1',
      schedule: { kind: 'every', everyMs: 10_000 },
      args: [],
      kwargs: {},
      enabled: true,
      misfire: { policy: 'run-once' },
    });
    expect(entry(definitions, 'full')).toEqual<ScheduleEntryDefinition>({
      name: 'full',
      task: 'app1.tasks2.deal2',
      schedule: { kind: 'cron', expression: '30 7 * * 1', timezone: 'UTC' },
      args: ['hello'],
      kwargs: { a: 1 },
      queue: 'for_task2',
      routingKey: 'task_b',
      priority: 5,
      expires: 300,
      enabled: false,
      misfire: { policy: 'catch-up', max: 10 },
      startAt: new Date('2026-01-01T00:00:00Z'),
      endAt: new Date('2027-01-01T00:00:00Z'),
    });
  });

  test('reads misfire words, bounding catch-up at 100 when no max is given', () => {
    const definitions = exampleWithSchedule({
      a: { task: 't', every: 1, misfire: 'run-once' },
      b: { task: 't', every: 1, misfire: 'skip' },
      c: { task: 't', every: 1, misfire: 'catch-up' },
      d: { task: 't', every: 1, misfire: { policy: 'catch-up' } },
    });
    expect(definitions.schedule.map((e) => e.misfire)).toEqual([
      { policy: 'run-once' },
      { policy: 'skip' },
      { policy: 'catch-up', max: 100 },
      { policy: 'catch-up', max: 100 },
    ]);
  });

  test('takes an expiry given as a duration in seconds', () => {
    const definitions = exampleWithSchedule({ a: { task: 't', every: 1, expires: '5m' } });
    expect(entry(definitions, 'a').expires).toBe(300);
  });
});

describe('broker', () => {
  const withBroker = { ...example(), broker: { url: 'amqp://file/' } };

  test('takes the file\'s url, or its list of urls for failover', () => {
    expect(resolveOne(withBroker).broker.urls).toEqual(['amqp://file/']);
    expect(resolveOne({ ...example(), broker: { urls: ['amqp://a/', 'amqps://b/'] } }).broker.urls).toEqual(['amqp://a/', 'amqps://b/']);
  });

  test('lets WARREN_BROKER_URL beat the file, and the brokerUrl option beat both', () => {
    const env = { WARREN_BROKER_URL: 'amqp://env/' };
    expect(resolveOne(withBroker, { env }).broker.urls).toEqual(['amqp://env/']);
    expect(resolveOne(withBroker, { env, brokerUrl: 'amqp://flag/' }).broker.urls).toEqual(['amqp://flag/']);
    expect(resolveOne(example(), { env }).broker.urls).toEqual(['amqp://env/']);
  });

  test('goes through the urls in order unless failoverStrategy says round-robin or shuffle; WARREN_BROKER_FAILOVER beats the file', () => {
    expect(resolveOne(withBroker).broker.failoverStrategy).toBe('in-order');
    const shuffled = { ...example(), broker: { urls: ['amqp://a/', 'amqp://b/'], failoverStrategy: 'shuffle' } };
    expect(resolveOne(shuffled).broker).toEqual({ urls: ['amqp://a/', 'amqp://b/'], failoverStrategy: 'shuffle' });
    expect(resolveOne(shuffled, { env: { WARREN_BROKER_FAILOVER: 'round-robin' } }).broker.failoverStrategy).toBe('round-robin');
    expect(resolveOne(shuffled, { env: { WARREN_BROKER_FAILOVER: '' } }).broker.failoverStrategy).toBe('shuffle');
    // A URL from the environment keeps the file's strategy (it matters only with a list).
    expect(resolveOne(shuffled, { env: { WARREN_BROKER_URL: 'amqp://env/' } }).broker).toEqual({ urls: ['amqp://env/'], failoverStrategy: 'shuffle' });
  });

  test('ignores an empty WARREN_BROKER_URL', () => {
    expect(resolveOne(withBroker, { env: { WARREN_BROKER_URL: '' } }).broker.urls).toEqual(['amqp://file/']);
  });

  test('reads no environment it is not given', () => {
    const saved = process.env.WARREN_BROKER_URL;
    process.env.WARREN_BROKER_URL = 'amqp://process-env/';
    try {
      expect(resolveOne(withBroker).broker.urls).toEqual(['amqp://file/']);
    } finally {
      if (saved === undefined) delete process.env.WARREN_BROKER_URL;
      else process.env.WARREN_BROKER_URL = saved;
    }
  });
});

describe('merging several files', () => {
  const a = 'definitions/a.yaml';
  const b = 'definitions/b.yaml';

  test('concatenates exchanges and queues and merges routes and schedule in file order', () => {
    const definitions = resolveDefinitions([
      {
        file: a,
        content: {
          exchanges: [{ name: 'one', type: 'direct' }],
          queues: [{ name: 'q1', exchange: 'two' }],
          routes: { 'x.*': 'q2' },
          schedule: { s1: { task: 't', every: 1 } },
        },
      },
      {
        file: b,
        content: {
          exchanges: [{ name: 'two', type: 'direct' }],
          queues: [{ name: 'q2', exchange: 'one' }],
          defaultQueue: 'q1',
          routes: { 'y.*': 'q1' },
          schedule: { s2: { task: 't', every: 2 } },
        },
      },
    ]);
    expect(definitions.exchanges.map((e) => e.name)).toEqual(['one', 'two']);
    expect(definitions.queues.map((q) => q.name)).toEqual(['q1', 'q2']);
    expect(definitions.routes.map((r) => r.pattern)).toEqual(['x.*', 'y.*']);
    expect(definitions.schedule.map((s) => s.name)).toEqual(['s1', 's2']);
    expect(definitions.defaultQueue).toBe('q1');
    expect(definitions.sources).toEqual([a, b]);
  });

  test('accepts a scalar set to the same value in two files', () => {
    const definitions = resolveDefinitions([
      { file: a, content: { timezone: 'Europe/Berlin', broker: { url: 'amqp://x/' } } },
      { file: b, content: { timezone: 'Europe/Berlin', broker: { urls: ['amqp://x/'] } } },
    ]);
    expect(definitions.timezone).toBe('Europe/Berlin');
  });

  test('reports each problem against the file it came from', () => {
    const problems = problemsOf(() =>
      resolveDefinitions([
        { file: a, content: { queues: [{ name: 'q1', type: 'quorom' }], defaultQueue: 'q1' } },
        { file: b, content: { routes: { 'x.*': 'q9' }, timezone: 'Mars/Olympus' } },
      ]),
    );
    expect(problems).toEqual([
      `${a}: queues[0].type: "quorom" is not a queue type (expected one of classic, quorum)`,
      `${b}: timezone: "Mars/Olympus" is not an IANA time zone (expected e.g. UTC, Europe/Berlin)`,
      `${b}: routes["x.*"].queue: queue "q9" is not declared (declared queues: q1)`,
    ]);
  });

  test('reports names declared twice, keys defined twice and scalars that disagree, against the later file', () => {
    const problems = problemsOf(() =>
      resolveDefinitions([
        {
          file: a,
          content: {
            broker: { url: 'amqp://user:secret@a/' },
            exchanges: [{ name: 'one', type: 'direct' }],
            queues: [{ name: 'q1' }],
            defaultQueue: 'q1',
            timezone: 'UTC',
            routes: { 'x.*': 'q1' },
            schedule: { tick: { task: 't', every: 1 } },
          },
        },
        {
          file: b,
          content: {
            broker: { url: 'amqp://user:secret@b/' },
            exchanges: [{ name: 'one', type: 'topic' }],
            queues: [{ name: 'q2' }, { name: 'q1' }],
            defaultQueue: 'q2',
            timezone: 'Europe/Berlin',
            routes: { 'x.*': 'q2' },
            schedule: { tick: { task: 't', every: 2 } },
          },
        },
      ]),
    );
    expect(problems).toEqual([
      `${b}: broker: "amqp://user:***@b/" differs from "amqp://user:***@a/" in ${a} (expected the same value in every file that sets it)`,
      `${b}: defaultQueue: "q2" differs from "q1" in ${a} (expected the same value in every file that sets it)`,
      `${b}: timezone: "Europe/Berlin" differs from "UTC" in ${a} (expected the same value in every file that sets it)`,
      `${b}: routes["x.*"]: route "x.*" is already defined in ${a} (expected each route once across files)`,
      `${b}: schedule.tick: schedule entry "tick" is already defined in ${a} (expected each schedule entry once across files)`,
      `${b}: exchanges[0].name: exchange "one" is already declared at ${a}: exchanges[0] (expected each exchange name once)`,
      `${b}: queues[1].name: queue "q1" is already declared at ${a}: queues[0] (expected each queue name once)`,
    ]);
  });

  test('does not call a name undeclared while some declaration has no readable name', () => {
    const problems = problemsOf(() =>
      resolveDefinitions([
        { file: a, content: { queues: [{ name: 'q1' }, { type: 'quorum' }], defaultQueue: 'q1' } },
        { file: b, content: { routes: { 'x.*': 'q2' } } },
      ]),
    );
    expect(problems).toEqual([`${a}: queues[1].name: required key is missing (expected a queue name)`]);
  });
});

describe('the result', () => {
  test('is frozen all the way down', () => {
    const definitions = resolveOne({
      ...example(),
      schedule: { tick: { task: 't', every: 1, args: [{ nested: [1] }], kwargs: { k: { deep: true } } } },
    });
    const tick = entry(definitions, 'tick');
    expect(Object.isFrozen(definitions)).toBe(true);
    expect(Object.isFrozen(definitions.queues)).toBe(true);
    expect(Object.isFrozen(definitions.queues[0].bindings[0])).toBe(true);
    expect(Object.isFrozen(definitions.routes[0])).toBe(true);
    expect(Object.isFrozen((tick.args[0] as { nested: number[] }).nested)).toBe(true);
    expect(Object.isFrozen(tick.kwargs.k)).toBe(true);
    expect(() => (definitions.queues as QueueDefinition[]).push(definitions.queues[0])).toThrow(TypeError);
    expect(() => {
      (definitions.queues[0] as { durable: boolean }).durable = false;
    }).toThrow(TypeError);
  });

  test('neither freezes nor shares the objects it was given', () => {
    const args = [{ nested: [1] }];
    const content = { ...example(), schedule: { tick: { task: 't', every: 1, args } } };
    const definitions = resolveOne(content);
    expect(Object.isFrozen(content)).toBe(false);
    expect(Object.isFrozen(args[0])).toBe(false);
    args[0].nested.push(2);
    expect(entry(definitions, 'tick').args).toEqual([{ nested: [1] }]);
  });
});
