import { join } from 'node:path';
import { waitFor } from '../support/broker';
import { exampleSuite } from '../support/example-suite';
import { faultCounts, printCounts, readRecord } from '../support/task-record';

describe('SIGTERM during two-second tasks', () => {
  const suite = exampleSuite('fault-sigterm');
  const { prefix, topology } = suite;
  const record = join(suite.defs.dir, 'record.txt');
  const queue = topology.queues.default;

  test('every started task completes once on the stopping worker, prefetched ones run on the other, exit 0', async () => {
    // -c 10 with a prefetch multiplier of 2: ten tasks running, five more held unstarted.
    const stopping = suite.workerProcess({
      queues: [queue], name: 'stopping@fault', concurrency: 10,
      env: { WARREN_TEST_RECORD: record }, extraArgs: ['--prefetch-multiplier', '2', '--shutdown-timeout', '20s'],
    });
    await stopping.ready;
    const results = await Promise.all(Array.from({ length: 15 }, () => suite.client.sendTask(`${prefix}.record`, [2000])));
    const ids = results.map((r) => r.id);
    await waitFor('ten tasks to start', () => readRecord(record).filter((l) => l.event === 'start').length === 10);
    const other = suite.workerProcess({ queues: [queue], name: 'other@fault', concurrency: 5, env: { WARREN_TEST_RECORD: record } });
    await other.ready;

    expect(await stopping.stop('SIGTERM')).toBe(0);
    await Promise.all(results.map((r) => r.get({ timeout: 20_000 })));

    const lines = readRecord(record);
    const startedOnStopping = lines.filter((l) => l.event === 'start' && l.hostname === 'stopping@fault').map((l) => l.taskId);
    const doneOn = (hostname: string): string[] => lines.filter((l) => l.event === 'done' && l.hostname === hostname).map((l) => l.taskId);
    const counts = faultCounts(15, ids, lines);
    printCounts('SIGTERM during 10 running + 5 prefetched two-second tasks', counts, {
      'done on stopping worker': doneOn('stopping@fault').length,
      'done on other worker': doneOn('other@fault').length,
    });

    // The ten it had started finished there, each once; the five it held went to the other worker.
    expect(startedOnStopping).toHaveLength(10);
    expect(doneOn('stopping@fault').sort()).toEqual([...startedOnStopping].sort());
    expect(doneOn('other@fault').sort()).toEqual(ids.filter((id) => !startedOnStopping.includes(id)).sort());
    expect(counts).toEqual({ sent: 15, confirmed: 15, processed: 15, duplicates: 0, lost: 0 });
    expect(results.map((r) => r.state)).toEqual(Array(15).fill('SUCCESS'));
  });

  test('a second signal hands everything back at once: the running tasks are not acked and run again elsewhere', async () => {
    const record2 = join(suite.defs.dir, 'record-second-signal.txt');
    // A queue of its own: the first test's workers still consume the default queue.
    const queue = topology.queues.task2;
    const impatient = suite.workerProcess({
      queues: [queue], name: 'impatient@fault', concurrency: 5,
      env: { WARREN_TEST_RECORD: record2 }, extraArgs: ['--shutdown-timeout', '60s'],
    });
    await impatient.ready;
    const results = await Promise.all(Array.from({ length: 5 }, () => suite.client.sendTask(`${prefix}.record`, [4000], {}, { queue })));
    const ids = results.map((r) => r.id);
    await waitFor('five tasks to start', () => readRecord(record2).filter((l) => l.event === 'start').length === 5);

    const signalled = Date.now();
    impatient.child.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const code = await impatient.stop('SIGTERM');
    const stoppedAfterMs = Date.now() - signalled;
    // It did not wait for its four-second tasks, and none of them was acked.
    expect(code).toBe(1);
    expect(stoppedAfterMs).toBeLessThan(3000);
    expect(readRecord(record2).filter((l) => l.event === 'done')).toEqual([]);
    await waitFor('the five to be back in the queue', async () => (await suite.probe.messageCount(queue)) === 5);

    const other = suite.workerProcess({ queues: [queue], name: 'after@fault', concurrency: 5, env: { WARREN_TEST_RECORD: record2 } });
    await other.ready;
    await Promise.all(results.map((r) => r.get({ timeout: 20_000 })));
    const lines = readRecord(record2);
    const counts = faultCounts(5, ids, lines);
    printCounts('second SIGTERM during 5 running four-second tasks', counts, { 'stopped after ms': stoppedAfterMs });
    expect(lines.filter((l) => l.event === 'done').map((l) => l.hostname)).toEqual(Array(5).fill('after@fault'));
    expect(counts).toEqual({ sent: 5, confirmed: 5, processed: 5, duplicates: 0, lost: 0 });
  });
});
