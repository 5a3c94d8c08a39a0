import { hostname } from 'node:os';
import { workerOptionsFromArgs } from '../../../src/cli/worker-command';
import { resolveWorkerOptions } from '../../../src/worker';

describe("warren worker's flags as worker options", () => {
  test("Celery's pool names: prefork is the process pool, threads/gevent/eventlet the async pool, solo the async pool with -c 1", () => {
    expect(workerOptionsFromArgs({ pool: 'prefork', app: './tasks.js', concurrency: 3 })).toMatchObject({ pool: 'process', appModule: './tasks.js', concurrency: 3 });
    for (const pool of ['threads', 'gevent', 'eventlet']) {
      expect(workerOptionsFromArgs({ pool, concurrency: 100 })).toMatchObject({ pool: 'async', concurrency: 100, appModule: undefined });
    }
    expect(workerOptionsFromArgs({ pool: 'solo' })).toMatchObject({ pool: 'async', concurrency: 1 });
    expect(workerOptionsFromArgs({ pool: 'solo', concurrency: 1 })).toMatchObject({ pool: 'async', concurrency: 1 });
    expect(() => workerOptionsFromArgs({ pool: 'solo', concurrency: 2 })).toThrow('-P solo runs one task at a time: it takes no -c 2');
    expect(() => workerOptionsFromArgs({ pool: 'forkserver' })).toThrow(`-P/--pool must be async or process, or one of Celery's prefork, threads, gevent, eventlet, solo (got "forkserver")`);
  });

  test('--max-memory-per-child: a bare number is KiB, as for Celery; a size with a unit is that size', () => {
    expect(workerOptionsFromArgs({ pool: 'process', app: './tasks.js', 'max-memory-per-child': '12000' }).maxMemoryPerChild).toBe(12000 * 1024);
    expect(workerOptionsFromArgs({ pool: 'process', app: './tasks.js', 'max-memory-per-child': '512MiB' }).maxMemoryPerChild).toBe(512 * 2 ** 20);
    expect(() => workerOptionsFromArgs({ pool: 'process', app: './tasks.js', 'max-memory-per-child': '-5' })).toThrow('--max-memory-per-child: "-5" is not a size');
  });

  test("--purge, and -n with Celery's %h: the options ask for a purge and the node name is this host's", () => {
    expect(workerOptionsFromArgs({ purge: true }).purge).toBe(true);
    expect(workerOptionsFromArgs({}).purge).toBeUndefined();
    expect(resolveWorkerOptions(workerOptionsFromArgs({})).purge).toBe(false);
    expect(resolveWorkerOptions(workerOptionsFromArgs({ hostname: 'w1@%h' })).hostname).toBe(`w1@${hostname()}`);
    expect(resolveWorkerOptions(workerOptionsFromArgs({ hostname: 'w1@%n.local' })).hostname).toBe(`w1@${hostname().split('.')[0]}.local`);
  });
});
