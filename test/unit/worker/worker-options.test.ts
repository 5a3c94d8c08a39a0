import { availableParallelism, hostname } from 'node:os';
import { UsageError } from '../../../src/errors';
import { resolveWorkerOptions, type WorkerOptions } from '../../../src/worker';

describe('resolveWorkerOptions', () => {
  test('fills every default: concurrency = the CPU count (as Celery), multiplier 1, 30 s shutdown, 1 MiB', () => {
    expect(resolveWorkerOptions()).toEqual({
      queues: [],
      excludeQueues: [],
      autoscale: undefined,
      concurrency: availableParallelism(),
      prefetchMultiplier: 1,
      hostname: `warren@${hostname()}`,
      shutdownTimeoutMs: 30_000,
      timeLimit: undefined,
      softTimeLimit: undefined,
      maxMessageBytes: 1_048_576,
      stallWarningMs: 2000,
      taskEvents: false,
      remoteControl: true,
      heartbeat: true,
      mingle: true,
      purge: false,
      stateDb: undefined,
      metricsPort: undefined,
      metricsHost: '127.0.0.1',
      pool: 'async',
      appModule: undefined,
      maxTasksPerChild: undefined,
      maxMemoryPerChild: undefined,
    });
  });

  test('the process pool keeps its module and its per-child limits', () => {
    expect(resolveWorkerOptions({ pool: 'process', appModule: 'dist/tasks.js', maxTasksPerChild: 3, maxMemoryPerChild: 2 ** 28 })).toMatchObject({
      pool: 'process',
      appModule: 'dist/tasks.js',
      maxTasksPerChild: 3,
      maxMemoryPerChild: 2 ** 28,
    });
  });

  test("the app's maxMessageBytes is the worker's default; the worker's own wins", () => {
    expect(resolveWorkerOptions({}, { maxMessageBytes: 4096 }).maxMessageBytes).toBe(4096);
    expect(resolveWorkerOptions({ maxMessageBytes: 512 }, { maxMessageBytes: 4096 }).maxMessageBytes).toBe(512);
  });

  test('keeps what is given, frozen, queues without duplicates', () => {
    const resolved = resolveWorkerOptions({ queues: ['a', 'b', 'a'], concurrency: 8, prefetchMultiplier: 4, hostname: 'w1@h', shutdownTimeoutMs: 0, timeLimit: 1.5, softTimeLimit: 1 });
    expect(resolved).toMatchObject({ queues: ['a', 'b'], concurrency: 8, prefetchMultiplier: 4, hostname: 'w1@h', shutdownTimeoutMs: 0, timeLimit: 1.5, softTimeLimit: 1 });
    expect(Object.isFrozen(resolved)).toBe(true);
  });

  test.each([
    [{ concurrency: NaN }, 'concurrency must be a whole number of at least 1 (got NaN)'],
    [{ concurrency: 2.5 }, 'concurrency must be a whole number of at least 1 (got 2.5)'],
    [{ concurrency: 0 }, 'concurrency must be a whole number of at least 1 (got 0)'],
    [{ concurrency: '4' }, 'concurrency must be a whole number of at least 1 (got "4")'],
    [{ prefetchMultiplier: -1 }, 'prefetchMultiplier must be a whole number of at least 1 (got -1)'],
    [{ shutdownTimeoutMs: -5 }, 'shutdownTimeoutMs must be a number of milliseconds >= 0 (got -5)'],
    [{ timeLimit: 0 }, 'timeLimit must be a number of seconds above 0 (got 0)'],
    [{ softTimeLimit: Infinity }, 'softTimeLimit must be a number of seconds above 0 (got Infinity)'],
    [{ maxMessageBytes: 1.5 }, 'maxMessageBytes must be a whole number of bytes of at least 1 (got 1.5)'],
    [{ hostname: '' }, 'hostname must be a non-empty string (got "")'],
    [{ queues: 'a' }, 'queues must be a list of queue names (got "a")'],
    [{ stallWarningMs: 0 }, 'stallWarningMs must be a number of milliseconds above 0 (got 0)'],
    [{ concurency: 4 }, 'unknown worker option "concurency" (known: queues, excludeQueues, autoscale, concurrency, prefetchMultiplier, hostname, shutdownTimeoutMs, timeLimit, softTimeLimit, maxMessageBytes, stallWarningMs, taskEvents, remoteControl, heartbeat, mingle, purge, stateDb, metricsPort, metricsHost, pool, appModule, maxTasksPerChild, maxMemoryPerChild)'],
    [{ pool: 'prefork' }, 'pool must be async or process (got "prefork")'],
    [{ pool: 'process' }, 'appModule must name the tasks module for the process pool to load (the -A path)'],
    [{ pool: 'process', appModule: 'tasks.js', maxTasksPerChild: 0 }, 'maxTasksPerChild must be a whole number of tasks of at least 1 (got 0)'],
    [{ maxTasksPerChild: 3 }, 'maxTasksPerChild needs the process pool (pool process)'],
    [{ maxMemoryPerChild: 1.5 }, 'maxMemoryPerChild must be a whole number of bytes of at least 1 (got 1.5)'],
  ])('%j is refused: %s', (options, message) => {
    expect(() => resolveWorkerOptions(options as WorkerOptions)).toThrow(new UsageError(message));
  });

  test('every problem is reported at once, named as the caller names the options', () => {
    const flags: Record<string, string> = { concurrency: '--concurrency', prefetchMultiplier: '--prefetch-multiplier' };
    expect(() => resolveWorkerOptions({ concurrency: 2.5, prefetchMultiplier: 0 }, { optionName: (key) => flags[key] ?? key })).toThrow(
      new UsageError('--concurrency must be a whole number of at least 1 (got 2.5); --prefetch-multiplier must be a whole number of at least 1 (got 0)'),
    );
  });
});
