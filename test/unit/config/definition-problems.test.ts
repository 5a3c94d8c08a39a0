import { DefinitionsError } from '../../../src/errors';
import { example, FILE, problemsOf, resolveOne } from './problems';

type Doc = Record<string, unknown>;
type Item = Record<string, unknown>;

/** The example with `change` applied. */
function patched(change: (doc: Doc) => void): Doc {
  const doc = example();
  change(doc);
  return doc;
}

const queues = (doc: Doc): Item[] => doc.queues as Item[];
const exchanges = (doc: Doc): Item[] => doc.exchanges as Item[];
const routes = (doc: Doc): Record<string, unknown> => doc.routes as Record<string, unknown>;
const schedule = (doc: Doc): Record<string, unknown> => doc.schedule as Record<string, unknown>;

const DURATION_S = 'a number of seconds or a string like 250ms, 10s, 1.5m, 2h';
const CRON = 'a string of 5 or 6 fields like "30 7 * * 1", or a mapping with minute, hour, dayOfMonth, monthOfYear, dayOfWeek';
const DECLARED_QUEUES = 'declared queues: default, for_task1, for_task2';
const DECLARED_EXCHANGES = 'declared exchanges: default, for_task1, for_task2';
const INSTANT = 'an ISO 8601 date-time with an offset, like 2026-12-01T08:00:00Z or 2026-12-01T08:00:00+08:00';

type Case = [name: string, change: (doc: Doc) => void, expected: string];

