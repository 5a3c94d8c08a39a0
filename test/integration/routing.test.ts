import { waitFor } from '../support/broker';
import { exampleSuite } from '../support/example-suite';

describe('routing end to end with queue-specific worker processes', () => {
  const suite = exampleSuite('routing');
  const { topology } = suite;

  test('with only the for_task1 worker running, deal1 runs and deal2 waits in for_task2', async () => {
    const worker1 = suite.workerProcess({ queues: [topology.queues.task1], name: 'worker1@test' });
    await worker1.ready;

    const deal1 = await Promise.all(Array.from({ length: 5 }, (_, i) => suite.client.sendTask<string>(topology.tasks.deal1, [`a${i}`])));
    const deal2 = await Promise.all(Array.from({ length: 5 }, (_, i) => suite.client.sendTask<string>(topology.tasks.deal2, [`b${i}`])));

    const values = await Promise.all(deal1.map((r) => r.get({ timeout: 10_000 })));
    expect(values).toEqual(['a0', 'a1', 'a2', 'a3', 'a4'].map((t) => `${t}=======`));
    expect(deal1.map((r) => r.worker)).toEqual(Array(5).fill('worker1@test'));

    // Confirmed by the broker, and nobody consumes for_task2: all five wait there.
    expect(await suite.probe.messageCount(topology.queues.task2)).toBe(5);
    expect(await suite.probe.messageCount(topology.queues.task1)).toBe(0);
    expect(deal2.map((r) => r.state)).toEqual(Array(5).fill('PENDING'));
  });

  test('once the for_task2 worker starts, every deal2 runs there and every deal1 on the first worker', async () => {
    const worker2 = suite.workerProcess({ queues: [topology.queues.task2], name: 'worker2@test' });
    await worker2.ready;
    await waitFor('for_task2 to drain', async () => (await suite.probe.messageCount(topology.queues.task2)) === 0);

    const sent = [];
    for (let i = 0; i < 10; i += 1) {
      sent.push(suite.client.sendTask<string>(topology.tasks.deal1, [`x${i}`]).then((r) => ({ task: 'deal1', r })));
      sent.push(suite.client.sendTask<string>(topology.tasks.deal2, [`y${i}`]).then((r) => ({ task: 'deal2', r })));
    }
    const results = await Promise.all(sent);
    for (const { task, r } of results) {
      const value = await r.get({ timeout: 10_000 });
      if (task === 'deal1') {
        expect(value).toMatch(/^x\d=======$/);
        expect(r.worker).toBe('worker1@test');
        expect(r.queue).toBe(topology.queues.task1);
      } else {
        expect(value).toMatch(/^y\d\+{9}$/);
        expect(r.worker).toBe('worker2@test');
        expect(r.queue).toBe(topology.queues.task2);
      }
    }
    // Each worker consumes its own queue only.
    expect(await suite.probe.consumerCount(topology.queues.task1)).toBe(1);
    expect(await suite.probe.consumerCount(topology.queues.task2)).toBe(1);
    expect(await suite.probe.consumerCount(topology.queues.default)).toBe(0);
  });
});
