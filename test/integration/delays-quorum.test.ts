/**
 * Delays in quorum delay levels (`delays: { queueType: quorum }`) on the test broker: a countdown
 * task and a retry with exponential backoff wait in `warren.delay.quorum.*` (quorum queues that
 * dead-letter at least once), never in the classic levels, and arrive on time. The suite runs in a
 * vhost of its own, so that the levels it creates are its own, seen by nothing else, and deleted
 * after it.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createApp, createLogger, type App, type TaskContext } from '../../src';
import { BrokerProbe, randomPrefix, waitFor, writeDefinitionsFile } from '../support/broker';
import { createTestVhost, type TestVhost } from '../support/vhost';
import { runCli } from '../support/worker-process';

const run = promisify(execFile);

class Flaky extends Error {
  override name = 'Flaky';
}

/** Which delay-level queues held a message while `sampling`: polled every 50 ms with passive declares. */
class LevelSampler {
  readonly held = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly probe: BrokerProbe,
    private readonly queues: readonly string[],
  ) {}

  start(): void {
    const tick = async (): Promise<void> => {
      for (const queue of this.queues) if ((await this.probe.messageCount(queue)) > 0) this.held.add(queue);
      if (!this.stopped) this.timer = setTimeout(() => (this.running = tick()), 50);
    };
    this.running = tick();
  }

  /** Stops polling; rejects if a poll failed (a level missing). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }
}

describe('delays in quorum delay levels', () => {
  const prefix = randomPrefix('delays-quorum');
  const queue = `${prefix}.jobs`;
  const ran: Array<{ label: string; retries: number; eta: Date | null; at: number }> = [];
  let vhost: TestVhost;
  let defs: ReturnType<typeof writeDefinitionsFile>;
  let probe: BrokerProbe;
  let worker: App;
  let client: App;

  beforeAll(async () => {
    vhost = await createTestVhost('delays-quorum');
    defs = writeDefinitionsFile({
      broker: { url: vhost.url },
      exchanges: [{ name: queue, type: 'direct' }],
      queues: [{ name: queue, exchange: queue, routingKey: 'jobs' }],
      defaultQueue: queue,
      delays: { queueType: 'quorum' },
    });
    probe = await BrokerProbe.open(vhost.url);
    const logger = createLogger({ level: 'silent' });
    worker = createApp({ definitions: defs.file, logger });
    worker.task(`${prefix}.stamp`, (ctx: TaskContext, label: string) => {
      ran.push({ label, retries: ctx.retries, eta: ctx.eta, at: Date.now() });
      return label;
    }, { bind: true });
    worker.task(
      `${prefix}.flaky`,
      (ctx: TaskContext, label: string) => {
        ran.push({ label, retries: ctx.retries, eta: ctx.eta, at: Date.now() });
        if (ctx.retries < 2) throw new Flaky(`attempt ${ctx.retries + 1}`);
        return `${label} after ${ctx.retries} retries`;
      },
      { bind: true, autoretryFor: ['Flaky'], retry: { max: 2, delay: 1, backoff: 'exponential' } },
    );
    await worker.startWorker({ queues: [queue], concurrency: 2 });
    client = createApp({ definitions: defs.file, logger });
  });

  afterAll(async () => {
    await client?.close();
    await worker?.close();
    await probe?.close();
    await vhost?.remove();
    defs?.remove();
  });

  test('a worker declares the quorum levels on start: quorum queues with TTL and at-least-once dead-lettering, and no classic level', async () => {
    const { stdout } = await run('rabbitmqctl', ['list_queues', '-q', '-p', vhost.name, 'name', 'type', 'arguments'], { timeout: 60_000 });
    const levels = stdout.split('\n').filter((line) => line.startsWith('warren.delay.'));
    expect(levels).toHaveLength(23); // 22 levels and the unroutable queue
    const fourSeconds = levels.find((line) => line.startsWith('warren.delay.quorum.4s\t'))!;
    expect(fourSeconds).toContain('\tquorum\t');
    for (const argument of ['{"x-dead-letter-strategy","at-least-once"}', '{"x-overflow","reject-publish"}', '{"x-message-ttl",4000}', '{"x-dead-letter-exchange","warren.delay.quorum.2s"}']) {
      expect(fourSeconds).toContain(argument);
    }
    expect(levels.every((line) => line.startsWith('warren.delay.quorum.') && line.includes('\tquorum\t'))).toBe(true);
    expect(await probe.queueExists('warren.delay.4s')).toBe(false);
  });

  test('a countdown of 5 s waits 4 s in warren.delay.quorum.4s and 1 s in warren.delay.quorum.1s, then runs on time', async () => {
    const sampler = new LevelSampler(probe, ['warren.delay.quorum.1s', 'warren.delay.quorum.2s', 'warren.delay.quorum.4s']);
    sampler.start();
    try {
      const result = await client.sendTask(`${prefix}.stamp`, ['five'], {}, { countdown: 5 });
      await waitFor('the task in the 4 s quorum level', () => sampler.held.has('warren.delay.quorum.4s'));
      expect(await probe.messageCount(queue)).toBe(0);
      expect(ran.find((r) => r.label === 'five')).toBeUndefined();
      await expect(result.get({ timeout: 15_000 })).resolves.toBe('five');
    } finally {
      await sampler.stop();
    }
    expect([...sampler.held].sort()).toEqual(['warren.delay.quorum.1s', 'warren.delay.quorum.4s']);
    const five = ran.find((r) => r.label === 'five')!;
    const late = five.at - five.eta!.getTime();
    process.stdout.write(`quorum levels, countdown 5: ran ${late} ms after its eta\n`);
    expect(late).toBeGreaterThanOrEqual(0);
    expect(late).toBeLessThan(1500);
  });

  test('a retry with exponential backoff (1 s, then 2 s) waits in warren.delay.quorum.1s, then in warren.delay.quorum.2s, and succeeds', async () => {
    const sampler = new LevelSampler(probe, ['warren.delay.quorum.1s', 'warren.delay.quorum.2s', 'warren.delay.quorum.4s']);
    sampler.start();
    let value: unknown;
    try {
      const result = await client.sendTask(`${prefix}.flaky`, ['flaky']);
      await waitFor('the second retry in the 2 s quorum level', () => sampler.held.has('warren.delay.quorum.2s'), 10_000);
      value = await result.get({ timeout: 15_000 });
    } finally {
      await sampler.stop();
    }
    expect(value).toBe('flaky after 2 retries');
    expect([...sampler.held].sort()).toEqual(['warren.delay.quorum.1s', 'warren.delay.quorum.2s']);
    const runs = ran.filter((r) => r.label === 'flaky');
    expect(runs.map((r) => r.retries)).toEqual([0, 1, 2]);
    // Each retry ran no earlier than its eta, and its eta was its delay after the run before.
    for (const [i, delay] of [[1, 1000], [2, 2000]] as const) {
      expect(runs[i].eta!.getTime() - runs[i - 1].at).toBeGreaterThanOrEqual(delay - 50);
      expect(runs[i].at).toBeGreaterThanOrEqual(runs[i].eta!.getTime());
    }
    // Nothing ever went through the classic levels.
    expect(await probe.queueExists('warren.delay.1s')).toBe(false);
  });

  test('warren queues counts the tasks waiting in the quorum levels', async () => {
    await client.sendTask(`${prefix}.stamp`, ['later'], {}, { countdown: 120 });
    await waitFor('the task in the 64 s quorum level', async () => (await probe.messageCount('warren.delay.quorum.64s')) === 1);
    const listed = await runCli(['queues', '--json', '--definitions', defs.file]);
    expect(listed.code).toBe(0);
    const { delayed, delayedByLevels } = JSON.parse(listed.stdout) as { delayed: number; delayedByLevels: unknown };
    expect({ delayed, delayedByLevels }).toEqual({ delayed: 1, delayedByLevels: { classic: null, quorum: 1 } });
  });
});
