import { buildEvent, decodeEvents, encodeEvent, eventRoutingKey, utcOffsetHours } from '../../../src/control/celery-events';
import { decodeRequest, encodeReply, encodeRequest, isForNode, nodeQueueName, replyQueueName } from '../../../src/control/pidbox-protocol';

const json = { contentType: 'application/json', contentEncoding: 'utf-8' };

describe("kombu's Mailbox on the wire", () => {
  test('queue names, request and reply as Celery 5.2 writes them', () => {
    expect(nodeQueueName('celery@vm')).toBe('celery@vm.celery.pidbox');
    expect(replyQueueName('4414e442-bf82-3038-83be-19b8031d3728')).toBe('4414e442-bf82-3038-83be-19b8031d3728.reply.celery.pidbox');
    const request = encodeRequest(
      { method: 'ping', arguments: {}, destination: null, pattern: null, matcher: null, ticket: 't', reply_to: { exchange: 'reply.celery.pidbox', routing_key: 'oid' } },
      { clock: 3, expires: 1795994447.27 },
    );
    expect(JSON.parse(request.body.toString())).toEqual({
      method: 'ping',
      arguments: {},
      destination: null,
      pattern: null,
      matcher: null,
      ticket: 't',
      reply_to: { exchange: 'reply.celery.pidbox', routing_key: 'oid' },
    });
    expect(request.properties).toEqual({ ...json, priority: 0, deliveryMode: 2, headers: { clock: 3, expires: 1795994447.27 } });
    const reply = encodeReply('w@h', { ok: 'pong' }, 't', 4);
    expect(reply.body.toString()).toBe('{"w@h":{"ok":"pong"}}');
    expect(reply.properties).toEqual({ ...json, priority: 0, deliveryMode: 1, headers: { ticket: 't', clock: 4 } });
  });

  test('a request decodes back, defaults filled', () => {
    const decoded = decodeRequest({ content: Buffer.from('{"method":"revoke","arguments":{"task_id":"x"}}'), properties: json });
    expect(decoded).toEqual({ ok: true, value: { method: 'revoke', arguments: { task_id: 'x' }, destination: null, pattern: null, matcher: null } });
  });

  test.each([
    ['a destination naming it', { destination: ['w@h'] }, true],
    ['a destination naming others', { destination: ['x@h'] }, false],
    ['an empty destination (every node)', { destination: [] }, true],
    ['a glob', { pattern: 'w@*', matcher: 'glob' }, true],
    ['a glob that does not match', { pattern: 'x@*', matcher: 'glob' }, false],
    ['a pcre matched at the start', { pattern: 'w@', matcher: 'pcre' }, true],
    ['a pcre that does not match at the start', { pattern: '@h', matcher: 'pcre' }, false],
    ['an unknown matcher', { pattern: 'w@h', matcher: 'regex' }, false],
    ['nothing (every node)', {}, true],
  ])('is for node w@h: %s', (_what, fields, expected) => {
    expect(isForNode({ destination: null, pattern: null, matcher: null, ...fields }, 'w@h')).toBe(expected);
  });
});

describe("Celery's events on the wire", () => {
  test('fields in Celery 5.2 order, routing key from the type, transient JSON with the hostname header', () => {
    const event = buildEvent('task-succeeded', { uuid: 'u', result: '5', runtime: 0.01 }, { hostname: 'w@h', pid: 42 }, 7, new Date(1795994435181));
    expect(Object.keys(event)).toEqual(['hostname', 'utcoffset', 'pid', 'clock', 'uuid', 'result', 'runtime', 'timestamp', 'type']);
    expect(event).toMatchObject({ hostname: 'w@h', pid: 42, clock: 7, timestamp: 1795994435.181, type: 'task-succeeded' });
    const message = encodeEvent(event);
    expect(message.routingKey).toBe('task.succeeded');
    expect(message.properties).toEqual({ ...json, deliveryMode: 1, priority: 0, headers: { hostname: 'w@h' } });
    expect(eventRoutingKey('worker-heartbeat')).toBe('worker.heartbeat');
  });

  test("utcoffset is Python's time.timezone // 3600: hours west of UTC, floored", () => {
    expect(utcOffsetHours({ getTimezoneOffset: () => -330 } as Date)).toBe(-6); // India, as Python's floor division
    expect(utcOffsetHours({ getTimezoneOffset: () => 300 } as Date)).toBe(5); // New York, winter
    expect(utcOffsetHours({ getTimezoneOffset: () => 0 } as Date)).toBe(0);
  });

  test("a Python worker's task.multi batch gives each event; malformed ones are left out with their reason", () => {
    const batch = [{ type: 'task-received', hostname: 'py@h', clock: 11 }, { hostname: 'py@h' }, 'x', { type: 'task-started', clock: 'twelve' }];
    const { events, problems } = decodeEvents({ content: Buffer.from(JSON.stringify(batch)), properties: json });
    expect(events.map((e) => e.type)).toEqual(['task-received']);
    expect(problems).toEqual([
      'an event has no type (found nothing)',
      'an event is not an object (found string "x")',
      'event task-started: clock is not a number (found string "twelve")',
    ]);
    expect(decodeEvents({ content: Buffer.from('{'), properties: json }).problems[0]).toMatch(/^body is not JSON/);
  });
});
