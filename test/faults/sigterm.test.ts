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
});
