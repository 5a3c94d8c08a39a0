import { TaskRevokedError } from '../../src';
import { waitFor } from '../support/broker';
import { captureLogger } from '../support/capture-logger';
import { exampleSuite } from '../support/example-suite';

describe('expired tasks are not run: REVOKED, acked, logged', () => {
  const suite = exampleSuite('expiry');
  const { prefix, topology } = suite;
  const logs = captureLogger('info');
  const ran: string[] = [];
  let release: () => void = () => undefined;

  beforeAll(async () => {
    const workerApp = suite.app(logs.logger);
    workerApp.task(`${prefix}.gate`, () => new Promise<string>((resolve) => (release = () => resolve('opened'))));
    workerApp.task(`${prefix}.work`, (label: string) => {
      ran.push(label);
      return label;
    });
    // One slot, one prefetched message: a second task waits in the queue, in the broker.
    await workerApp.startWorker({ queues: [topology.queues.default], concurrency: 1, prefetchMultiplier: 1 });
  });

  const revokedLogs = (): Array<Record<string, unknown>> => logs.lines().filter((l) => l.msg === 'task expired before it ran; revoked');

  test('a task that expires while it waits in its queue behind a busy worker', async () => {
    const gate = await suite.client.sendTask(`${prefix}.gate`);
    await waitFor('the worker to be busy', async () => (await suite.probe.messageCount(topology.queues.default)) === 0);
    const result = await suite.client.sendTask(`${prefix}.work`, ['late'], {}, { expires: 1 });
    await new Promise((resolve) => setTimeout(resolve, 1200));
    // Still there: warren sends no per-message TTL, so the broker did not drop it unseen.
    expect(await suite.probe.messageCount(topology.queues.default)).toBe(1);
    release();
    await expect(gate.get({ timeout: 5000 })).resolves.toBe('opened');

    const error = await result.get({ timeout: 5000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TaskRevokedError);
    expect((error as TaskRevokedError).message).toBe(`task ${result.id} was revoked: expired`);
    expect(result.state).toBe('REVOKED');
    expect(ran).not.toContain('late');
    // Logged once the message is acked, which may come just after the caller has the result.
    await waitFor('the revoked line', () => revokedLogs().some((l) => l.taskId === result.id));
    expect(revokedLogs().find((l) => l.taskId === result.id)).toMatchObject({ level: 40, queue: topology.queues.default, state: 'REVOKED' });
    expect(await suite.probe.messageCount(topology.queues.default)).toBe(0);
  });

  test('a task that expires while it waits in the delay levels (countdown 2 s, expires 1 s)', async () => {
    const result = await suite.client.sendTask(`${prefix}.work`, ['delayed'], {}, { countdown: 2, expires: 1 });
    const sentAt = Date.now();
    const error = await result.get({ timeout: 5000 }).catch((e: unknown) => e);
    // Revoked when it came out of the delay, not before.
    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(1900);
    expect(error).toBeInstanceOf(TaskRevokedError);
    expect(ran).not.toContain('delayed');
    await waitFor('the revoked line', () => revokedLogs().some((l) => l.taskId === result.id));
  });

  test('a task that has not expired yet runs', async () => {
    const result = await suite.client.sendTask(`${prefix}.work`, ['in-time'], {}, { expires: 10 });
    await expect(result.get({ timeout: 5000 })).resolves.toBe('in-time');
  });
});
