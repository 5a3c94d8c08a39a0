import { EventEmitter } from 'node:events';
import { EventDispatcher, EventReceiver, LamportClock } from '../../../src/control';
import { WorkerEventReporter } from '../../../src/control/worker-event-reporter';
import { MemoryBroker } from '../../../src/transport/memory';
import type { Transport, TransportChannel } from '../../../src/transport';
import type { Worker } from '../../../src/worker';
import { captureLogger } from '../../support/capture-logger';
import { memoryConnection, silent, until } from '../../support/memory';

/** A channel whose buffers fill after `room` publishes and drain when the test says. */
class PushingBackChannel extends EventEmitter {
  readonly published: Array<{ routingKey: string; body: string }> = [];
  constructor(private room: number) {
    super();
  }
  publish(_exchange: string, routingKey: string, content: Buffer): boolean {
    this.published.push({ routingKey, body: content.toString() });
    this.room -= 1;
    return this.room > 0;
  }
  drain(room: number): void {
    this.room = room;
    this.emit('drain');
  }
  async close(): Promise<void> {
    this.emit('close');
  }
}

function stubTransport(channel: PushingBackChannel): Transport {
  return {
    broker: 'stub',
    start: async () => undefined,
    isConnected: () => true,
    onConnect: () => () => undefined,
    openChannel: async () => channel as unknown as TransportChannel,
    withTemporaryChannel: async (work: (ch: TransportChannel) => Promise<unknown>) => work({ assertExchange: async () => undefined } as unknown as TransportChannel),
  } as unknown as Transport;
}

describe('EventDispatcher: fire-and-forget, bounded, dropped and counted under back-pressure', () => {
  test('when the broker pushes back, events wait in a bounded buffer; past it they are dropped, counted, and warned about once', async () => {
    const channel = new PushingBackChannel(2);
    const { logger, lines } = captureLogger();
    const dropped: string[] = [];
    const dispatcher = new EventDispatcher({
      transport: stubTransport(channel),
      source: { hostname: 'w@h', pid: 1 },
      clock: new LamportClock(),
      logger,
      maxBuffered: 3,
      onDropped: (type) => dropped.push(type),
    });
    await dispatcher.start();
    for (let i = 0; i < 8; i += 1) dispatcher.send('worker-heartbeat', { n: i });
    // 2 written (the second filled the buffers), 3 held, 3 dropped.
    expect(channel.published).toHaveLength(2);
    expect(dispatcher.dropped).toBe(3);
    expect(dropped).toEqual(['worker-heartbeat', 'worker-heartbeat', 'worker-heartbeat']);
    expect(lines().filter((l) => String(l.msg).startsWith('Celery event dropped'))).toHaveLength(1);
    channel.drain(100);
    expect(channel.published.map((p) => (JSON.parse(p.body) as { n: number }).n)).toEqual([0, 1, 2, 3, 4]);
    await dispatcher.close();
  });

  test('a group not sent costs nothing; batched groups go out as one task.multi list per turn', async () => {
    const channel = new PushingBackChannel(1000);
    const dispatcher = new EventDispatcher({ transport: stubTransport(channel), source: { hostname: 'w@h', pid: 1 }, clock: new LamportClock(), logger: silent, groups: ['worker'], batchGroups: ['task'], batchLimit: 3 });
    await dispatcher.start();
    dispatcher.send('task-started', { uuid: 'x' });
    expect(channel.published).toHaveLength(0);
    expect(dispatcher.enableGroup('task')).toBe(true);
    for (const uuid of ['a', 'b', 'c', 'd']) dispatcher.send('task-started', { uuid });
    expect(channel.published.map((p) => p.routingKey)).toEqual(['task.multi']); // the limit of 3 reached
    await new Promise((resolve) => setImmediate(resolve));
    expect(channel.published.map((p) => [p.routingKey, (JSON.parse(p.body) as Array<{ uuid: string }>).map((e) => e.uuid)])).toEqual([
      ['task.multi', ['a', 'b', 'c']],
      ['task.multi', ['d']],
    ]);
    await dispatcher.close();
  });
});

describe('WorkerEventReporter', () => {
  test('worker-online, a heartbeat every interval with active and processed, worker-offline', () => {
    jest.useFakeTimers();
    try {
      const sent: Array<{ type: string; fields: Record<string, unknown> }> = [];
      const dispatcher = { send: (type: string, fields: Record<string, unknown>) => sent.push({ type, fields }), sends: () => true } as unknown as EventDispatcher;
      const worker = Object.assign(new EventEmitter(), { active: 1, startedRuns: 7 }) as unknown as Worker;
      const reporter = new WorkerEventReporter(worker, dispatcher, 2);
      reporter.goOnline();
      jest.advanceTimersByTime(4100);
      reporter.goOffline();
      jest.advanceTimersByTime(4000);
      expect(sent.map((e) => e.type)).toEqual(['worker-online', 'worker-heartbeat', 'worker-heartbeat', 'worker-offline']);
      expect(sent[1].fields).toMatchObject({ freq: 2, active: 1, processed: 7, sw_ident: 'warren', sw_sys: expect.any(String) });
      expect((sent[1].fields.loadavg as number[]).length).toBe(3);
    } finally {
      jest.useRealTimers();
    }
  });
});

describe('EventReceiver', () => {
  test('a malformed event is left out with its reason logged; the next one comes through', async () => {
    const broker = new MemoryBroker();
    const transport = await memoryConnection(broker);
    const { logger, lines } = captureLogger();
    const events: string[] = [];
    const receiver = new EventReceiver({ transport, clock: new LamportClock(), logger, onEvent: (e) => events.push(e.type) });
    await receiver.start();
    const json = { contentType: 'application/json', contentEncoding: 'utf-8' };
    broker.publish('celeryev', 'worker.heartbeat', Buffer.from('not json'), json);
    broker.publish('celeryev', 'task.multi', Buffer.from('[{"type": "task-started", "clock": 1}, {"hostname": "x"}]'), json);
    broker.publish('celeryev', 'worker.heartbeat', Buffer.from('{"type": "worker-heartbeat"}'), { contentType: 'application/x-python-serialize' });
    await until(() => lines().filter((l) => l.msg === 'malformed event ignored').length === 3, 'three reasons');
    expect(events).toEqual(['task-started']);
    expect(lines().filter((l) => l.msg === 'malformed event ignored').map((l) => l.reason)).toEqual([
      expect.stringMatching(/^body is not JSON/),
      'an event has no type (found nothing)',
      'content type string "application/x-python-serialize" is not application/json',
    ]);
    await receiver.close();
    await transport.close();
  });
});
