import { join } from 'node:path';
import { createApp, createLogger, TaskRevokedError, type App, type AsyncResult } from '../../src';
import { EventReceiver, LamportClock } from '../../src/control';
import type { CeleryEvent } from '../../src/control/celery-events';
import { createTransport, type Transport } from '../../src/transport';
import { BrokerProbe, randomPrefix, waitFor, writeDefinitionsFile } from '../support/broker';
import { markedPids, processAlive } from '../support/processes';
import { CELERY_FIXTURES, PYTHON, requirePythonCelery } from '../support/python-celery';
import { runProcess } from '../support/run-process';
import { createTestVhost, type TestVhost } from '../support/vhost';
import { POOL_TASKS, runCli, startTestWorker, type WorkerProcess } from '../support/worker-process';

/*
 * `revoke --terminate` against real `warren worker` processes: one with `--pool process -c 2`
 * (real pool processes, which the terminate kills), one with `--pool async -c 1` (where it can
 * only abort the task's signal). Sent as a user sends it: `warren control revoke --terminate`,
 * and Python Celery's `app.control.revoke(terminate=True)`. Remote control and events are
 * broadcast per virtual host, so everything runs in one of its own.
 */

const silent = createLogger({ level: 'silent' });

interface ActiveTask {
  id: string;
  worker_pid: number | null;
}

