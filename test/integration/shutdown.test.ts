import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '../support/broker';
import { exampleSuite } from '../support/example-suite';

describe('worker shutdown on SIGTERM', () => {
  const suite = exampleSuite('shutdown');
  const { prefix, topology } = suite;
  const marks = join(suite.defs.dir, 'marks.txt');

  const started = (): string[] => (existsSync(marks) ? readFileSync(marks, 'utf8').trim().split('\n') : []);

  test('running tasks finish and deliver their results, prefetched ones go back to the queue, exit 0', async () => {
    const worker = suite.workerProcess({
      queues: [topology.queues.default], name: 'stopping@test', concurrency: 2,
      env: { WARREN_TEST_MARKS: marks }, extraArgs: ['--prefetch-multiplier', '2'],
    });
    await worker.ready;
    const results = await Promise.all(['a', 'b', 'c', 'd'].map((label) => suite.client.sendTask(`${prefix}.slow`, [label, 1000])));
    await waitFor('two tasks to start', () => started().length === 2);

    expect(await worker.stop('SIGTERM')).toBe(0);

    // The two running tasks completed on the stopping worker...
    const [first, second] = await Promise.all(results.slice(0, 2).map((r) => r.get({ timeout: 5000 })));
    expect([first, second]).toEqual([{ label: 'a', worker: 'stopping@test' }, { label: 'b', worker: 'stopping@test' }]);
    // ...and the two it had prefetched but not started are back in the queue, unrun.
    expect(started()).toEqual(['a stopping@test false', 'b stopping@test false']);
    expect(await suite.probe.messageCount(topology.queues.default)).toBe(2);
    expect(results.slice(2).map((r) => r.state)).toEqual(['PENDING', 'PENDING']);
  });
});
