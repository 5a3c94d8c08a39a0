import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { currentTask, type TaskContext } from '../../src';
import { waitFor } from '../support/broker';
import { exampleSuite } from '../support/example-suite';

/** A full collection, made callable from here: jest's sandbox has no `gc` even under --expose-gc. */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

describe('worker memory', () => {
  const suite = exampleSuite('worker-memory');
  const { topology } = suite;

  test("a finished task's run (its context, message and closures) is garbage at once: nothing keeps it until the stall monitor's next tick", async () => {
    const workerApp = suite.app();
    const contexts: Array<WeakRef<TaskContext>> = [];
    workerApp.task(topology.tasks.deal1, async (n: number) => {
      contexts.push(new WeakRef(currentTask()!));
      return n;
    });
    // The stall monitor ticks every 500 ms at most; the names of the runs since its last tick are
    // all it may keep of them.
    const worker = await workerApp.startWorker({ queues: [topology.queues.task1], concurrency: 4, stallWarningMs: 60_000 });
    const results = await Promise.all(Array.from({ length: 20 }, (_, n) => suite.client.sendTask(topology.tasks.deal1, [n])));
    expect(await Promise.all(results.map((r) => r.get({ timeout: 5000 })))).toEqual(Array.from({ length: 20 }, (_, n) => n));
    expect(contexts).toHaveLength(20);
    // A result can reach its caller before the worker has acked its task and ended the run.
    await waitFor('the worker to end its runs', () => worker.active === 0, 5000, 5);

    // A WeakRef holds its target until the current job ends: collect after a macrotask.
    await new Promise((resolve) => setImmediate(resolve));
    collectGarbage();
    const alive = contexts.flatMap((ref, i) => (ref.deref() === undefined ? [] : [i]));
    expect(alive).toEqual([]);
  });
});
