import { InvalidMessageError } from '../../../src/errors';
import { dumps, loads } from '../../../src/protocol';

describe('kombu JSON', () => {
  it('writes a Date as a datetime tag with microsecond digits and +00:00', () => {
    expect(dumps({ at: new Date('2026-11-23T12:52:21.358Z') })).toBe(
      '{"at":{"__type__":"datetime","__value__":"2026-11-23T12:52:21.358000+00:00"}}',
    );
  });

  it('writes UTF-8 bytes as a bytes tag and other bytes as base64, as kombu picks', () => {
    expect(dumps([Buffer.from('héllo'), new Uint8Array([0xff, 0x00])])).toBe(
      '[{"__type__":"bytes","__value__":"héllo"},{"__type__":"base64","__value__":"/wA="}]',
    );
  });

  it('writes Dates and bytes plain for Celery 5.2: kombu 5.2\'s ISO string ending in Z, and base64', () => {
    expect(dumps({ at: new Date('2026-11-23T12:52:21.358Z'), raw: Buffer.from('héllo') }, 'plain')).toBe(
      '{"at":"2026-11-23T12:52:21.358000Z","raw":"aMOpbGxv"}',
    );
  });

  it('reads plain values back as the strings they are, and tags as values, whichever way they were written', () => {
    expect(loads('{"at":"2026-11-23T12:52:21.358000Z","tagged":{"__type__":"datetime","__value__":"2026-11-23T12:52:21.358000+00:00"}}')).toEqual({
      at: '2026-11-23T12:52:21.358000Z',
      tagged: new Date('2026-11-23T12:52:21.358Z'),
    });
  });

  it('round-trips datetimes and bytes', () => {
    const value = { at: new Date('2026-11-23T12:52:21.358Z'), raw: Buffer.from([0, 1, 254]), text: Buffer.from('ok'), n: [1, null] };
    expect(loads(dumps(value))).toEqual(value);
  });

  it('reads every type Python writes', () => {
    const text = JSON.stringify([
      { __type__: 'datetime', __value__: '2026-11-23T12:52:21.358605+00:00' },
      { __type__: 'datetime', __value__: '2026-11-23T12:52:21' },
      { __type__: 'date', __value__: '2026-11-23' },
      { __type__: 'time', __value__: '12:30:00.500000' },
      { __type__: 'decimal', __value__: '1.10' },
      { __type__: 'uuid', __value__: { hex: '02568afa02454f32aa40a4fd55c24b2b', version: 4 } },
      { __type__: 'bytes', __value__: 'abc' },
      { __type__: 'base64', __value__: '/wA=' },
    ]);
    expect(loads(text)).toEqual([
      new Date('2026-11-23T12:52:21.358Z'),
      new Date('2026-11-23T12:52:21Z'),
      new Date('2026-11-23T00:00:00Z'),
      '12:30:00.500000',
      '1.10',
      '02568afa-0245-4f32-aa40-a4fd55c24b2b',
      Buffer.from('abc'),
      Buffer.from([0xff, 0x00]),
    ]);
  });

  it('reads a tag whose key is written with \\u escapes, and one nested deep', () => {
    expect(loads('{"\\u005f_type__": "bytes", "__value__": "hi"}')).toEqual(Buffer.from('hi'));
    const deep = `${'['.repeat(600)}{"__type__": "bytes", "__value__": "hi"}${']'.repeat(600)}`;
    let value = loads(deep);
    for (let i = 0; i < 600; i += 1) value = (value as unknown[])[0];
    expect(value).toEqual(Buffer.from('hi'));
  });

  it('writes a tree without Dates and bytes as JSON.stringify does, and one with them nested deep in an object tagged', () => {
    const value = { a: [1, 'two', null, { b: true }], c: -0, d: undefined, e: NaN };
    expect(dumps(value)).toBe(JSON.stringify(value));
    expect(dumps({ a: [{ b: [Buffer.from('hi')] }] })).toBe('{"a":[{"b":[{"__type__":"bytes","__value__":"hi"}]}]}');
  });

  it('leaves objects with other keys beside the tag keys alone', () => {
    expect(loads('{"__type__": "datetime", "__value__": "x", "extra": 1}')).toEqual({ __type__: 'datetime', __value__: 'x', extra: 1 });
  });

  it('follows JSON.stringify for the rest: undefined dropped, NaN as null, toJSON called', () => {
    expect(dumps({ a: undefined, b: [undefined, Number.NaN], c: { toJSON: () => 'custom' } })).toBe('{"b":[null,null],"c":"custom"}');
  });

  it('writes plain JSON values, and the values around them that JSON.stringify changes, as JSON.stringify does', () => {
    class Point {
      constructor(
        readonly x: number,
        readonly y: number,
      ) {}
    }
    const values: unknown[] = [
      ['text', 42, 1.5, true, null, { nested: [{ deep: 'x'.repeat(200) }] }],
      Object.assign(Object.create(null) as object, { a: 1 }),
      [1, , 3], // a hole
      [new Point(1, 2)],
      { inner: { toJSON: () => 'custom' } },
      { zero: -0, list: [-0] },
    ];
    for (const value of values) expect(dumps(value)).toBe(JSON.stringify(value));
  });

  it('refuses a circular structure however deep its plain part goes', () => {
    const shallow: Record<string, unknown> = { a: 1 };
    shallow.self = shallow;
    let deep: Record<string, unknown> = { end: shallow };
    for (let i = 0; i < 100; i += 1) deep = { next: deep };
    expect(() => dumps(shallow)).toThrow('value.self cannot be sent as JSON (found a reference to an enclosing value (circular structure))');
    expect(() => dumps(deep)).toThrow(/cannot be sent as JSON \(found a reference to an enclosing value \(circular structure\)\)$/);
  });

  it('refuses an unknown tag and a malformed value', () => {
    expect(() => loads('{"__type__": "set", "__value__": [1]}')).toThrow(
      new InvalidMessageError('kombu JSON type "set" is not supported (known types: datetime, date, time, decimal, uuid, bytes, base64)'),
    );
    expect(() => loads('{"__type__": "datetime", "__value__": "soon"}')).toThrow(
      'kombu JSON datetime value must be an ISO 8601 date (found string "soon")',
    );
  });
});
