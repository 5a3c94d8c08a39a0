import type { ConsumeMessage } from 'amqplib';
import { InvalidMessageError } from '../../../src/errors';
import { decodeTaskMessage, type IncomingMessage } from '../../../src/protocol';
import { capturedCeleryMessage, v2Message } from './fixtures/celery-message';

const ID = '02568afa-0245-4f32-aa40-a4fd55c24b2b';
const PREFIX = `invalid task message x.add[${ID}]`;

function reasonFor(message: IncomingMessage): string {
  try {
    decodeTaskMessage(message);
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidMessageError);
    expect((err as InvalidMessageError).code).toBe('WARREN_INVALID_MESSAGE');
    return (err as Error).message;
  }
  throw new Error('the message decoded, but it should have been rejected');
}

describe('decodeTaskMessage', () => {
  it('decodes the message Celery 5.2.6 sent (celery-protocol.md section 0)', () => {
    const message = capturedCeleryMessage();
    expect(decodeTaskMessage(message)).toEqual({
      id: ID,
      task: 'x.add',
      args: [2, 3],
      kwargs: { k: 1 },
      embed: { callbacks: null, errbacks: null, chain: null, chord: null },
      retries: 0,
      eta: new Date('2026-11-23T12:52:21.358Z'),
      expires: new Date('2026-11-23T12:53:16.358Z'),
      rootId: ID,
      parentId: null,
      group: null,
      groupIndex: null,
      timelimit: [null, null],
      origin: 'gen10223@vm',
      ignoreResult: false,
      shadow: null,
      replyTo: '8a499896-7a06-3930-aa72-61c65f0a2f58',
      correlationId: ID,
      priority: 0,
      protocol: 2,
      headers: message.properties.headers,
    });
  });

  it('accepts an amqplib ConsumeMessage as it is', () => {
    const { content, properties } = capturedCeleryMessage();
    const delivered: ConsumeMessage = {
      content,
      fields: { deliveryTag: 1, redelivered: false, exchange: '', routingKey: 'capq', consumerTag: 'c' },
      properties: {
        ...properties,
        headers: properties.headers,
        messageId: undefined,
        timestamp: undefined,
        type: undefined,
        userId: undefined,
        appId: undefined,
        clusterId: undefined,
      } as ConsumeMessage['properties'],
    };
    expect(decodeTaskMessage(delivered).task).toBe('x.add');
  });

  it('reads a null embed as four nulls and keeps given signatures', () => {
    expect(decodeTaskMessage(v2Message({}, '[[], {}, null]')).embed).toEqual({
      callbacks: null,
      errbacks: null,
      chain: null,
      chord: null,
    });
    const link = { task: 'x.log', args: [], kwargs: {}, options: {}, subtask_type: null, immutable: false };
    const decoded = decodeTaskMessage(v2Message({}, JSON.stringify([[], {}, { callbacks: [link], chain: [link, link] }])));
    expect(decoded.embed).toEqual({ callbacks: [link], errbacks: null, chain: [link, link], chord: null });
  });

  it('turns a Python client\'s kombu-tagged datetime argument into a Date', () => {
    const body = '[[{"__type__": "datetime", "__value__": "2026-11-23T12:52:21.358605+00:00"}], {}, null]';
    expect(decodeTaskMessage(v2Message({}, body)).args).toEqual([new Date('2026-11-23T12:52:21.358Z')]);
  });

  it('reads an eta without a time zone as UTC and with an offset as that offset', () => {
    expect(decodeTaskMessage(v2Message({ eta: '2026-11-23T12:52:21.358605' })).eta).toEqual(new Date('2026-11-23T12:52:21.358Z'));
    expect(decodeTaskMessage(v2Message({ eta: '2026-11-23T14:52:21+02:00' })).eta).toEqual(new Date('2026-11-23T12:52:21Z'));
  });

  it('falls back to the task id for a missing correlation id and reads an empty reply_to as none', () => {
    const decoded = decodeTaskMessage(v2Message({}, undefined, { correlationId: undefined, replyTo: '', priority: undefined }));
    expect(decoded).toMatchObject({ correlationId: ID, replyTo: null, priority: null });
  });

  it('decodes a protocol 1 message from its body dict, taskset as group', () => {
    const body = {
      task: 'x.add',
      id: 'v1-id',
      args: [1],
      kwargs: { a: 2 },
      retries: 2,
      eta: '2026-01-02T03:04:05+00:00',
      expires: null,
      utc: true,
      taskset: 'g-1',
      callbacks: [{ task: 'x.cb' }],
      errbacks: null,
      chord: null,
      timelimit: [10, 5],
    };
    const decoded = decodeTaskMessage({
      content: Buffer.from(JSON.stringify(body)),
      properties: { contentType: 'application/json', contentEncoding: 'utf-8', headers: {} },
    });
    expect(decoded).toMatchObject({
      protocol: 1,
      id: 'v1-id',
      task: 'x.add',
      args: [1],
      kwargs: { a: 2 },
      retries: 2,
      eta: new Date('2026-01-02T03:04:05Z'),
      group: 'g-1',
      timelimit: [10, 5],
      embed: { callbacks: [{ task: 'x.cb' }], errbacks: null, chain: null, chord: null },
      correlationId: 'v1-id',
      replyTo: null,
    });
  });

  it('decodes a hybrid message, header values overriding the body dict', () => {
    const decoded = decodeTaskMessage({
      content: Buffer.from(JSON.stringify({ task: 'x.old', id: 'body-id', args: [1], kwargs: {}, retries: 1 })),
      properties: { contentType: 'application/json', contentEncoding: 'utf-8', headers: { task: 'x.add', retries: 3 } },
    });
    expect(decoded).toMatchObject({ protocol: 1, task: 'x.add', id: 'body-id', args: [1], kwargs: {}, retries: 3 });
  });

  describe('rejects what cannot be a task, saying why', () => {
    it('another content type, naming it', () => {
      expect(reasonFor(v2Message({}, undefined, { contentType: 'application/x-python-serialize' }))).toBe(
        `${PREFIX}: content type "application/x-python-serialize" is not supported (expected application/json)`,
      );
    });

    it('a missing content type', () => {
      expect(reasonFor(v2Message({}, undefined, { contentType: undefined }))).toBe(
        `${PREFIX}: content type is missing (expected application/json)`,
      );
    });

    it('another or a missing content encoding', () => {
      expect(reasonFor(v2Message({}, undefined, { contentEncoding: 'binary' }))).toBe(
        `${PREFIX}: content encoding "binary" is not supported (expected utf-8)`,
      );
      expect(reasonFor(v2Message({}, undefined, { contentEncoding: undefined }))).toBe(
        `${PREFIX}: content encoding is missing (expected utf-8)`,
      );
    });

    it('a compressed body', () => {
      expect(reasonFor(v2Message({ compression: 'application/x-gzip' }))).toBe(
        `${PREFIX}: compressed bodies are not supported (compression header: "application/x-gzip")`,
      );
    });

    it('a body that is not UTF-8', () => {
      const message = v2Message();
      message.content = Buffer.from([0x5b, 0xff, 0x5d]);
      expect(reasonFor(message)).toBe(`${PREFIX}: body is not valid UTF-8`);
    });

    it('bad JSON', () => {
      expect(reasonFor(v2Message({}, '[[2, 3], {"k": 1}'))).toMatch(
        new RegExp(`^${escape(PREFIX)}: body is not valid JSON: .+`),
      );
    });

    it('an unknown kombu type tag', () => {
      expect(reasonFor(v2Message({}, '[[{"__type__": "frozenset", "__value__": [1]}], {}, null]'))).toBe(
        `${PREFIX}: body: kombu JSON type "frozenset" is not supported (known types: datetime, date, time, decimal, uuid, bytes, base64)`,
      );
    });

    it('a body that is not [args, kwargs, embed], saying what it was', () => {
      expect(reasonFor(v2Message({}, '[[2, 3], {"k": 1}]'))).toBe(
        `${PREFIX}: body must be [args, kwargs, embed] (found array of 2 elements)`,
      );
      expect(reasonFor(v2Message({}, '"x.add(2, 3)"'))).toBe(
        `${PREFIX}: body must be [args, kwargs, embed] (found string "x.add(2, 3)")`,
      );
    });

    it('args that are not a list and kwargs that are not an object, both at once', () => {
      expect(reasonFor(v2Message({}, '[{"a": 1}, [1], null]'))).toBe(
        `${PREFIX}: args must be a list (found object); kwargs must be an object (found array of 1 element)`,
      );
    });

    it('a missing id, a task name that is not a string', () => {
      expect(reasonFor(v2Message({ id: undefined }))).toBe(
        'invalid task message x.add: id must be a non-empty string (found nothing)',
      );
      expect(reasonFor(v2Message({ task: 42 }))).toBe(
        `invalid task message [${ID}]: task must be a non-empty string (found number 42)`,
      );
    });

    it('wrongly typed headers, every one of them', () => {
      const reason = reasonFor(
        v2Message({
          retries: '1',
          eta: 'tomorrow',
          expires: 1700000000,
          group_index: -1,
          timelimit: [30],
          ignore_result: 'no',
          root_id: 7,
        }),
      );
      expect(reason).toBe(
        `${PREFIX}: retries must be a non-negative integer (found string "1"); ` +
          'eta must be an ISO 8601 date or null (found string "tomorrow"); ' +
          'expires must be an ISO 8601 date or null (found number 1700000000); ' +
          'root_id must be a string or null (found number 7); ' +
          'group_index must be a non-negative integer or null (found number -1); ' +
          'timelimit must be [hard, soft] with each a number of seconds or null (found array of 1 element); ' +
          'ignore_result must be a boolean (found string "no")',
      );
    });

    it('an impossible date', () => {
      expect(reasonFor(v2Message({ eta: '2026-02-30T00:00:00+00:00' }))).toBe(
        `${PREFIX}: eta must be an ISO 8601 date or null (found string "2026-02-30T00:00:00+00:00")`,
      );
    });

    it('an embed with a chain that is not a list of signatures', () => {
      expect(reasonFor(v2Message({}, '[[], {}, {"chain": "x.next", "callbacks": [{"args": []}]}]'))).toBe(
        `${PREFIX}: embed.callbacks[0] must be a signature (an object with a string "task") (found object); ` +
          'embed.chain must be a list of signatures or null (found string "x.next")',
      );
    });

    it('random bytes, as bytes that are not UTF-8', () => {
      const message = v2Message();
      message.content = Buffer.from([0x8f, 0x00, 0xc3, 0x28, 0xfe, 0xff, 0x12, 0x9a]);
      expect(reasonFor(message)).toBe(`${PREFIX}: body is not valid UTF-8`);
    });

    it('JSON nested too deeply to read, without overflowing the stack', () => {
      const depth = 200_000;
      expect(reasonFor(v2Message({}, `[${'['.repeat(depth)}${']'.repeat(depth)}, {}, null]`))).toBe(
        `${PREFIX}: body is nested too deeply to read`,
      );
    });

    it('spells out ten problems at most, and counts the rest', () => {
      const callbacks = JSON.stringify(Array.from({ length: 5000 }, () => 1));
      const reason = reasonFor(v2Message({}, `[[], {}, {"callbacks": ${callbacks}}]`));
      expect(reason).toBe(
        `${PREFIX}: ${Array.from({ length: 10 }, (_, i) => `embed.callbacks[${i}] must be a signature (an object with a string "task") (found number 1)`).join('; ')}; ` +
          'and 4990 more problems',
      );
    });

    it('cuts a long task name and id in the reason', () => {
      const reason = reasonFor(v2Message({ task: 'x'.repeat(5000), id: 'i'.repeat(5000), retries: 'many' }));
      expect(reason).toBe(`invalid task message ${'x'.repeat(97)}...[${'i'.repeat(97)}...]: retries must be a non-negative integer (found string "many")`);
    });

    it('neither a task header nor a body dict with task', () => {
      expect(
        reasonFor({
          content: Buffer.from('{"id": "abc", "args": []}'),
          properties: { contentType: 'application/json', contentEncoding: 'utf-8', headers: {} },
        }),
      ).toBe(
        'invalid task message: no task name: neither a "task" header (protocol 2) nor a body dict with "task" (protocol 1) (found body object)',
      );
    });
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
