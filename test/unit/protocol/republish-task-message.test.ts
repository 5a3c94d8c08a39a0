import { decodeTaskMessage, encodeTaskMessage, republishTaskMessage } from '../../../src/protocol';

const sent = encodeTaskMessage({
  id: 'id-1',
  task: 'app.pay',
  args: [1, { a: 2 }],
  kwargs: { k: 'v' },
  replyTo: 'reply-q',
  priority: 3,
  expires: new Date('2030-01-01T00:00:00Z'),
  now: new Date('2029-12-31T23:00:00Z'),
  headers: { stamp: 's' },
  embed: { callbacks: [{ task: 'app.next' }] },
});

function received(extraHeaders: Record<string, unknown> = {}) {
  return { content: sent.body, properties: { ...sent.properties, headers: { ...sent.properties.headers, ...extraHeaders } } };
}

describe('republishTaskMessage', () => {
  test('a retry keeps body and properties, bumps retries, sets the eta, and drops expiration', () => {
    const message = received();
    const task = decodeTaskMessage(message);
    const eta = new Date('2030-01-01T00:00:05.250Z');
    const next = republishTaskMessage(message, task, { retries: 1, eta });
    expect(next.body).toBe(sent.body);
    expect(next.properties).toStrictEqual({
      deliveryMode: 2,
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      correlationId: 'id-1',
      replyTo: 'reply-q',
      priority: 3,
      headers: { ...sent.properties.headers, retries: 1, eta: '2030-01-01T00:00:05.250000+00:00' },
    });
    const decoded = decodeTaskMessage({ content: next.body, properties: next.properties });
    expect(decoded).toMatchObject({ id: 'id-1', retries: 1, eta, expires: task.expires, args: task.args, embed: task.embed });
  });

  test('drops the headers it is told to (the broker\'s and the delay levels\')', () => {
    const message = received({ 'x-death': [{ queue: 'q' }], 'warren-delay-bit-0': '1' });
    const task = decodeTaskMessage(message);
    const next = republishTaskMessage(message, task, { dropHeader: (name) => name === 'x-death' || name.startsWith('warren-delay-') });
    expect(next.properties.headers).not.toHaveProperty('x-death');
    expect(next.properties.headers).not.toHaveProperty('warren-delay-bit-0');
    expect(next.properties.headers).toMatchObject({ stamp: 's', retries: 0, eta: null });
  });

  test('a protocol 1 message is sent on as protocol 2, with the same id, correlation id and reply queue', () => {
    const v1 = {
      content: Buffer.from(JSON.stringify({ task: 'app.pay', id: 'id-v1', args: [1], kwargs: {}, retries: 2 })),
      properties: { contentType: 'application/json', contentEncoding: 'utf-8', correlationId: 'corr', replyTo: 'r', headers: {} },
    };
    const task = decodeTaskMessage(v1);
    const next = republishTaskMessage(v1, task, { retries: 3 });
    const decoded = decodeTaskMessage({ content: next.body, properties: next.properties });
    expect(decoded).toMatchObject({ protocol: 2, id: 'id-v1', task: 'app.pay', args: [1], retries: 3, replyTo: 'r', correlationId: 'corr' });
    expect(next.properties.expiration).toBeUndefined();
  });
});
