import type { Options } from 'amqplib';
import { hostname } from 'node:os';
import { InvalidMessageError } from '../../../src/errors';
import { decodeTaskMessage, encodeTaskMessage, type EncodeTaskMessageInput } from '../../../src/protocol';

const ID = 'c1a2b3d4-0000-4000-8000-000000000001';
const REPLY_TO = '5f1b6c3e-9a8d-3b7e-a2c1-4d0e9f8a7b6c';
const NOW = new Date('2026-11-23T12:52:16.358Z');

function reasonFor(input: EncodeTaskMessageInput): string {
  try {
    encodeTaskMessage(input);
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidMessageError);
    return (err as Error).message;
  }
  throw new Error('the input encoded, but it should have been refused');
}

describe('encodeTaskMessage', () => {
  it('sends every v2 header and property of a Celery client, and the exact body', () => {
    const { body, properties } = encodeTaskMessage({
      id: ID,
      task: 'x.add',
      args: [2, 3],
      kwargs: { k: 1 },
      eta: new Date('2026-11-23T12:52:21.358Z'),
      expires: new Date('2026-11-23T12:53:16.358Z'),
      replyTo: REPLY_TO,
      origin: 'gen10223@vm',
      now: NOW,
    });
    expect(properties).toEqual({
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      correlationId: ID,
      replyTo: REPLY_TO,
      deliveryMode: 2,
      priority: 0,
      expiration: '60000',
      headers: {
        lang: 'js',
        task: 'x.add',
        id: ID,
        shadow: null,
        eta: '2026-11-23T12:52:21.358000+00:00',
        expires: '2026-11-23T12:53:16.358000+00:00',
        group: null,
        group_index: null,
        retries: 0,
        timelimit: [null, null],
        root_id: ID,
        parent_id: null,
        argsrepr: '[2, 3]',
        kwargsrepr: "{'k': 1}",
        origin: 'gen10223@vm',
        ignore_result: false,
      },
    });
    expect(body.toString('utf8')).toBe('[[2,3],{"k":1},{"callbacks":null,"errbacks":null,"chain":null,"chord":null}]');
  });

  it('gives properties that amqplib takes as publish options', () => {
    const publishOptions: Options.Publish = encodeTaskMessage({ id: ID, task: 'x.add', replyTo: REPLY_TO }).properties;
    expect(publishOptions.deliveryMode).toBe(2);
  });

  it('fills defaults: empty args and kwargs, origin gen<pid>@<host>, no expiration without expires', () => {
    const { body, properties } = encodeTaskMessage({ id: ID, task: 'x.ping', replyTo: '' });
    expect(body.toString()).toBe('[[],{},{"callbacks":null,"errbacks":null,"chain":null,"chord":null}]');
    expect(properties.headers).toMatchObject({ argsrepr: '[]', kwargsrepr: '{}', eta: null, expires: null, origin: `gen${process.pid}@${hostname()}` });
    expect(properties).not.toHaveProperty('expiration');
  });

  it('sets expiration "0" when expires is already past', () => {
    const { properties } = encodeTaskMessage({ id: ID, task: 'x.add', replyTo: REPLY_TO, expires: new Date(NOW.getTime() - 5000), now: NOW });
    expect(properties.expiration).toBe('0');
  });

  it('carries the workflow fields, priority, extra headers (protocol headers win) and the embed', () => {
    const chainStep = { task: 'x.mul', args: [4], kwargs: {}, options: {}, subtask_type: null, immutable: false, chord_size: null };
    const { body, properties } = encodeTaskMessage({
      id: ID,
      task: 'x.add',
      replyTo: REPLY_TO,
      retries: 2,
      rootId: 'root',
      parentId: 'parent',
      group: 'grp',
      groupIndex: 1,
      timelimit: [60, 30],
      priority: 7,
      ignoreResult: true,
      shadow: 'add-shadow',
      lang: 'py',
      headers: { stamps: {}, stamped_headers: null, task: 'x.evil', dropped: undefined },
      embed: { chain: [chainStep] },
    });
    expect(properties.priority).toBe(7);
    expect(properties.headers).toMatchObject({
      lang: 'py',
      task: 'x.add',
      retries: 2,
      root_id: 'root',
      parent_id: 'parent',
      group: 'grp',
      group_index: 1,
      timelimit: [60, 30],
      ignore_result: true,
      shadow: 'add-shadow',
      stamps: {},
      stamped_headers: null,
    });
    expect(properties.headers).not.toHaveProperty('dropped');
    expect(JSON.parse(body.toString())[2]).toEqual({ callbacks: null, errbacks: null, chain: [chainStep], chord: null });
  });

  it('writes Dates and Buffers in args as kombu type tags and reprs them as Python would', () => {
    const { body, properties } = encodeTaskMessage({
      id: ID,
      task: 'x.store',
      replyTo: REPLY_TO,
      args: [new Date('2026-01-01T00:00:00Z'), Buffer.from('hi')],
      kwargs: { text: "it's" },
    });
    expect(JSON.parse(body.toString())[0]).toEqual([
      { __type__: 'datetime', __value__: '2026-01-01T00:00:00.000000+00:00' },
      { __type__: 'bytes', __value__: 'hi' },
    ]);
    expect(properties.headers.argsrepr).toBe("[datetime.datetime(2026, 1, 1, 0, 0, tzinfo=datetime.timezone.utc), b'hi']");
    expect(properties.headers.kwargsrepr).toBe(`{'text': "it's"}`);
  });

  it('cuts argsrepr to 1024 characters', () => {
    const { properties } = encodeTaskMessage({ id: ID, task: 'x.echo', replyTo: REPLY_TO, args: ['a'.repeat(2000)] });
    expect(properties.headers.argsrepr).toHaveLength(1024);
    expect(properties.headers.argsrepr).toBe(`['${'a'.repeat(1019)}...`);
  });

  it('round-trips through decodeTaskMessage', () => {
    const input: EncodeTaskMessageInput = {
      id: ID,
      task: 'x.add',
      args: [2, 3],
      kwargs: { at: new Date('2026-05-06T07:08:09.010Z') },
      eta: new Date('2026-11-23T12:52:21.358Z'),
      replyTo: REPLY_TO,
      retries: 1,
    };
    const { body, properties } = encodeTaskMessage(input);
    expect(decodeTaskMessage({ content: body, properties })).toMatchObject({
      id: ID,
      task: 'x.add',
      args: [2, 3],
      kwargs: { at: new Date('2026-05-06T07:08:09.010Z') },
      eta: new Date('2026-11-23T12:52:21.358Z'),
      retries: 1,
      replyTo: REPLY_TO,
      correlationId: ID,
      protocol: 2,
    });
  });

  describe('refuses input that cannot be a task, naming every problem', () => {
    it('args that are not an array and kwargs that are not a plain object', () => {
      expect(
        reasonFor({ id: ID, task: 'x.add', replyTo: REPLY_TO, args: { 0: 2 } as unknown as unknown[], kwargs: [1] as unknown as Record<string, unknown> }),
      ).toBe(`cannot encode task x.add[${ID}]: args must be an array (found object); kwargs must be a plain object (found array of 1 element)`);
    });

    it('kwargs that are a Map', () => {
      expect(reasonFor({ id: ID, task: 'x.add', replyTo: REPLY_TO, kwargs: new Map() as unknown as Record<string, unknown> })).toBe(
        `cannot encode task x.add[${ID}]: kwargs must be a plain object (found Map)`,
      );
    });

    it('values JSON cannot carry, with their path', () => {
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      expect(reasonFor({ id: ID, task: 'x.add', replyTo: REPLY_TO, args: [1, () => 2], kwargs: { deep: { n: 10n }, cyclic } })).toBe(
        `cannot encode task x.add[${ID}]: args[1] cannot be sent as JSON (found function); ` +
          'kwargs.deep.n cannot be sent as JSON (found bigint 10)',
      );
      expect(reasonFor({ id: ID, task: 'x.add', replyTo: REPLY_TO, kwargs: { cyclic } })).toBe(
        `cannot encode task x.add[${ID}]: kwargs.cyclic.self cannot be sent as JSON (found a reference to an enclosing value (circular structure))`,
      );
    });

    it('a missing id, bad dates, retries, priority and time limits', () => {
      expect(
        reasonFor({
          id: '',
          task: 'x.add',
          replyTo: REPLY_TO,
          eta: new Date(Number.NaN),
          expires: '2026-01-01' as unknown as Date,
          retries: -1,
          priority: 300,
          timelimit: [-5, null],
        }),
      ).toBe(
        'cannot encode task x.add: id must be a non-empty string (found string ""); ' +
          'eta is an invalid Date; ' +
          'expires must be a Date or null (found string "2026-01-01"); ' +
          'retries must be a non-negative integer (found number -1); ' +
          'timelimit must be [hard, soft] with each a number of seconds or null (found array of 2 elements); ' +
          'priority must be an integer from 0 to 255 (found number 300)',
      );
    });

    it('a date outside the years Python can hold', () => {
      expect(reasonFor({ id: ID, task: 'x.add', replyTo: REPLY_TO, eta: new Date('+010000-01-01T00:00:00Z') })).toBe(
        `cannot encode task x.add[${ID}]: eta is in year 10000, outside the years 1-9999 that Python's datetime can hold`,
      );
    });
  });
});
