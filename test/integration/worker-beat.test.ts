import { join } from 'node:path';
import { waitFor } from '../support/broker';
import { testBrokerUrl } from '../support/broker-url';
import { brokerSuite } from '../support/example-suite';

/** `warren worker -B`: beat inside the worker, taking part in the same leader lock as `warren beat`. */
describe('warren worker -B', () => {
  const suite = brokerSuite('worker-beat', (prefix) => ({
    definitions: {
      broker: { url: testBrokerUrl() },
      queues: [{ name: `${prefix}.work` }, { name: `${prefix}.beat` }],
      defaultQueue: `${prefix}.work`,
      schedule: { tick: { task: `${prefix}.tick`, every: '1s', queue: `${prefix}.beat`, misfire: { policy: 'catch-up', max: 30 } } },
    },
    queues: [`${prefix}.work`, `${prefix}.beat`],
    exchanges: [],
  }));
  const { prefix } = suite;

  /** The ids and planned times of what beat published so far, taken off the queue. */
  const drain = async (): Promise<Array<{ id: string; planned: number }>> => {
    const received: Array<{ id: string; planned: number }> = [];
    for (let message = await suite.probe.get(`${prefix}.beat`); message !== false; message = await suite.probe.get(`${prefix}.beat`)) {
      const headers = message.properties.headers ?? {};
      received.push({ id: String(headers.id), planned: Date.parse(String(headers['x-warren-beat-planned'])) });
    }
    return received;
  };

  test('two workers with -B: one fires while both consume; SIGKILL it and the other fires within 5 s, every planned second once', async () => {
    const args = ['-B', '--store', join(suite.defs.dir, 'beat-state.json'), '--lock-suffix', prefix];
    const a = suite.workerProcess({ queues: [`${prefix}.work`], name: 'beat-a@test', concurrency: 1, extraArgs: args });
    const b = suite.workerProcess({ queues: [`${prefix}.work`], name: 'beat-b@test', concurrency: 1, extraArgs: args });
    await Promise.all([a.ready, b.ready]);
    const leading = (w: typeof a): boolean => w.logLines('leading: firing the schedule').length === 1;
    await waitFor('a leader', () => Number(leading(a)) + Number(leading(b)) === 1, 5000);
    const [leader, follower] = leading(a) ? [a, b] : [b, a];

    // Both consume: a task sent now is run by one of them.
    const result = await suite.client.sendTask(`${prefix}.app1.tasks1.deal1`, ['both'], {}, { queue: `${prefix}.work` });
    await expect(result.get({ timeout: 5000 })).resolves.toBe('both=======');

    await waitFor('three fires', () => leader.logLines('fired').length >= 3, 6000);
    expect(follower.logLines('fired')).toEqual([]);

    await leader.stop('SIGKILL');
    const killedAt = Date.now();
    await waitFor('the other worker to lead', () => leading(follower), 5000);
    await waitFor('the other worker to fire', () => follower.logLines('fired').length >= 2, 8000);
    const takeoverMs = Number(follower.logLines('fired')[0].time) - killedAt;
    expect(takeoverMs).toBeLessThan(5000);
    expect(await follower.stop('SIGTERM')).toBe(0);

    const received = await drain();
    expect(new Set(received.map((r) => r.id)).size).toBe(received.length);
    const planned = received.map((r) => r.planned).sort((x, y) => x - y);
    expect(planned.map((p) => (p - planned[0]) / 1000)).toEqual(planned.map((_, i) => i));
    process.stdout.write(`worker -B takeover: ${received.length} fires, the other worker's first fire ${takeoverMs} ms after SIGKILL\n`);
  }, 40_000);

  test('--lock-suffix without -B is a usage error', async () => {
    const worker = suite.workerProcess({ queues: [`${prefix}.work`], name: 'no-beat@test', extraArgs: ['--lock-suffix', prefix] });
    worker.ready.catch(() => undefined);
    expect(await worker.exited).toBe(2);
    expect(worker.output).toContain('warren: --lock-suffix is for the embedded beat: give -B too');
  });
});
