import {
  deadLetterHeaders,
  deliveryCountHeader,
  friendlyName,
  isBrokerHeader,
  isDeliveryCountHeader,
  previousDeliveries,
  queueArguments,
  recordedDeliveries,
  replyQueueSpec,
} from '../../../src/topology';
import { delayQueueArguments } from '../../../src/topology/arguments';
import { queueDefinition } from './fixtures';

describe('queueArguments', () => {
  it('gives a classic queue no x-queue-type, so it matches a queue declared with no arguments', () => {
    expect(queueArguments(queueDefinition('q'))).toStrictEqual({});
  });

  it('gives a quorum queue x-queue-type quorum', () => {
    expect(queueArguments(queueDefinition('q', { type: 'quorum' }))).toStrictEqual({ 'x-queue-type': 'quorum' });
  });

  it('maps every friendly option to its x- argument', () => {
    const queue = queueDefinition('q', {
      maxPriority: 10,
      messageTtl: 2000,
      maxLength: 500,
      deadLetterExchange: 'dlx',
      deadLetterRoutingKey: 'dead',
      expires: 60000,
    });
    expect(queueArguments(queue)).toStrictEqual({
      'x-max-priority': 10,
      'x-message-ttl': 2000,
      'x-max-length': 500,
      'x-dead-letter-exchange': 'dlx',
      'x-dead-letter-routing-key': 'dead',
      'x-expires': 60000,
    });
  });

  it('merges raw arguments underneath, the friendly option winning where both name one argument', () => {
    const queue = queueDefinition('q', {
      type: 'quorum',
      maxPriority: 5,
      arguments: { 'x-max-priority': 9, 'x-delivery-limit': 3, 'x-overflow': 'reject-publish' },
    });
    expect(queueArguments(queue)).toStrictEqual({
      'x-max-priority': 5,
      'x-delivery-limit': 3,
      'x-overflow': 'reject-publish',
      'x-queue-type': 'quorum',
    });
  });

  it('declares deliveryLimit N as x-delivery-limit N - 1, since the broker allows x-delivery-limit + 1 deliveries', () => {
    expect(queueArguments(queueDefinition('q', { type: 'quorum', deliveryLimit: 3 }))).toStrictEqual({
      'x-queue-type': 'quorum',
      'x-delivery-limit': 2,
    });
    expect(friendlyName('x-delivery-limit')).toBe('deliveryLimit');
  });

  it('gives a classic queue with deliveryLimit no argument: the worker counts its deliveries', () => {
    expect(queueArguments(queueDefinition('q', { deliveryLimit: 3 }))).toStrictEqual({});
  });

  it('leaves the definition untouched', () => {
    const queue = queueDefinition('q', { maxPriority: 5, arguments: Object.freeze({ 'x-overflow': 'drop-head' }) });
    queueArguments(queue);
    expect(queue.arguments).toStrictEqual({ 'x-overflow': 'drop-head' });
  });
});

describe('delayQueueArguments', () => {
  it('gives a classic level a TTL and a dead-letter exchange, nothing else', () => {
    expect(delayQueueArguments(4000, 'next')).toStrictEqual({ 'x-message-ttl': 4000, 'x-dead-letter-exchange': 'next' });
    expect(delayQueueArguments(4000, 'next', 'classic')).toStrictEqual(delayQueueArguments(4000, 'next'));
  });

  it('makes a quorum level dead-letter at least once, with reject-publish, without which the broker falls back to at most once', () => {
    expect(delayQueueArguments(1000, 'warren.delay.deliver', 'quorum')).toStrictEqual({
      'x-queue-type': 'quorum',
      'x-message-ttl': 1000,
      'x-dead-letter-exchange': 'warren.delay.deliver',
      'x-dead-letter-strategy': 'at-least-once',
      'x-overflow': 'reject-publish',
    });
  });

  it('sets no length limit on a level, so reject-publish never refuses a delayed message', () => {
    expect(Object.keys(delayQueueArguments(1000, 'next', 'quorum')).filter((key) => key.startsWith('x-max-length'))).toEqual([]);
  });
});

describe('friendlyName', () => {
  it('names the friendly option behind a broker argument', () => {
    expect(friendlyName('x-max-priority')).toBe('maxPriority');
    expect(friendlyName('x-message-ttl')).toBe('messageTtl');
    expect(friendlyName('x-max-length')).toBe('maxLength');
    expect(friendlyName('x-dead-letter-exchange')).toBe('deadLetterExchange');
    expect(friendlyName('x-dead-letter-routing-key')).toBe('deadLetterRoutingKey');
    expect(friendlyName('x-expires')).toBe('expires');
    expect(friendlyName('x-queue-type')).toBe('type');
    expect(friendlyName('auto_delete')).toBe('autoDelete');
  });

  it('has no friendly name for arguments that only exist raw', () => {
    expect(friendlyName('x-overflow')).toBeUndefined();
    expect(friendlyName('durable')).toBeUndefined();
  });
});

describe('replyQueueSpec', () => {
  it("declares the rpc reply queue as Celery 5.2 does: transient, auto-delete, x-expires one day", () => {
    expect(replyQueueSpec('a1b2')).toStrictEqual({
      name: 'a1b2',
      options: { durable: false, autoDelete: true, arguments: { 'x-expires': 86400000 } },
    });
    expect(replyQueueSpec('a1b2', { expiresMs: 5000 }).options.arguments).toStrictEqual({ 'x-expires': 5000 });
  });
});

describe('message headers', () => {
  it('knows the headers the broker adds, which a message published anew drops', () => {
    expect(['x-death', 'x-first-death-queue', 'x-first-death-reason', 'x-last-death-exchange', 'x-delivery-count'].every(isBrokerHeader)).toBe(true);
    expect(['x-warren-reason', 'x-match', 'task', 'x-deaths'].some(isBrokerHeader)).toBe(false);
  });

  it('reads a quorum queue\'s x-delivery-count and warren\'s own count, 0 when absent or odd', () => {
    expect(previousDeliveries({ 'x-delivery-count': 2 })).toBe(2);
    expect(previousDeliveries({ 'x-delivery-count': 'two' })).toBe(0);
    expect(previousDeliveries(undefined)).toBe(0);
    expect(recordedDeliveries(deliveryCountHeader(3))).toBe(3);
    expect(recordedDeliveries({})).toBe(0);
    expect(Object.keys(deliveryCountHeader(1)).every(isDeliveryCountHeader)).toBe(true);
  });

  it('says why, where, by whom and when a message was dead-lettered', () => {
    expect(deadLetterHeaders('not JSON', 'q1', 'warren@h', new Date('2030-01-02T03:04:05Z'))).toStrictEqual({
      'x-warren-reason': 'not JSON',
      'x-warren-queue': 'q1',
      'x-warren-worker': 'warren@h',
      'x-warren-dead-lettered-at': '2030-01-02T03:04:05.000Z',
    });
  });
});
