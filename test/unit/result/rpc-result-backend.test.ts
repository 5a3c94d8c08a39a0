import { encodeResultMessage } from '../../../src/protocol';
import { RpcResultBackend } from '../../../src/result';
import { MemoryBroker, type MemoryTransport } from '../../../src/transport/memory';
import { memoryConnection, silent, until } from '../../support/memory';

/*
 * The rpc result backend on the memory broker: results published to the reply queue reach
 * the AsyncResult of their task, and the reply queue (auto-delete, gone with its connection)
 * is declared and consumed again after a reconnect.
 */

let broker: MemoryBroker;
let transport: MemoryTransport;
let backend: RpcResultBackend;

beforeEach(async () => {
  broker = new MemoryBroker({ name: 'results' });
  transport = await memoryConnection(broker);
  backend = new RpcResultBackend(transport, silent, 'replies-unit');
  await backend.start();
});

afterEach(async () => {
  await backend.close();
  await transport.close();
});

/** Publishes a result message for `taskId` to the reply queue, as a worker would; false if no queue took it. */
function publishResult(taskId: string, status: 'SUCCESS' | 'STARTED' | 'FAILURE', result: unknown): boolean {
  const { body, properties } = encodeResultMessage({ taskId, status, result, traceback: null, correlationId: taskId });
  return broker.publish('', 'replies-unit', body, properties);
}

describe('rpc result backend on memory://', () => {
  test('declares the reply queue as Celery 5.2 does: not durable, auto-delete, x-expires one day, consumed', () => {
    expect(broker.queue('replies-unit')).toMatchObject({
      durable: false,
      autoDelete: true,
      exclusive: false,
      arguments: { 'x-expires': 86_400_000 },
      consumerCount: 1,
    });
  });

  test('results reach the AsyncResult of their task, states in order; other tasks\' results are ignored', async () => {
    const result = backend.track<number>('task-1');
    publishResult('someone-else', 'SUCCESS', 1);
    publishResult('task-1', 'STARTED', { pid: 1 });
    publishResult('task-1', 'SUCCESS', 7);
    expect(await result.get({ timeout: 5000 })).toBe(7);
    expect(result.history).toEqual(['PENDING', 'STARTED', 'SUCCESS']);
  });

  test('a message that is not a result is dropped, and later results still arrive', async () => {
    const result = backend.track<string>('task-2');
    broker.publish('', 'replies-unit', Buffer.from('not json'), { contentType: 'application/json' });
    publishResult('task-2', 'SUCCESS', 'fine');
    expect(await result.get({ timeout: 5000 })).toBe('fine');
  });

  test('after a connection drop the reply queue is declared again and consumed; results flow again', async () => {
    broker.dropConnections();
    await until(() => broker.queue('replies-unit') === undefined, 'the auto-delete queue to go with its consumer');
    await until(() => broker.queue('replies-unit')?.consumerCount === 1, 'the reply queue declared and consumed again');
    await backend.whenReady(1000);
    const result = backend.track<string>('task-3');
    expect(publishResult('task-3', 'SUCCESS', 'after the drop')).toBe(true);
    expect(await result.get({ timeout: 5000 })).toBe('after the drop');
  });

  test('whenReady waits for the reply queue while the broker is down, and rejects after its timeout naming the broker', async () => {
    broker.stop();
    await until(() => !transport.isConnected(), 'the disconnect');
    await expect(backend.whenReady(20)).rejects.toMatchObject({
      code: 'WARREN_BROKER_UNAVAILABLE',
      message: expect.stringMatching(/^the reply queue replies-unit on the broker at memory:\/\/results was not declared again within 20 ms/),
    });
    const ready = backend.whenReady(2000);
    broker.start();
    await ready;
    expect(broker.queue('replies-unit')?.consumerCount).toBe(1);
  });

  test('the reply queue deleted by hand is declared again', async () => {
    broker.deleteQueue('replies-unit');
    await until(() => broker.queue('replies-unit')?.consumerCount === 1, 'the reply queue back');
    const result = backend.track<string>('task-4');
    publishResult('task-4', 'SUCCESS', 'back');
    expect(await result.get({ timeout: 5000 })).toBe('back');
  });
});
