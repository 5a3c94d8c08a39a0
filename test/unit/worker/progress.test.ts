import { UsageError } from '../../../src/errors';
import { ProgressReporter, type ProgressMeta } from '../../../src/worker';

describe('ProgressReporter', () => {
  beforeEach(() => jest.useFakeTimers({ doNotFake: ['performance'] }));
  afterEach(() => jest.useRealTimers());

  const reporter = (stored: ProgressMeta[], intervalMs = 200): ProgressReporter =>
    new ProgressReporter(
      async (meta) => {
        stored.push(meta);
      },
      () => undefined,
      intervalMs,
    );

  test('the first report goes out at once; a tight loop sends the latest once per interval', async () => {
    const stored: ProgressMeta[] = [];
    const progress = reporter(stored, 1_000_000);
    await progress.report(0, 100, { step: 'load' });
    for (let i = 1; i <= 100; i += 1) void progress.report(i, 100);
    expect(stored).toEqual([{ step: 'load', current: 0, total: 100 }]);
    jest.advanceTimersByTime(1_000_000);
    expect(stored).toEqual([
      { step: 'load', current: 0, total: 100 },
      { current: 100, total: 100 },
    ]);
  });

  test('once the run ended, a waiting report is dropped (it would land after the result)', () => {
    const stored: ProgressMeta[] = [];
    const progress = reporter(stored, 1_000_000);
    void progress.report(1, 3);
    void progress.report(2, 3);
    progress.end();
    jest.advanceTimersByTime(1_000_000);
    void progress.report(3, 3);
    expect(stored).toEqual([{ current: 1, total: 3 }]);
  });

  test('current and total must be finite numbers, meta an object', () => {
    const progress = reporter([]);
    expect(() => progress.report(NaN, 3)).toThrow(new UsageError('ctx.progress(current, total): both must be finite numbers (got NaN, 3)'));
    expect(() => progress.report(1, 3, [] as unknown as Record<string, unknown>)).toThrow(UsageError);
  });

  test('a store that fails is reported, not thrown at the task', async () => {
    const failures: unknown[] = [];
    const progress = new ProgressReporter(() => Promise.reject(new Error('broker gone')), (err) => failures.push(err));
    await expect(progress.report(1, 2)).resolves.toBeUndefined();
    expect(failures).toEqual([new Error('broker gone')]);
  });
});
