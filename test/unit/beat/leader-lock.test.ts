import { LeaderLock, type LockLoss } from '../../../src/beat/leader-lock';
import { MemoryBroker, type MemoryTransport } from '../../../src/transport/memory';
import { memoryConnection, until } from '../../support/memory';

/*
 * The beat's leader lock on the memory broker, whose exclusive queues behave as RabbitMQ's:
 * 405 for another connection, gone with the owner's connection.
 */

let broker: MemoryBroker;
let transports: MemoryTransport[];

beforeEach(() => {
  broker = new MemoryBroker({ name: 'lock' });
  transports = [];
});

afterEach(async () => {
  await Promise.all(transports.map((t) => t.close()));
});

async function lockOnOwnConnection(suffix = 'unit'): Promise<{ lock: LeaderLock; transport: MemoryTransport; losses: LockLoss[] }> {
  const transport = await memoryConnection(broker);
  transports.push(transport);
  const lock = new LeaderLock({ connection: { createChannel: () => transport.openChannel() }, suffix });
  const losses: LockLoss[] = [];
  lock.onLost((loss) => losses.push(loss));
  return { lock, transport, losses };
}

describe('leader lock on memory://', () => {
  test('one holder at a time: a second connection is refused while the first holds the lock', async () => {
    const first = await lockOnOwnConnection();
    const second = await lockOnOwnConnection();
    expect(await first.lock.tryAcquire()).toBe(true);
    expect(await second.lock.tryAcquire()).toBe(false);
    expect(await first.lock.tryAcquire()).toBe(true);
    expect(first.lock.isHeld()).toBe(true);
    expect(second.lock.isHeld()).toBe(false);
    expect(broker.queue('warren.beat.lock.unit')).toMatchObject({ exclusive: true, durable: false, consumerCount: 1 });
  });

  test('concurrent attempts of one lock share one declare', async () => {
    const { lock } = await lockOnOwnConnection();
    const results = await Promise.all([lock.tryAcquire(), lock.tryAcquire(), lock.tryAcquire()]);
    expect(results).toEqual([true, true, true]);
    expect(broker.queue('warren.beat.lock.unit')?.consumerCount).toBe(1);
  });

  test('release hands the lock to the next attempt at once, with no loss reported', async () => {
    const first = await lockOnOwnConnection();
    const second = await lockOnOwnConnection();
    await first.lock.tryAcquire();
    await first.lock.release();
    expect(broker.queue('warren.beat.lock.unit')).toBeUndefined();
    expect(await second.lock.tryAcquire()).toBe(true);
    expect(first.losses).toEqual([]);
  });

  test('the holder\'s connection dropping loses the lock, reported at once, and another takes it', async () => {
    const first = await lockOnOwnConnection();
    const second = await lockOnOwnConnection();
    await first.lock.tryAcquire();
    broker.dropConnection(broker.queue('warren.beat.lock.unit')!.owner!);
    await until(() => first.losses.length === 1, 'the loss');
    expect(first.losses).toEqual([{ reason: 'the broker connection or the lock channel closed' }]);
    expect(first.lock.isHeld()).toBe(false);
    expect(await second.lock.tryAcquire()).toBe(true);
    // The old holder, reconnected, is now the follower.
    await until(() => first.transport.isConnected(), 'the reconnect');
    expect(await first.lock.tryAcquire()).toBe(false);
  });

  test('the lock queue deleted under the holder: the broker cancels its consumer, the loss is reported, and it can take the lock again', async () => {
    const { lock, losses } = await lockOnOwnConnection();
    await lock.tryAcquire();
    broker.deleteQueue('warren.beat.lock.unit');
    await until(() => losses.length === 1, 'the loss');
    expect(losses[0].reason).toBe('the broker cancelled the lock consumer: the lock queue was deleted');
    expect(await lock.tryAcquire()).toBe(true);
  });

  test('false, not an error, while the connection is down', async () => {
    const { lock } = await lockOnOwnConnection();
    broker.stop();
    await expect(lock.tryAcquire()).resolves.toBe(false);
    broker.start();
  });

  test('locks with different suffixes do not exclude each other', async () => {
    const a = await lockOnOwnConnection('a');
    const b = await lockOnOwnConnection('b');
    expect(await a.lock.tryAcquire()).toBe(true);
    expect(await b.lock.tryAcquire()).toBe(true);
  });
});
