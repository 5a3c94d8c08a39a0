import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { ClosedError, createApp, createLogger, type BeatEvents } from '../../src';
import { BrokerProbe, randomPrefix, waitFor, writeDefinitionsFile } from '../support/broker';
import { testBrokerUrl } from '../support/broker-url';
import { runProcess } from '../support/run-process';
import { REPO_ROOT } from '../support/worker-process';

const CLOSE_APP = join(REPO_ROOT, 'test', 'fixtures', 'close', 'close-app.js');
const DIST = join(REPO_ROOT, 'dist', 'src');

describe('app.close() is final', () => {
  let probe: BrokerProbe;
  const prefix = randomPrefix('close');
  const queue = `${prefix}.q`;
  const idle = `${prefix}.idle`;
  const defs = writeDefinitionsFile({
    broker: { url: testBrokerUrl() },
    queues: [{ name: queue }, { name: idle }],
    defaultQueue: queue,
    schedule: { tick: { task: `${prefix}.tick`, every: '1s', queue: idle } },
  });

  beforeAll(async () => {
    probe = await BrokerProbe.open();
  });

  afterAll(async () => {
    await probe.cleanUp([queue, idle]);
    await probe.close();
    defs.remove();
  });

  test('a script that sends a task, waits for its result and closes exits on its own at once; every call after close is refused', async () => {
    const run = await runProcess(process.execPath, [CLOSE_APP, DIST, defs.file, `${prefix}.nobody`, 'sent'], process.env, 20_000);
    const exitedAt = Date.now();
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as Record<string, unknown>;
    // Nothing (no socket, no timer of the pending get) kept the process alive after close.
    expect(exitedAt - Number(report.closedAt)).toBeLessThan(5000);
    expect(report.state).toBe('PENDING');
    expect(report.pendingGet).toMatch(/^ClosedError WARREN_CLOSED: the app was closed while the result of task [0-9a-f-]{36} was pending; it will not come$/);
    expect(report.getAfterClose).toBe(report.pendingGet);
    expect(report).toMatchObject({
      sendTask: `ClosedError WARREN_CLOSED: sendTask("${prefix}.nobody") refused: the app is closed`,
      startWorker: 'ClosedError WARREN_CLOSED: startWorker() refused: the app is closed',
      startBeat: 'ClosedError WARREN_CLOSED: startBeat() refused: the app is closed',
      declareTopology: 'ClosedError WARREN_CLOSED: declareTopology() refused: the app is closed',
      schedules: 'ClosedError WARREN_CLOSED: schedules refused: the app is closed',
      closeAgain: 'resolved',
    });
    // The task sent before close stays sent; the one refused after close never reached the broker.
    expect(await probe.messageCount(queue)).toBe(1);
    await probe.cleanUp([queue]);
  }, 30_000);

  test('close() stops a running worker and beat, rejects pending gets, and nothing is consumed or fired after it', async () => {
    const app = createApp({ definitions: defs.file, scheduleStore: join(defs.dir, 'state.json'), logger: createLogger({ level: 'silent' }) });
    let ran = 0;
    app.task(`${prefix}.count`, async () => {
      ran += 1;
      return ran;
    });
    await app.startWorker({ queues: [queue] });
    const beat = await app.startBeat({ lockSuffix: prefix });
    const beatEvents: Array<keyof BeatEvents> = [];
    beat.on('fired', () => beatEvents.push('fired'));
    beat.on('closed', () => beatEvents.push('closed'));
    const done = await app.sendTask(`${prefix}.count`);
    await expect(done.get({ timeout: 5000 })).resolves.toBe(1);
    const never = await app.sendTask(`${prefix}.never`, [], {}, { queue: idle });
    const waiting = never.get({ timeout: Infinity }).catch((e: unknown) => e);
    await waitFor('a beat fire', () => beatEvents.includes('fired'), 5000);

    await app.close();

    const error = await waiting;
    expect(error).toBeInstanceOf(ClosedError);
    expect(beatEvents.at(-1)).toBe('closed');
    expect(beat.isLeader).toBe(false);
    // Stopped consuming: a task sent now by someone else stays in the queue.
    await probe.cleanUp([queue]);
    await probe.declareQueue(queue, { durable: true });
    await probe.sendRaw(queue, Buffer.from('{}'), { contentType: 'application/json', headers: { id: 'x', task: `${prefix}.count` } });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await probe.messageCount(queue)).toBe(1);
    expect(await probe.consumerCount(queue)).toBe(0);
  }, 30_000);

  test('a close during the first connect (an address that accepts TCP and never answers) leaves no connection behind: the script exits on its own', async () => {
    const sockets = new Set<Socket>();
    let accepted = 0;
    const hung = createServer((socket) => {
      accepted += 1;
      sockets.add(socket);
      socket.resume(); // swallows the client's bytes and answers nothing
      socket.on('error', () => undefined);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve));
    const port = (hung.address() as { port: number }).port;
    const hungDefs = writeDefinitionsFile({ broker: { url: `amqp://guest:guest@127.0.0.1:${port}/` }, queues: [{ name: queue }], defaultQueue: queue });
    try {
      const run = await runProcess(process.execPath, [CLOSE_APP, DIST, hungDefs.file, `${prefix}.nobody`, 'connecting'], process.env, 30_000);
      const exitedAt = Date.now();
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      const report = JSON.parse(run.stdout) as Record<string, unknown>;
      expect(report.sendDuringConnect).toBe(`ClosedError WARREN_CLOSED: sendTask("${prefix}.nobody") interrupted: the app was closed meanwhile`);
      expect(report.sendTask).toBe(`ClosedError WARREN_CLOSED: sendTask("${prefix}.nobody") refused: the app is closed`);
      expect(accepted).toBeGreaterThanOrEqual(1);
      // The script's connect timeout is 60 s: it ended well before, by itself, and closed its socket.
      expect(exitedAt - Number(report.closedAt)).toBeLessThan(10_000);
      await waitFor('the hung connection closed', () => sockets.size === 0, 5000);
    } finally {
      hungDefs.remove();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => hung.close(resolve));
    }
  }, 45_000);
});
