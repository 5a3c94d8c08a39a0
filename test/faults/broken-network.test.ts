import { createApp, createLogger, type App } from '../../src';
import { testBrokerUrl } from '../support/broker-url';
import { BrokerProbe, exampleTopology, randomPrefix, waitFor, writeDefinitionsFile } from '../support/broker';
import { TcpProxy } from '../support/tcp-proxy';
import { runCli, startTestWorker, type WorkerProcess } from '../support/worker-process';

/*
 * Broken networks, through a TCP proxy on loopback in front of the broker: an address that
 * accepts TCP and never answers AMQP, one that refuses, and a connection cut under a running
 * worker whose reconnect lands on the hung address before the network heals. The default
 * handshake timeout (5 s) bounds each attempt, so these take seconds each.
 */
const masked = (url: string): string => url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');

describe('broken networks', () => {
  const prefix = randomPrefix('broken-network');
  const topology = exampleTopology(prefix);
  const defs = writeDefinitionsFile(topology.definitions);
  const apps: App[] = [];
  const workers: WorkerProcess[] = [];
  const files: Array<{ remove(): void }> = [];
  let hung: TcpProxy;

  const app = (urls: readonly string[]): App => {
    const written = writeDefinitionsFile({ ...topology.definitions, broker: { urls } });
    files.push(written);
    const made = createApp({ definitions: written.file, logger: createLogger({ level: 'silent' }) });
    apps.push(made);
    return made;
  };

  beforeAll(async () => {
    hung = await TcpProxy.start({ mode: 'hang' });
  });

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop('SIGKILL')));
    await Promise.all(apps.map((a) => a.close()));
    await hung.close();
    const probe = await BrokerProbe.open();
    await probe.cleanUp(Object.values(topology.queues), topology.exchanges);
    await probe.close();
    defs.remove();
    files.forEach((file) => file.remove());
  });

  test('sendTask with urls [hung] rejects after the handshake timeout, naming the address and the cause', async () => {
    const began = Date.now();
    const error = await app([hung.url()])
      .sendTask(topology.tasks.deal1, ['x'], {}, { ignoreResult: true })
      .then(() => undefined, (err: Error & { code?: string }) => err);
    const waited = Date.now() - began;
    process.stdout.write(`[fault] sendTask with urls [hung]: rejected after ${waited} ms\n`);
    expect(error?.code).toBe('WARREN_BROKER_UNAVAILABLE');
    expect(error?.message).toBe(`could not connect to the broker at ${masked(hung.url())}: no answer within 5000 ms (TCP connect and AMQP handshake timed out)`);
    expect(waited).toBeLessThan(9000);
  });

  test('sendTask with urls [hung, good] is confirmed once the hung address timed out', async () => {
    const began = Date.now();
    await app([hung.url(), testBrokerUrl()]).sendTask(topology.tasks.deal1, ['x'], {}, { ignoreResult: true });
    const waited = Date.now() - began;
    process.stdout.write(`[fault] sendTask with urls [hung, good]: confirmed after ${waited} ms\n`);
    expect(waited).toBeLessThan(9000);
    const probe = await BrokerProbe.open();
    try {
      expect(await probe.messageCount(topology.queues.task1)).toBe(1);
    } finally {
      await probe.close();
    }
  });

  test.each([['worker', ['worker', '-A', 'test/fixtures/tasks/test-tasks.js']], ['send', ['send', 'some.task']]])(
    '`warren %s --broker <hung>` exits 1 within seconds, naming the cause and what to check',
    async (_command, args) => {
      const run = await runCli([...args, '--broker', hung.url(), '--definitions', defs.file], { WARREN_TEST_PREFIX: prefix }, 15_000);
      expect(run.code).toBe(1);
      expect(run.stderr.split('\n').filter((line) => !line.startsWith('{'))).toEqual([
        `warren: WARREN_BROKER_UNAVAILABLE: could not connect to the broker at ${masked(hung.url())}: no answer within 5000 ms (TCP connect and AMQP handshake timed out)`,
        'Something took the connection but never answered as an AMQP broker: check the host and port',
        '(5672 for amqp://, 5671 for amqps://) and any proxy or firewall on the way.',
        '',
      ]);
    },
  );

  test('a worker whose connection is cut and whose reconnect lands on a hung address consumes again once the network heals', async () => {
    const proxy = await TcpProxy.start();
    try {
      const worker = startTestWorker({
        prefix,
        definitions: defs.file,
        queues: [topology.queues.task2],
        name: 'healed@broken-network',
        extraArgs: ['--broker', proxy.url()],
      });
      workers.push(worker);
      await worker.ready;

      const cut = Date.now();
      await proxy.setMode('hang');
      proxy.cut();
      await waitFor(
        'a reconnect attempt to time out on the hung address',
        () => worker.logLines('broker connection attempt failed').some((line) => line.cause === 'timeout'),
        20_000,
      );
      const failed = worker.logLines('broker connection attempt failed').find((line) => line.cause === 'timeout')!;
      expect(failed).toMatchObject({ level: 40, broker: masked(proxy.url()), err: 'no answer within 5000 ms (TCP connect and AMQP handshake timed out)' });
      expect(worker.logLines('consuming again')).toHaveLength(0);

      await proxy.setMode('forward');
      const healed = Date.now();
      await waitFor('the worker to consume again', () => worker.logLines('consuming again').length === 1, 30_000);
      const consuming = Date.now();
      process.stdout.write(
        `[fault] connection cut, reconnect hung ${healed - cut} ms, consuming again ${consuming - healed} ms after the network healed\n`,
      );
      expect(worker.logLines('disconnected from broker; reconnecting')).toHaveLength(1);
      expect(worker.logLines('reconnected to broker')).toHaveLength(1);

      const probe = await BrokerProbe.open();
      try {
        expect(await probe.consumerCount(topology.queues.task2)).toBe(1);
      } finally {
        await probe.close();
      }
      const client = app([testBrokerUrl()]);
      const result = await client.sendTask<string>(topology.tasks.deal2, ['healed']);
      await expect(result.get({ timeout: 10_000 })).resolves.toBe('healed+++++++++');
      expect(result.worker).toBe('healed@broken-network');
    } finally {
      await proxy.close();
    }
  });
});