describe('each kind of invalid definition is reported with its exact message', () => {
  const documentCases: Case[] = [
    [
      'an unknown top-level key',
      (doc) => (doc.queue = []),
      'queue: unknown key (expected one of broker, exchanges, queues, defaultQueue, routes, timezone, schedule, resultBackend, resultExpires, jsonDates, delays)',
    ],
    ['a section of the wrong kind', (doc) => (doc.exchanges = { default: 'direct' }), 'exchanges: a mapping is not a list (expected a list of exchanges)'],
    ['a default queue that is not a string', (doc) => (doc.defaultQueue = 42), 'defaultQueue: 42 is not a string (expected a queue name)'],
    [
      'a time zone that does not exist',
      (doc) => (doc.timezone = 'Mars/Olympus'),
      'timezone: "Mars/Olympus" is not an IANA time zone (expected e.g. UTC, Europe/Berlin)',
    ],
    [
      'an undeclared default queue other than celery',
      (doc) => (doc.defaultQueue = 'jobs'),
      `defaultQueue: queue "jobs" is not declared (${DECLARED_QUEUES})`,
    ],
  ];

  const brokerCases: Case[] = [
    ['url and urls together', (doc) => (doc.broker = { url: 'amqp://a/', urls: ['amqp://b/'] }), 'broker: has both url and urls (expected one of them)'],
    ['neither url nor urls', (doc) => (doc.broker = {}), 'broker: has neither url nor urls (expected one of them)'],
    [
      'a URL of another scheme, with its password masked',
      (doc) => (doc.broker = { url: 'http://guest:secret@host/' }),
      'broker.url: "http://guest:***@host/" is not a broker URL (expected amqp://, amqps:// or memory://)',
    ],
    [
      'a list item that is not a URL',
      (doc) => (doc.broker = { urls: ['amqp://a/', 42] }),
      'broker.urls[1]: 42 is not a broker URL (expected amqp://, amqps:// or memory://)',
    ],
    ['an empty list of URLs', (doc) => (doc.broker = { urls: [] }), 'broker.urls: empty list (expected at least one broker URL)'],
    [
      'a failover strategy kombu does not name',
      (doc) => (doc.broker = { urls: ['amqp://a/'], failoverStrategy: 'random' }),
      'broker.failoverStrategy: "random" is not a failover strategy (expected one of in-order, round-robin, shuffle)',
    ],
    [
      'an unknown key in broker',
      (doc) => (doc.broker = { url: 'amqp://a/', failover: 'shuffle' }),
      'broker.failover: unknown key (expected one of url, urls, failoverStrategy)',
    ],
  ];

  const exchangeCases: Case[] = [
    [
      'a missing exchange type',
      (doc) => delete exchanges(doc)[0].type,
      'exchanges[0].type: required key is missing (expected one of direct, topic, fanout, headers)',
    ],
    [
      'an unknown exchange type',
      (doc) => (exchanges(doc)[0].type = 'fan-out'),
      'exchanges[0].type: "fan-out" is not an exchange type (expected one of direct, topic, fanout, headers)',
    ],
    ['a flag that is not a boolean', (doc) => (exchanges(doc)[0].durable = 'yes'), 'exchanges[0].durable: "yes" is not a boolean (expected true or false)'],
    ['an empty exchange name', (doc) => (exchanges(doc)[0].name = ''), 'exchanges[0].name: "" is empty (expected an exchange name)'],
    [
      'arguments that are not a mapping',
      (doc) => (exchanges(doc)[0].arguments = ['x']),
      'exchanges[0].arguments: a list is not a mapping (expected a mapping of arguments)',
    ],
    [
      'an exchange that is not a mapping',
      (doc) => ((doc.exchanges as unknown[])[0] = 'default'),
      'exchanges[0]: "default" is not a mapping (expected an exchange: a mapping with name and type)',
    ],
    [
      'an exchange declared twice in one file',
      (doc) => exchanges(doc).push({ name: 'for_task1', type: 'topic' }),
      `exchanges[3].name: exchange "for_task1" is already declared at ${FILE}: exchanges[1] (expected each exchange name once)`,
    ],
  ];

  const queueCases: Case[] = [
    [
      'a misspelt queue type',
      (doc) => (queues(doc)[2].type = 'quorom'),
      'queues[2].type: "quorom" is not a queue type (expected one of classic, quorum)',
    ],
    [
      'an unknown queue key',
      (doc) => (queues(doc)[0].colour = 'blue'),
      'queues[0].colour: unknown key (expected one of name, type, exchange, routingKey, bindings, durable, autoDelete, maxPriority, ' +
        'messageTtl, maxLength, deadLetterExchange, deadLetterRoutingKey, expires, deliveryLimit, deadLetterQueue, arguments)',
    ],
    ['a missing queue name', (doc) => delete queues(doc)[0].name, 'queues[0].name: required key is missing (expected a queue name)'],
    ['an empty (null) queue name', (doc) => (queues(doc)[0].name = null), 'queues[0].name: null is not a string (expected a queue name)'],
    ['a priority above 255', (doc) => (queues(doc)[0].maxPriority = 300), 'queues[0].maxPriority: 300 is out of range (expected an integer from 1 to 255)'],
    ['a fractional priority', (doc) => (queues(doc)[0].maxPriority = 1.5), 'queues[0].maxPriority: 1.5 is not an integer (expected an integer from 1 to 255)'],
    ['a negative max length', (doc) => (queues(doc)[0].maxLength = -1), 'queues[0].maxLength: -1 is out of range (expected an integer >= 0)'],
    [
      'a message TTL that is not a duration',
      (doc) => (queues(doc)[0].messageTtl = 'soon'),
      'queues[0].messageTtl: "soon" is not a duration (expected a whole number of milliseconds >= 0, or a string like 250ms, 10s, 1.5m, 2h)',
    ],
    [
      'a message TTL that is not whole milliseconds',
      (doc) => (queues(doc)[0].messageTtl = '1.5ms'),
      'queues[0].messageTtl: "1.5ms" is not a whole number of milliseconds (expected a whole number of milliseconds >= 0, or a string like 250ms, 10s, 1.5m, 2h)',
    ],
    [
      'a queue expiry of zero',
      (doc) => (queues(doc)[0].expires = 0),
      'queues[0].expires: 0 is out of range (expected a whole number of milliseconds >= 1, or a string like 250ms, 10s, 1.5m, 2h)',
    ],
    [
      'exchange and bindings together',
      (doc) => (queues(doc)[0].bindings = [{ exchange: 'default' }]),
      'queues[0]: has both exchange and bindings (expected one of them)',
    ],
    [
      'a routing key without an exchange',
      (doc) => delete queues(doc)[0].exchange,
      'queues[0].routingKey: routingKey without exchange (expected exchange beside it)',
    ],
    [
      'a dead-letter routing key without a dead-letter exchange',
      (doc) => (queues(doc)[0].deadLetterRoutingKey = 'dead'),
      'queues[0].deadLetterRoutingKey: deadLetterRoutingKey without deadLetterExchange (expected deadLetterExchange beside it)',
    ],
    [
      'a quorum queue with priorities',
      (doc) => (queues(doc)[2].maxPriority = 10),
      'queues[2].maxPriority: a quorum queue has no priorities (expected no maxPriority with type quorum)',
    ],
    [
      'a non-durable quorum queue',
      (doc) => (queues(doc)[2].durable = false),
      'queues[2].durable: a quorum queue is always durable (expected durable true or no durable with type quorum)',
    ],
    [
      'an auto-delete quorum queue',
      (doc) => (queues(doc)[2].autoDelete = true),
      'queues[2].autoDelete: a quorum queue cannot be auto-delete (expected autoDelete false or no autoDelete with type quorum)',
    ],
    [
      'a binding without an exchange',
      (doc) => (queues(doc)[2] = { name: 'for_task2', bindings: [{ routingKey: 'task_b' }] }),
      'queues[2].bindings[0].exchange: required key is missing (expected an exchange name)',
    ],
    [
      'a binding to an undeclared exchange',
      (doc) => (queues(doc)[1].exchange = 'nope'),
      `queues[1].exchange: exchange "nope" is not declared (${DECLARED_EXCHANGES})`,
    ],
    [
      'a binding to the default exchange',
      (doc) => (queues(doc)[2] = { name: 'for_task2', bindings: [{ exchange: '', routingKey: 'task_b' }] }),
      `queues[2].bindings[0].exchange: exchange "" is the default exchange, which cannot be named here (${DECLARED_EXCHANGES})`,
    ],
    [
      'an undeclared dead-letter exchange',
      (doc) => (queues(doc)[0].deadLetterExchange = 'dlx'),
      `queues[0].deadLetterExchange: exchange "dlx" is not declared (${DECLARED_EXCHANGES})`,
    ],
  ];

  const routeCases: Case[] = [
    [
      'a route to an undeclared queue',
      (doc) => (routes(doc)['app1.tasks2.*'] = { queue: 'for_task9' }),
      `routes["app1.tasks2.*"].queue: queue "for_task9" is not declared (${DECLARED_QUEUES})`,
    ],
    [
      'a plain-string route to an undeclared queue',
      (doc) => (routes(doc)['app3.x'] = 'for_task9'),
      `routes["app3.x"].queue: queue "for_task9" is not declared (${DECLARED_QUEUES})`,
    ],
    [
      'a route to an undeclared exchange',
      (doc) => (routes(doc)['app4.x'] = { exchange: 'nope', routingKey: 'task_a' }),
      `routes["app4.x"].exchange: exchange "nope" is not declared (${DECLARED_EXCHANGES})`,
    ],
    [
      'a route to the default exchange',
      (doc) => (routes(doc)['app4.x'] = { exchange: '', routingKey: 'for_task1' }),
      `routes["app4.x"].exchange: exchange "" is the default exchange, which cannot be named here (${DECLARED_EXCHANGES})`,
    ],
    [
      'a route to an exchange without a routing key',
      (doc) => (routes(doc)['app4.x'] = { exchange: 'for_task1' }),
      'routes["app4.x"].exchange: exchange without routingKey or queue (expected routingKey beside it)',
    ],
    [
      'a route to a queue through an exchange it is not bound to',
      (doc) => (routes(doc)['app4.x'] = { queue: 'for_task1', exchange: 'for_task2' }),
      'routes["app4.x"].exchange: queue "for_task1" is not bound to exchange "for_task2" (exchanges it is bound to: for_task1)',
    ],
    ['a route with neither queue nor exchange', (doc) => (routes(doc)['app4.x'] = { routingKey: 'x' }), 'routes["app4.x"]: has neither queue nor exchange (expected one of them)'],
    [
      'a route that is neither a string nor a mapping',
      (doc) => (routes(doc)['app4.x'] = 42),
      'routes["app4.x"]: 42 is not a route (expected a queue name, or a mapping with queue, exchange, routingKey)',
    ],
    [
      'an unknown route key',
      (doc) => (routes(doc)['app4.x'] = { queue: 'for_task1', priority: 5 }),
      'routes["app4.x"].priority: unknown key (expected one of queue, exchange, routingKey)',
    ],
    [
      'a route regex that does not compile',
      (doc) => (routes(doc)['/app3(/'] = 'for_task1'),
      'routes["/app3(/"]: "/app3(/" is not a valid regular expression: Unterminated group ' +
        '(expected a JavaScript regular expression between slashes, without flags)',
    ],
    [
      'a route regex with flags',
      (doc) => (routes(doc)['/app3/i'] = 'for_task1'),
      'routes["/app3/i"]: "/app3/i" is not a /regex/ (expected a JavaScript regular expression between slashes, without flags)',
    ],
  ];

  const scheduleCases: Case[] = [
    [
      'an interval that is not a duration',
      (doc) => (schedule(doc).tick = { task: 't', every: '10 parsecs' }),
      `schedule.tick.every: "10 parsecs" is not a duration (expected ${DURATION_S})`,
    ],
    ['an interval of zero', (doc) => (schedule(doc).tick = { task: 't', every: 0 }), 'schedule.tick.every: 0 is out of range (expected a duration above 0)'],
    [
      'an entry with no schedule',
      (doc) => (schedule(doc).tick = { task: 't' }),
      'schedule.tick: has none of every, cron, at (expected exactly one of them)',
    ],
    [
      'an entry with two schedules',
      (doc) => (schedule(doc).tick = { task: 't', every: '1m', cron: '* * * * *' }),
      'schedule.tick: has both every and cron (expected exactly one of every, cron, at)',
    ],
    ['an entry without a task', (doc) => (schedule(doc).tick = { every: '1m' }), 'schedule.tick.task: required key is missing (expected a task name)'],
    [
      'a cron field out of range',
      (doc) => (schedule(doc).tick = { task: 't', cron: '61 * * * *' }),
      `schedule.tick.cron: "61 * * * *" is not a cron expression: Constraint error, got value 61 expected range 0-59 (expected ${CRON})`,
    ],
    [
      'a cron expression with four fields',
      (doc) => (schedule(doc).tick = { task: 't', cron: '* *  * *' }),
      `schedule.tick.cron: "* * * *" is not a cron expression: 4 fields (expected ${CRON})`,
    ],
    [
      'a cron mapping with an unknown field',
      (doc) => (schedule(doc).tick = { task: 't', cron: { minutes: 30 } }),
      'schedule.tick.cron.minutes: unknown key (expected one of minute, hour, dayOfMonth, monthOfYear, dayOfWeek)',
    ],
    [
      'a cron mapping whose fields make no valid expression',
      (doc) => (schedule(doc).tick = { task: 't', cron: { hour: 25 } }),
      `schedule.tick.cron: "* 25 * * *" is not a cron expression: Constraint error, got value 25 expected range 0-23 (expected ${CRON})`,
    ],
    [
      'a one-off time without an offset',
      (doc) => (schedule(doc).once = { task: 't', at: '2026-12-01 08:00' }),
      `schedule.once.at: "2026-12-01 08:00" is not a date-time (expected ${INSTANT})`,
    ],
    [
      'a time zone on an interval entry',
      (doc) => (schedule(doc).tick = { task: 't', every: '1m', timezone: 'UTC' }),
      'schedule.tick.timezone: timezone without cron (expected cron beside it)',
    ],
    [
      'an unknown misfire policy',
      (doc) => (schedule(doc).tick = { task: 't', every: '1m', misfire: 'sometimes' }),
      'schedule.tick.misfire: "sometimes" is not a misfire policy (expected one of run-once, skip, catch-up)',
    ],
    [
      'a catch-up bound on another policy',
      (doc) => (schedule(doc).tick = { task: 't', every: '1m', misfire: { policy: 'skip', max: 3 } }),
      'schedule.tick.misfire.max: max without policy catch-up (expected max only with catch-up)',
    ],
    [
      'a priority above 255',
      (doc) => (schedule(doc).tick = { task: 't', every: '1m', priority: 256 }),
      'schedule.tick.priority: 256 is out of range (expected an integer from 0 to 255)',
    ],
    [
      'an expiry of zero',
      (doc) => (schedule(doc).tick = { task: 't', every: '1m', expires: 0 }),
      'schedule.tick.expires: 0 is out of range (expected a duration above 0)',
    ],
    [
      'arguments that are not a list',
      (doc) => (schedule(doc).tick = { task: 't', every: '1m', args: 'hello' }),
      'schedule.tick.args: "hello" is not a list (expected a list of arguments)',
    ],
    [
      'an end before the start',
      (doc) => (schedule(doc).tick = { task: 't', every: '1m', startAt: '2027-01-01T00:00:00Z', endAt: '2026-01-01T00:00:00Z' }),
      'schedule.tick.endAt: 2026-01-01T00:00:00.000Z is not after startAt 2027-01-01T00:00:00.000Z (expected endAt later than startAt)',
    ],
    [
      'an entry sent to an undeclared queue',
      (doc) => (schedule(doc).tick = { task: 't', every: '1m', queue: 'for_task9' }),
      `schedule.tick.queue: queue "for_task9" is not declared (${DECLARED_QUEUES})`,
    ],
    [
      'an entry sent to an exchange without a routing key',
      (doc) => (schedule(doc).tick = { task: 't', every: '1m', exchange: 'for_task1' }),
      'schedule.tick.exchange: exchange without routingKey or queue (expected routingKey beside it)',
    ],
    [
      'an entry whose name is not a plain key',
      (doc) => (schedule(doc)['every minute'] = { task: 't', every: 'often' }),
      `schedule["every minute"].every: "often" is not a duration (expected ${DURATION_S})`,
    ],
  ];

  describe.each([
    ['the document', documentCases],
    ['broker', brokerCases],
    ['exchanges', exchangeCases],
    ['queues', queueCases],
    ['routes', routeCases],
    ['schedule', scheduleCases],
  ] as const)('%s', (_section, cases) => {
    test.each(cases)('%s', (_name, change, expected) => {
      expect(problemsOf(() => resolveOne(patched(change)))).toEqual([`${FILE}: ${expected}`]);
    });
  });

  test('a document that is not a mapping', () => {
    expect(problemsOf(() => resolveOne(['queues']))).toEqual([
      `${FILE}: a list is not a mapping (expected a mapping with keys broker, exchanges, queues, defaultQueue, routes, timezone, schedule, resultBackend, resultExpires, jsonDates, delays)`,
    ]);
  });
});

