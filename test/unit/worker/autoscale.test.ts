import { workerOptionsFromArgs } from '../../../src/cli/worker-command';
import { resolveWorkerOptions } from '../../../src/worker';
import { until } from '../../support/memory';
import { gate, memoryApp, type MemoryApp } from '../../support/memory-app';

describe('autoscale options', () => {
  const saved = process.env.AUTOSCALE_KEEPALIVE;
  afterEach(() => {
    if (saved === undefined) delete process.env.AUTOSCALE_KEEPALIVE;
    else process.env.AUTOSCALE_KEEPALIVE = saved;
  });

  test("--autoscale max,min as Celery's (min 0 when left out); concurrency is the max, AUTOSCALE_KEEPALIVE the seconds before a shrink", () => {
    delete process.env.AUTOSCALE_KEEPALIVE;
    expect(resolveWorkerOptions(workerOptionsFromArgs({ autoscale: '10,3' }))).toMatchObject({ concurrency: 10, autoscale: { max: 10, min: 3, keepaliveMs: 30_000 } });
    expect(resolveWorkerOptions(workerOptionsFromArgs({ autoscale: '4' }))).toMatchObject({ concurrency: 4, autoscale: { max: 4, min: 0 } });
    process.env.AUTOSCALE_KEEPALIVE = '2.5';
    expect(resolveWorkerOptions(workerOptionsFromArgs({ autoscale: '4,1' })).autoscale).toEqual({ max: 4, min: 1, keepaliveMs: 2500 });
    process.env.AUTOSCALE_KEEPALIVE = 'soon';
    expect(() => workerOptionsFromArgs({ autoscale: '4,1' })).toThrow('environment variable AUTOSCALE_KEEPALIVE is "soon" (expected a number of seconds)');
  });

  test('what is refused, and why', () => {
    expect(() => workerOptionsFromArgs({ autoscale: 'ten' })).toThrow(`--autoscale takes max,min as Celery's does, e.g. --autoscale 10,3 (got "ten")`);
    expect(() => workerOptionsFromArgs({ autoscale: '2,5' })).toThrow('--autoscale must be a max of at least 1, a min from 0 to max and a keepaliveMs of 0 or more, as in --autoscale 10,3 (got max 2, min 5, keepaliveMs 30000)');
    expect(() => workerOptionsFromArgs({ autoscale: '0' })).toThrow('--autoscale must be a max of at least 1');
    expect(() => workerOptionsFromArgs({ autoscale: '4,1', concurrency: 2 })).toThrow('give --concurrency or --autoscale, not both');
    expect(() => workerOptionsFromArgs({ autoscale: '4,1', pool: 'solo' })).toThrow('-P solo runs one task at a time: it takes no --autoscale');
    expect(resolveWorkerOptions().autoscale).toBeUndefined();
  });
});

describe('a worker that autoscales (memory broker)', () => {
  let env: MemoryApp | undefined;
  afterEach(async () => {
    await env?.close();
    env = undefined;
  });

  test('grows to the deliveries in hand (at most max) within a tick, shrinks to the min once they are done and the keepalive passed; remote autoscale moves the bounds', async () => {
    env = memoryApp();
    const hold = gate();
    let running = 0;
    let most = 0;
    env.app.task('wait', async () => {
      running += 1;
      most = Math.max(most, running);
      await hold.wait;
      running -= 1;
    });
    const worker = await env.app.startWorker({ queues: ['jobs'], autoscale: { max: 4, min: 1, keepaliveMs: 0 }, hostname: 'auto@test' });
    expect(worker.currentConcurrency).toBe(1);
    expect(worker.prefetchCount).toBe(4);
    for (let i = 0; i < 6; i += 1) await env.app.sendTask('wait', [], {}, { ignoreResult: true });
    await until(() => running === 1, 'the first run');
    await until(() => running === 4, 'autoscale up to the max', 3000);
    expect(worker.currentConcurrency).toBe(4);
    const stats = (await env.app.control.inspect({ destination: ['auto@test'] }).stats())['auto@test'] as { pool: Record<string, unknown> };
    expect(stats.pool).toMatchObject({ 'max-concurrency': 4, autoscaler: { max: 4, min: 1, current: 4 } });

    hold.open();
    await until(() => env!.broker.queue('jobs')?.messageCount === 0 && running === 0, 'every task done');
    await until(() => worker.currentConcurrency === 1, 'autoscale down to the min', 3000);
    expect(most).toBe(4);

    expect(await env.app.control.broadcast('autoscale', { max: 3, min: 2 }, { destination: ['auto@test'] })).toEqual([{ 'auto@test': { ok: 'autoscale now max=3 min=2' } }]);
    expect(worker.currentConcurrency).toBe(2);
    expect(await env.app.control.broadcast('autoscale', { max: 8 }, { destination: ['auto@test'] })).toEqual([
      { 'auto@test': { error: 'max 8 is above the 4 the worker started with (its prefetch is 4)' } },
    ]);
  });

  test('a worker without autoscale says so to the remote autoscale', async () => {
    env = memoryApp();
    await env.app.startWorker({ queues: ['jobs'], concurrency: 2, hostname: 'fixed@test' });
    expect(await env.app.control.broadcast('autoscale', { max: 3, min: 1 }, { destination: ['fixed@test'] })).toEqual([{ 'fixed@test': { error: 'Autoscale not enabled' } }]);
  });
});
