import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { GetMessage } from 'amqplib';
import { waitFor } from '../support/broker';
import { testBrokerUrl } from '../support/broker-url';
import { captureLogger } from '../support/capture-logger';
import { brokerSuite } from '../support/example-suite';

describe('dead-letter queues and poison messages', () => {
  const dlq = (queue: string): string => `${queue}.dlq`;
  const names = (prefix: string) => ({
    exchange: `${prefix}.x`,
    queues: {
      work: `${prefix}.work`,
      quorum: `${prefix}.quorum`,
      classic: `${prefix}.classic`,
      crowded: `${prefix}.crowded`,
      crowdedQuorum: `${prefix}.crowded-quorum`,
    },
  });
  const suite = brokerSuite('dlq', (prefix) => {
    const { exchange, queues } = names(prefix);
    const all = Object.values(queues);
    return {
      definitions: {
        broker: { url: testBrokerUrl() },
        exchanges: [{ name: exchange, type: 'direct' }],
        queues: [
          { name: queues.work, exchange, routingKey: 'work', deadLetterQueue: true },
          { name: queues.quorum, exchange, routingKey: 'quorum', type: 'quorum', deliveryLimit: 3, deadLetterQueue: true },
          { name: queues.classic, exchange, routingKey: 'classic', deliveryLimit: 2, deadLetterQueue: true },
          { name: queues.crowded, exchange, routingKey: 'crowded', deliveryLimit: 2, deadLetterQueue: true },
          { name: queues.crowdedQuorum, exchange, routingKey: 'crowded-quorum', type: 'quorum', deliveryLimit: 2, deadLetterQueue: true },
        ],
        defaultQueue: queues.work,
      },
      queues: [...all, ...all.map(dlq)],
      exchanges: [exchange, ...all.map(dlq)],
    };
  });
  const { prefix } = suite;
  const { queues } = names(prefix);
  const marks = join(suite.defs.dir, 'marks.txt');

  const started = (label: string): string[] =>
    (existsSync(marks) ? readFileSync(marks, 'utf8').trim().split('\n') : []).filter((line) => line.startsWith(`${label} `));
  /** Every message in a queue, taken off it. */
  const drain = async (queue: string): Promise<GetMessage[]> => {
    const taken: GetMessage[] = [];
    for (let message = await suite.probe.get(queue); message !== false; message = await suite.probe.get(queue)) taken.push(message);
    return taken;
  };

  test('invalid messages and unknown tasks end in the dead-letter queue, unchanged, with headers that say why', async () => {
    const logs = captureLogger('info');
    const workerApp = suite.app(logs.logger);
    const ran: string[] = [];
    workerApp.task(`${prefix}.ok`, (label: string) => {
      ran.push(label);
      return label;
    });
    await workerApp.startWorker({ queues: [queues.work], concurrency: 2 });

    const v2 = (task: string, id: string) => ({ contentType: 'application/json', contentEncoding: 'utf-8', headers: { task, id } });
    const bad = [
      { body: 'this is not json', options: v2(`${prefix}.ok`, 'bad-json'), reason: /not valid JSON/ },
      { body: '[[1], {}, {}]', options: { contentType: 'application/x-python-serialize', headers: { task: `${prefix}.ok`, id: 'pickle' } }, reason: /application\/x-python-serialize/ },
      { body: '[1, 2]', options: v2(`${prefix}.ok`, 'bad-shape'), reason: /\[args, kwargs, embed\]/ },
      { body: '[[], {}, {}]', options: v2(`${prefix}.no.such.task`, 'unknown'), reason: new RegExp(`^task "${prefix}.no.such.task" is not registered on this worker$`) },
    ];
    for (const [index, message] of bad.entries()) {
      await suite.probe.sendRaw(queues.work, Buffer.from(message.body), message.options);
      // Valid tasks in between: each still runs.
      const result = await suite.client.sendTask(`${prefix}.ok`, [`valid-${index}`]);
      await expect(result.get({ timeout: 5000 })).resolves.toBe(`valid-${index}`);
    }
    await waitFor('four dead letters', async () => (await suite.probe.messageCount(dlq(queues.work))) === 4);

    const dead = await drain(dlq(queues.work));
    expect(dead.map((m) => m.content.toString())).toEqual(bad.map((m) => m.body));
    dead.forEach((message, index) => {
      const headers = message.properties.headers ?? {};
      expect(headers['x-warren-reason']).toMatch(bad[index].reason);
      expect(headers['x-warren-queue']).toBe(queues.work);
      expect(headers['x-warren-worker']).toMatch(/^warren@/);
      expect(Date.parse(headers['x-warren-dead-lettered-at'] as string)).toBeGreaterThan(Date.now() - 60_000);
      expect(headers.id).toBe(bad[index].options.headers.id);
      expect(message.properties.deliveryMode).toBe(2);
    });
    expect(ran).toEqual(['valid-0', 'valid-1', 'valid-2', 'valid-3']);
    expect(await suite.probe.messageCount(queues.work)).toBe(0);
    const logged = logs.lines().filter((l) => l.msg === 'message rejected: not a valid task');
    expect(logged.map((l) => l.deadLetterExchange)).toEqual(bad.map(() => dlq(queues.work)));
  });

  /**
   * Sends a worker-killing task and ten ordinary ones to `queue`, then keeps one `-c 1` worker
   * process running (a new one each time one dies) until the killer is in the dead-letter queue
   * and every ordinary task has its result.
   */
  async function poisonRun(
    queue: string,
    label: string,
    crowd: { concurrency: number; prefetchMultiplier: number; ordinaryMs: number } = { concurrency: 1, prefetchMultiplier: 1, ordinaryMs: 20 },
  ): Promise<{ deaths: number; dead: GetMessage[] }> {
    const killer = await suite.client.sendTask(`${prefix}.die`, [label], {}, { queue, ignoreResult: true });
    const ordinary = await Promise.all(
      Array.from({ length: 10 }, (_, i) => suite.client.sendTask(`${prefix}.slow`, [`${label}-ok-${i}`, crowd.ordinaryMs], {}, { queue })),
    );
    const done = Promise.all(ordinary.map((r) => r.get({ timeout: 60_000 })));
    let deaths = 0;
    let finished = false;
    void done.then(() => (finished = true), () => undefined);
    while (!(finished && (await suite.probe.messageCount(dlq(queue))) === 1)) {
      if (deaths > 6) throw new Error(`the worker died ${deaths} times and the poison message is still not dead-lettered`);
      const worker = suite.workerProcess({
        queues: [queue], name: `${label}-${deaths}@test`, concurrency: crowd.concurrency,
        env: { WARREN_TEST_MARKS: marks }, extraArgs: ['--prefetch-multiplier', String(crowd.prefetchMultiplier)],
      });
      worker.ready.catch(() => undefined); // a worker may die of the poison message before it logs that it is ready
      const exited = worker.exited.then(() => 'exited' as const);
      const goal = waitFor('the poison message dead-lettered and every ordinary task done', async () => finished && (await suite.probe.messageCount(dlq(queue))) === 1, 30_000).then(() => 'done' as const);
      if ((await Promise.race([exited, goal])) === 'exited') deaths += 1;
      else await worker.stop('SIGTERM');
    }
    await expect(done).resolves.toHaveLength(10);
    const dead = await drain(dlq(queue));
    expect(dead.map((m) => m.properties.headers?.id)).toEqual([killer.id]);
    process.stdout.write(`${label}: ${started(label).length} deliveries of the poison message, ${deaths} worker deaths, 10 of 10 ordinary tasks done\n`);
    return { deaths, dead };
  }

  test('quorum queue, deliveryLimit 3: a task that kills its worker runs 3 times, then warren dead-letters it with the reason; the others complete', async () => {
    const { deaths, dead } = await poisonRun(queues.quorum, 'quorum-killer');
    expect(started('quorum-killer').map((line) => line.split(' ')[2])).toEqual(['false', 'true', 'true']); // ctx.redelivered
    expect(deaths).toBe(3);
    expect(dead[0].properties.headers).toMatchObject({
      'x-warren-reason': 'delivered 3 times without finishing (deliveryLimit 3): a poison message',
      'x-warren-queue': queues.quorum,
    });
    expect(await suite.probe.messageCount(queues.quorum)).toBe(0);
  }, 90_000);

  test('classic queue, deliveryLimit 2: warren counts the deliveries, then dead-letters it with the reason', async () => {
    const { deaths, dead } = await poisonRun(queues.classic, 'classic-killer');
    // The second run is the copy warren's count sent round: still a redelivery to the task.
    expect(started('classic-killer').map((line) => line.split(' ')[2])).toEqual(['false', 'true']);
    expect(deaths).toBe(2);
    expect(dead[0].properties.headers).toMatchObject({
      'x-warren-reason': 'delivered 2 times without finishing (deliveryLimit 2): a poison message',
      'x-warren-queue': queues.classic,
    });
    expect(await suite.probe.messageCount(queues.classic)).toBe(0);
  }, 90_000);

  // A killer among innocents, with several tasks running and more prefetched when it strikes:
  // every innocent is flagged redelivered after each death, and counted once; but a redelivered
  // message then runs alone, so only the killer is lost again, and only the killer reaches the limit.
  for (const [kind, key] of [['classic', 'crowded'], ['quorum', 'crowdedQuorum']] as const) {
    test(`${kind} queue, deliveryLimit 2, -c 2 with 6 prefetched: only the poison message is dead-lettered, every innocent one completes`, async () => {
      const label = `${kind}-crowd-killer`;
      const { deaths, dead } = await poisonRun(queues[key], label, { concurrency: 2, prefetchMultiplier: 3, ordinaryMs: 300 });
      expect(deaths).toBe(2);
      expect(dead).toHaveLength(1);
      expect(dead[0].properties.headers).toMatchObject({
        'x-warren-reason': 'delivered 2 times without finishing (deliveryLimit 2): a poison message',
        'x-warren-queue': queues[key],
      });
      expect(await suite.probe.messageCount(queues[key])).toBe(0);
    }, 90_000);
  }
});
