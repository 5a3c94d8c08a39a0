import { waitFor } from '../support/broker';
import { exampleSuite } from '../support/example-suite';

describe('prefetch', () => {
  const suite = exampleSuite('prefetch');
  const { topology } = suite;

  test('with -c 2 and multiplier 1 no more than 2 deliveries are unacknowledged at once', async () => {
    const workerApp = suite.app();
    let running = 0;
    let maxRunning = 0;
    const gates: Array<() => void> = [];
    workerApp.task(topology.tasks.deal1, async () => {
      running += 1;
      maxRunning = Math.max(maxRunning, running);
      await new Promise<void>((resolve) => gates.push(resolve));
      running -= 1;
      return 'done';
    });
    const results = await Promise.all(Array.from({ length: 10 }, () => suite.client.sendTask(topology.tasks.deal1)));
    await workerApp.startWorker({ queues: [topology.queues.task1], concurrency: 2, prefetchMultiplier: 1 });

    // Two tasks hold their deliveries; the broker must keep the other eight ready in the queue.
    await waitFor('two tasks to start', () => gates.length === 2);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await suite.probe.messageCount(topology.queues.task1)).toBe(8);

    // Each finished task lets exactly one more delivery in: ready drops by one per release.
    for (let released = 1; released <= 8; released += 1) {
      gates.shift()!();
      await waitFor(`task ${released + 2} to start`, () => gates.length === 2);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(await suite.probe.messageCount(topology.queues.task1)).toBe(8 - released);
    }
    gates.splice(0).forEach((open) => open());
    expect(maxRunning).toBe(2);
    expect(await Promise.all(results.map((r) => r.get({ timeout: 5000 })))).toEqual(Array(10).fill('done'));
  });
});