describe('revoke --terminate on real worker processes (a vhost of its own)', () => {
  const prefix = randomPrefix('terminate');
  const queues = { process: `${prefix}.process`, async: `${prefix}.async` };
  const nodes = { process: `process@${prefix}`, async: `async@${prefix}` };
  let vhost: TestVhost;
  let defs: ReturnType<typeof writeDefinitionsFile>;
  let marks: string;
  let client: App;
  let probe: BrokerProbe;
  let transport: Transport;
  let receiver: EventReceiver;
  const events: CeleryEvent[] = [];
  let processWorker: WorkerProcess;
  let asyncWorker: WorkerProcess;

  const pidsOf = (label: string): number[] => markedPids(marks, label);
  const send = <T = unknown>(task: string, args: unknown[], queue: string): Promise<AsyncResult<T>> => client.sendTask<T>(`${prefix}.${task}`, args, {}, { queue });

  /** `warren <args> --broker <the vhost>`, as a user types it. */
  const warren = (...args: string[]) => runCli([...args, '--broker', vhost.url]);

  /** `warren inspect <what> --json` of one node. */
  async function inspect<T>(what: string, node: string): Promise<T> {
    const run = await warren('inspect', what, '-d', node, '-t', '2', '--json');
    if (run.code !== 0) throw new Error(`warren inspect ${what} exited with ${run.code}: ${run.stderr}`);
    return (JSON.parse(run.stdout) as Record<string, T>)[node];
  }

  const poolProcesses = async (): Promise<number[]> => (await inspect<{ pool: { processes: number[] } }>('stats', nodes.process)).pool.processes;

  /** Rejects with the task's REVOKED error; fails when it got another outcome. */
  async function revokedError(result: AsyncResult<unknown>): Promise<TaskRevokedError> {
    const error = await result.get({ timeout: 10_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TaskRevokedError);
    expect(result.state).toBe('REVOKED');
    return error as TaskRevokedError;
  }

  const revokedEvent = (taskId: string): CeleryEvent | undefined => events.find((e) => e.type === 'task-revoked' && e.uuid === taskId);

  beforeAll(async () => {
    vhost = await createTestVhost('terminate');
    const exchange = (name: string) => ({ name, type: 'direct' });
    const queue = (name: string) => ({ name, exchange: name, routingKey: name });
    defs = writeDefinitionsFile({
      broker: { url: vhost.url },
      exchanges: Object.values(queues).map(exchange),
      queues: Object.values(queues).map(queue),
      defaultQueue: queues.process,
    });
    marks = join(defs.dir, 'marks.txt');
    probe = await BrokerProbe.open(vhost.url);
    client = createApp({ definitions: defs.file, logger: silent });
    transport = createTransport({ urls: [vhost.url], logger: silent });
    receiver = new EventReceiver({ transport, clock: new LamportClock(), logger: silent, onEvent: (event) => events.push(event) });
    await receiver.start();
    const start = (node: string, queue: string, pool: string, concurrency: number): WorkerProcess =>
      startTestWorker({ prefix, definitions: defs.file, queues: [queue], name: node, concurrency, app: POOL_TASKS, extraArgs: ['--pool', pool, '-E'], env: { WARREN_TEST_MARKS: marks } });
    processWorker = start(nodes.process, queues.process, 'process', 2);
    asyncWorker = start(nodes.async, queues.async, 'async', 1);
    await Promise.all([processWorker.ready, asyncWorker.ready]);
  }, 30_000);

  afterAll(async () => {
    await Promise.all([processWorker?.stop('SIGKILL'), asyncWorker?.stop('SIGKILL')]);
    await client?.close();
    await receiver?.close();
    await transport?.close();
    await probe?.close();
    defs?.remove();
    await vhost?.remove();
  }, 30_000);

  describe('--pool process -c 2', () => {
    test('SIGTERM ends the child running the task: REVOKED for the caller, the task beside it untouched, a fresh child in the slot, the message acked', async () => {
      const before = await poolProcesses();
      expect(before).toHaveLength(2);
      const victim = await send('sleep', ['victim', 60_000], queues.process);
      const beside = await send<number>('sleep', ['beside', 2500], queues.process);
      await waitFor('both tasks to start', () => pidsOf('victim').length === 1 && pidsOf('beside').length === 1);
      const [victimPid] = pidsOf('victim');
      const [besidePid] = pidsOf('beside');
      expect(before).toEqual(expect.arrayContaining([victimPid, besidePid]));
      // inspect active names the pool process running each task, as a prefork worker does.
      const active = await inspect<ActiveTask[]>('active', nodes.process);
      expect(active.find((task) => task.id === victim.id)?.worker_pid).toBe(victimPid);
      expect(active.find((task) => task.id === beside.id)?.worker_pid).toBe(besidePid);

      const revoke = await warren('control', 'revoke', victim.id, '--terminate', '-d', nodes.process, '-t', '2');
      expect(revoke.code).toBe(0);
      expect(revoke.stdout).toBe(`${nodes.process}: OK terminate: ${victim.id}\n`);
      const error = await revokedError(victim);
      expect(error.message).toBe(`task ${victim.id} was revoked: terminated`);
      await waitFor('the victim\'s pool process to be gone', () => !processAlive(victimPid), 5000);
      expect(() => process.kill(victimPid, 0)).toThrow();
      expect(processWorker.logLines('killing a pool process: its task was terminated by a revoke')).toEqual([expect.objectContaining({ pid: victimPid, signal: 'SIGTERM' })]);

      // The task on the other child ran on and succeeded there.
      expect(await beside.get({ timeout: 10_000 })).toBe(besidePid);
      expect(processAlive(besidePid)).toBe(true);

      // A fresh child took the slot: the next two tasks run in the surviving child and the new one.
      await waitFor('a fresh pool process', async () => (await poolProcesses()).length === 2 && !(await poolProcesses()).includes(victimPid));
      const after = await poolProcesses();
      const fresh = after.filter((pid) => !before.includes(pid));
      expect(fresh).toHaveLength(1);
      const next = await Promise.all([send<number>('sleep', ['next-1', 500], queues.process), send<number>('sleep', ['next-2', 500], queues.process)]);
      expect(new Set(await Promise.all(next.map((result) => result.get({ timeout: 10_000 }))))).toEqual(new Set([besidePid, fresh[0]]));

      // Acked, not redelivered: the queue is empty, the task started once, and the worker says so.
      expect(await probe.messageCount(queues.process)).toBe(0);
      expect(pidsOf('victim')).toHaveLength(1);
      expect(pidsOf('victim-woke')).toHaveLength(0);
      await waitFor('the task-revoked event', () => revokedEvent(victim.id) !== undefined);
      expect(revokedEvent(victim.id)).toMatchObject({ hostname: nodes.process, terminated: true, signum: 15, expired: false });
      expect(processWorker.logLines('task terminated by a revoke: its signal was aborted and it is recorded as revoked; what it does from now on is ignored')).toEqual([
        expect.objectContaining({ taskId: victim.id, state: 'REVOKED', signal: 'SIGTERM' }),
      ]);
    }, 30_000);

    test('a task whose process ignores SIGTERM: REVOKED at once, its process SIGKILLed after the grace period', async () => {
      const stubborn = await send('stubborn', ['stubborn'], queues.process);
      await waitFor('the task to start', () => pidsOf('stubborn').length === 1);
      const [pid] = pidsOf('stubborn');
      const revoke = await warren('control', 'revoke', stubborn.id, '--terminate', '-d', nodes.process, '-t', '2');
      expect(revoke.stdout).toBe(`${nodes.process}: OK terminate: ${stubborn.id}\n`);
      await revokedError(stubborn);
      // It got SIGTERM (its handler ran) and lived on; SIGKILL ended it.
      await waitFor('the SIGTERM to reach the task', () => pidsOf('stubborn-sigterm').length === 1, 5000);
      await waitFor('the process to be gone', () => !processAlive(pid), 8000);
      expect(await probe.messageCount(queues.process)).toBe(0);
      expect(await (await send<number>('pid', ['after-stubborn'], queues.process)).get({ timeout: 10_000 })).not.toBe(pid);
    }, 20_000);

    test('Python Celery\'s app.control.revoke(terminate=True, signal="KILL") kills the process with SIGKILL', async () => {
      requirePythonCelery();
      const victim = await send('sleep', ['killed', 60_000], queues.process);
      await waitFor('the task to start', () => pidsOf('killed').length === 1);
      const [pid] = pidsOf('killed');
      const script = [
        'import json, sys',
        'from celery import Celery',
        'app = Celery(broker=sys.argv[1])',
        'print(json.dumps(app.control.revoke(sys.argv[2], terminate=True, signal="KILL", destination=[sys.argv[3]], reply=True, timeout=2)))',
      ].join('\n');
      const run = await runProcess(PYTHON, ['-c', script, vhost.url, victim.id, nodes.process], { ...process.env, PYTHONDONTWRITEBYTECODE: '1' }, 20_000, CELERY_FIXTURES);
      expect(run.code).toBe(0);
      expect(JSON.parse(run.stdout)).toEqual([{ [nodes.process]: { ok: `terminate: ${victim.id}` } }]);
      await revokedError(victim);
      await waitFor('the process to be gone', () => !processAlive(pid), 5000);
      expect(processWorker.logLines('killing a pool process: its task was terminated by a revoke').at(-1)).toMatchObject({ pid, signal: 'SIGKILL' });
      await waitFor('the task-revoked event', () => revokedEvent(victim.id) !== undefined);
      expect(revokedEvent(victim.id)).toMatchObject({ terminated: true, signum: 9 });
    }, 20_000);

    test('a terminate of a task the worker is not running: "tasks unknown"; a signal this system does not know: refused; no process killed', async () => {
      const before = await poolProcesses();
      const revoke = await warren('control', 'revoke', `${prefix}-not-running`, '--terminate', '-d', nodes.process, '-t', '2');
      expect(revoke.stdout).toBe(`${nodes.process}: OK terminate: tasks unknown\n`);
      const running = await send('sleep', ['mistyped', 60_000], queues.process);
      await waitFor('the task to start', () => pidsOf('mistyped').length === 1);
      const mistyped = await warren('control', 'revoke', running.id, '--terminate', '--signal', 'SIGKIL', '-d', nodes.process, '-t', '2');
      expect(mistyped.stdout).toBe(`${nodes.process}: ERROR signal must be a signal name such as SIGTERM or KILL, or its number (got string "SIGKIL")\n`);
      expect(await inspect<string[]>('revoked', nodes.process)).not.toContain(running.id);
      expect(processAlive(pidsOf('mistyped')[0])).toBe(true);
      expect(await poolProcesses()).toEqual(before);
      const revoke9 = await warren('control', 'revoke', running.id, '--terminate', '--signal', '9', '-d', nodes.process, '-t', '2');
      expect(revoke9.stdout).toBe(`${nodes.process}: OK terminate: ${running.id}\n`);
      await revokedError(running);
      await waitFor('the process to be gone', () => !processAlive(pidsOf('mistyped')[0]), 5000);
    });
  });

  describe('--pool async -c 1', () => {
    test('a task that honours its signal stops: aborted with TaskRevokedError, REVOKED, acked; the worker process lives on', async () => {
      const honours = await send('untilAborted', ['honours'], queues.async);
      await waitFor('the task to start', () => pidsOf('honours').length === 1);
      expect(pidsOf('honours')).toEqual([asyncWorker.child.pid]);
      const revoke = await warren('control', 'revoke', honours.id, '--terminate', '-d', nodes.async, '-t', '2');
      expect(revoke.stdout).toBe(`${nodes.async}: OK terminate: ${honours.id}\n`);
      expect((await revokedError(honours)).message).toBe(`task ${honours.id} was revoked: terminated`);
      await waitFor('the task to see its signal aborted', () => pidsOf('honours-aborted:TaskRevokedError').length === 1, 5000);
      expect(await probe.messageCount(queues.async)).toBe(0);
      await waitFor('the task-revoked event', () => revokedEvent(honours.id) !== undefined);
      expect(revokedEvent(honours.id)).toMatchObject({ hostname: nodes.async, terminated: true, signum: 15 });
    });

    test('a task that ignores its signal runs on in the background, but its slot goes to the next task at once', async () => {
      const ignores = await send('sleep', ['ignores', 15_000], queues.async);
      await waitFor('the task to start', () => pidsOf('ignores').length === 1);
      const revoke = await warren('control', 'revoke', ignores.id, '--terminate', '-d', nodes.async, '-t', '2');
      expect(revoke.stdout).toBe(`${nodes.async}: OK terminate: ${ignores.id}\n`);
      await revokedError(ignores);
      // -c 1: the next task runs while the revoked one still sleeps.
      expect(await (await send<number>('pid', ['after-ignores'], queues.async)).get({ timeout: 10_000 })).toBe(asyncWorker.child.pid);
      expect(pidsOf('ignores-woke')).toHaveLength(0);
      expect(await probe.messageCount(queues.async)).toBe(0);
    });
  });

  test('the workers stop cleanly (exit 0), and no terminated task comes back to its queue', async () => {
    expect(await processWorker.stop('SIGTERM')).toBe(0);
    expect(await asyncWorker.stop('SIGTERM')).toBe(0);
    // A delivery left unacked would be ready again once its worker's connection closed.
    expect(await probe.messageCount(queues.process)).toBe(0);
    expect(await probe.messageCount(queues.async)).toBe(0);
    expect(pidsOf('victim')).toHaveLength(1);
    expect(pidsOf('ignores')).toHaveLength(1);
  }, 20_000);
});
