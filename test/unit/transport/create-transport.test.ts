import { UsageError } from '../../../src/errors';
import { BrokerConnection, createTransport } from '../../../src/transport';
import { memoryBroker, MemoryTransport, resetMemoryBroker } from '../../../src/transport/memory';
import { silent } from '../../support/memory';

describe('createTransport', () => {
  test('amqp:// and amqps:// URLs get a BrokerConnection, which connects nowhere before start()', () => {
    const transport = createTransport({ urls: ['amqp://guest:secret@localhost:5999/', 'amqps://other/'], logger: silent });
    expect(transport).toBeInstanceOf(BrokerConnection);
    expect(transport.broker).toBe('amqp://guest:***@localhost:5999/, amqps://other/');
    expect(transport.isConnected()).toBe(false);
  });

  test('memory:// is the process-wide default memory broker; memory://<name> a separate one', async () => {
    const a = createTransport({ urls: ['memory://'], logger: silent });
    const b = createTransport({ urls: ['memory://other'], logger: silent });
    expect(a).toBeInstanceOf(MemoryTransport);
    expect((a as MemoryTransport).memoryBroker).toBe(memoryBroker());
    expect((b as MemoryTransport).memoryBroker).toBe(memoryBroker('other'));
    expect([a.broker, b.broker]).toEqual(['memory://', 'memory://other']);
    expect((createTransport({ urls: ['MEMORY://other'], logger: silent }) as MemoryTransport).memoryBroker).toBe(memoryBroker('other'));
    await a.start();
    await b.start();
    await (await a.openChannel()).assertQueue('only-in-default', {});
    expect(memoryBroker().queue('only-in-default')).toBeDefined();
    expect(memoryBroker('other').queue('only-in-default')).toBeUndefined();
    await a.close();
    await b.close();
    resetMemoryBroker();
    resetMemoryBroker('other');
  });

  test('memory:// with another URL is refused, naming them (password masked)', () => {
    expect(() => createTransport({ urls: ['memory://', 'amqp://guest:secret@localhost/'], logger: silent })).toThrow(
      new UsageError(
        'broker URLs "memory://", "amqp://guest:***@localhost/" mix memory:// with other brokers or give it twice; ' +
          'a memory broker lives in this process and has no failover: give one memory:// URL alone',
      ),
    );
  });

  test('no URL at all is refused', () => {
    expect(() => createTransport({ urls: [], logger: silent })).toThrow('no broker URL given (expected amqp://, amqps:// or memory://)');
  });
});
