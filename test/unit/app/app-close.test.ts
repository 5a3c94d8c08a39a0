import { ClosedError, UsageError } from '../../../src/errors';
import { createApp, createLogger } from '../../../src';

const silent = createLogger({ level: 'silent' });

async function rejection(call: () => unknown): Promise<Error> {
  try {
    await call();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

describe('an app once closed', () => {
  test('refuses every call with ClosedError, before loading anything', async () => {
    // The definitions do not exist: a refused call never gets as far as reading them.
    const app = createApp({ definitions: '/nonexistent/warren.yaml', logger: silent });
    await app.close();
    const calls: Array<[string, () => unknown, string]> = [
      ['sendTask', () => app.sendTask('app.add', [1, 2]), 'sendTask("app.add") refused: the app is closed'],
      ['startWorker', () => app.startWorker(), 'startWorker() refused: the app is closed'],
      ['startBeat', () => app.startBeat(), 'startBeat() refused: the app is closed'],
      ['declareTopology', () => app.declareTopology(), 'declareTopology() refused: the app is closed'],
      ['schedules', () => app.schedules.list(), 'schedules refused: the app is closed'],
      ['definitions', () => app.definitions(), 'definitions() refused: the app is closed'],
      ['configure', () => app.configure({ logLevel: 'debug' }), 'configure() refused: the app is closed'],
    ];
    for (const [, call, message] of calls) {
      const error = await rejection(call);
      expect(error).toBeInstanceOf(ClosedError);
      expect((error as ClosedError).code).toBe('WARREN_CLOSED');
      expect(error.message).toBe(message);
    }
  });

  test('close() is idempotent: a second call resolves too', async () => {
    const app = createApp({ definitions: '/nonexistent/warren.yaml', logger: silent });
    await Promise.all([app.close(), app.close()]);
    await expect(app.close()).resolves.toBeUndefined();
  });
});

describe('result options', () => {
  test.each([
    [{ resultTimeoutMs: -1 }, 'resultTimeoutMs must be a number of milliseconds, 0 or more, or Infinity for no limit (got -1)'],
    [{ resultTimeoutMs: Number.NaN }, 'resultTimeoutMs must be a number of milliseconds, 0 or more, or Infinity for no limit (got NaN)'],
    [{ maxTrackedResults: 0 }, 'maxTrackedResults must be a whole number, 1 or more (got 0)'],
    [{ maxTrackedResults: 2.5 }, 'maxTrackedResults must be a whole number, 1 or more (got 2.5)'],
  ])('createApp(%p) is refused, saying what was expected', (options, message) => {
    expect(() => createApp({ ...options, logger: silent })).toThrow(new UsageError(message));
  });

  test('Infinity is a valid resultTimeoutMs', () => {
    expect(() => createApp({ resultTimeoutMs: Infinity, logger: silent })).not.toThrow();
  });
});