describe('problems are collected, not stopped at the first', () => {
  test('reports several problems in one file together, shape in key order, then references, in one error', () => {
    const doc = patched((d) => {
      queues(d)[0].colour = 'blue';
      queues(d)[2].type = 'quorom';
      d.timezone = 'Mars/Olympus';
      routes(d)['app1.tasks2.*'] = { queue: 'for_task9' };
      schedule(d).tick = { task: 't', every: '10 parsecs' };
    });
    let thrown: unknown;
    try {
      resolveOne(doc);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(DefinitionsError);
    const error = thrown as DefinitionsError;
    expect(error.code).toBe('WARREN_INVALID_DEFINITIONS');
    expect(error.message).toBe(
      [
        'invalid definitions (5 problems):',
        `  ${FILE}: queues[0].colour: unknown key (expected one of name, type, exchange, routingKey, bindings, durable, autoDelete, ` +
          'maxPriority, messageTtl, maxLength, deadLetterExchange, deadLetterRoutingKey, expires, deliveryLimit, deadLetterQueue, arguments)',
        `  ${FILE}: queues[2].type: "quorom" is not a queue type (expected one of classic, quorum)`,
        `  ${FILE}: schedule.tick.every: "10 parsecs" is not a duration (expected ${DURATION_S})`,
        `  ${FILE}: timezone: "Mars/Olympus" is not an IANA time zone (expected e.g. UTC, Europe/Berlin)`,
        `  ${FILE}: routes["app1.tasks2.*"].queue: queue "for_task9" is not declared (${DECLARED_QUEUES})`,
      ].join('\n'),
    );
  });

  test('counts a queue with a broken field as declared, so routes to it are not reported too', () => {
    const doc = patched((d) => (queues(d)[2].type = 'quorom'));
    expect(problemsOf(() => resolveOne(doc))).toEqual([
      `${FILE}: queues[2].type: "quorom" is not a queue type (expected one of classic, quorum)`,
    ]);
  });

  test('counts an exchange with a broken type as declared, so bindings to it are not reported too', () => {
    const doc = patched((d) => (exchanges(d)[1].type = 'fan-out'));
    expect(problemsOf(() => resolveOne(doc))).toEqual([
      `${FILE}: exchanges[1].type: "fan-out" is not an exchange type (expected one of direct, topic, fanout, headers)`,
    ]);
  });

  test('still checks the references of a queue whose other fields are broken', () => {
    const doc = patched((d) => {
      queues(d)[1].durable = 'yes';
      queues(d)[2].exchange = 'nope';
    });
    expect(problemsOf(() => resolveOne(doc))).toEqual([
      `${FILE}: queues[1].durable: "yes" is not a boolean (expected true or false)`,
      `${FILE}: queues[2].exchange: exchange "nope" is not declared (${DECLARED_EXCHANGES})`,
    ]);
  });
});

describe('broker URLs from outside the files are checked too', () => {
  test('reports a WARREN_BROKER_FAILOVER that is not a failover strategy', () => {
    expect(problemsOf(() => resolveOne(example(), { env: { WARREN_BROKER_FAILOVER: 'roundrobin' } }))).toEqual([
      '(environment): WARREN_BROKER_FAILOVER: "roundrobin" is not a failover strategy (expected one of in-order, round-robin, shuffle)',
    ]);
  });

  test('reports a WARREN_BROKER_URL that is not a broker URL', () => {
    expect(problemsOf(() => resolveOne(example(), { env: { WARREN_BROKER_URL: 'redis://:pw@localhost/' } }))).toEqual([
      '(environment): WARREN_BROKER_URL: "redis://:***@localhost/" is not a broker URL (expected amqp://, amqps:// or memory://)',
    ]);
  });

  test('reports a brokerUrl option that is not a broker URL', () => {
    expect(problemsOf(() => resolveOne(example(), { brokerUrl: 'localhost:5672' }))).toEqual([
      '(options): brokerUrl: "localhost:5672" is not a broker URL (expected amqp://, amqps:// or memory://)',
    ]);
  });
});
