import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '../support/broker';
import { exampleSuite } from '../support/example-suite';

describe('redelivery when a worker dies mid-task', () => {
  const suite = exampleSuite('redelivery');
  const { prefix, topology } = suite;
  const marks = join(suite.defs.dir, 'marks.txt');

  const readMarks = (): string[] => (existsSync(marks) ? readFileSync(marks, 'utf8').trim().split('\n') : []);

  test('a task whose worker is SIGKILLed completes on a second worker and the caller gets its result', async () => {
    const first = suite.workerProcess({ queues: [topology.queues.default], name: 'doomed@test', concurrency: 1, env: { WARREN_TEST_MARKS: marks } });
    await first.ready;

    const result = await suite.client.sendTask<{ label: string; worker: string }>(`${prefix}.slow`, ['job-1', 1500]);
    await waitFor('the first worker to start the task', () => readMarks().length === 1);
    expect(readMarks()).toEqual(['job-1 doomed@test false']);
    await first.stop('SIGKILL');

    // Nothing was acked early: the broker holds the task again.
    await waitFor('the task to return to the queue', async () => (await suite.probe.messageCount(topology.queues.default)) === 1);
    expect(result.state).toBe('PENDING');

    const second = suite.workerProcess({ queues: [topology.queues.default], name: 'survivor@test', concurrency: 1, env: { WARREN_TEST_MARKS: marks } });
    await second.ready;

    await expect(result.get({ timeout: 10_000 })).resolves.toEqual({ label: 'job-1', worker: 'survivor@test' });
    expect(result.worker).toBe('survivor@test');
    expect(readMarks()).toEqual(['job-1 doomed@test false', 'job-1 survivor@test true']);
    expect(await suite.probe.messageCount(topology.queues.default)).toBe(0);
  });
});
