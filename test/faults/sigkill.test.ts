import { join } from 'node:path';
import { waitFor } from '../support/broker';
import { exampleSuite } from '../support/example-suite';
import { faultCounts, printCounts, readRecord } from '../support/task-record';
import type { WorkerProcess } from '../support/worker-process';

const TASKS = 2000;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('SIGKILL during late-ack tasks', () => {
  const suite = exampleSuite('fault-sigkill');
  const { prefix, topology } = suite;
  const record = join(suite.defs.dir, 'record.txt');
  const queue = topology.queues.default;

  const start = (name: string): WorkerProcess =>
    suite.workerProcess({ queues: [queue], name, concurrency: 5, env: { WARREN_TEST_RECORD: record } });
  const doneIds = (): Set<string> => new Set(readRecord(record).filter((l) => l.event === 'done').map((l) => l.taskId));

  test(`workers killed again and again over ${TASKS} tasks lose none: every confirmed task is processed at least once`, async () => {
    const workers = [start('kill-a@fault'), start('kill-b@fault')];
    await Promise.all(workers.map((w) => w.ready));

    const sends = await Promise.allSettled(
      Array.from({ length: TASKS }, () => suite.client.sendTask(`${prefix}.record`, [40], {}, { ignoreResult: true })),
    );
    const confirmed = sends.flatMap((s) => (s.status === 'fulfilled' ? [s.value.id] : []));

    // Kill the two workers in turn, each time while tasks remain, and start the killed one again.
    let kills = 0;
    const killedWhileBusy = (): boolean => doneIds().size < TASKS * 0.9;
    while (kills < 8 && killedWhileBusy()) {
      await sleep(1200);
      if (!killedWhileBusy()) break;
      const index = kills % 2;
      const victim = workers[index];
      await victim.stop('SIGKILL');
      kills += 1;
      workers[index] = start(index === 0 ? 'kill-a@fault' : 'kill-b@fault');
      await workers[index].ready;
    }

    await waitFor(`all ${confirmed.length} confirmed tasks to be processed`, () => {
      const done = doneIds();
      return confirmed.every((id) => done.has(id));
    }, 90_000, 250);
    await waitFor('the queue to be empty', async () => (await suite.probe.messageCount(queue)) === 0);

    const counts = faultCounts(TASKS, confirmed, readRecord(record));
    printCounts(`SIGKILL x${kills} during ${TASKS} late-ack tasks over two workers`, counts, { kills });
    expect(kills).toBeGreaterThanOrEqual(3);
    expect(counts.confirmed).toBe(TASKS);
    expect(counts.lost).toBe(0);
    expect(counts.processed).toBe(TASKS);
  });
});
