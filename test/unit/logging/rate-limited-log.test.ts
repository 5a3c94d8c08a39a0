import { RateLimitedLog } from '../../../src/logging/rate-limited-log';
import { captureLogger } from '../../support/capture-logger';

describe('RateLimitedLog', () => {
  afterEach(() => jest.useRealTimers());

  test('logs a new failure at once, a repeat at most once a minute, and a different one at once', () => {
    jest.useFakeTimers().setSystemTime(new Date('2026-11-23T12:00:00Z'));
    const logs = captureLogger('error');
    const log = new RateLimitedLog(logs.logger);
    const messages = () => logs.lines().map((line) => line.err);

    log.error({ err: 'ECONNREFUSED' }, 'could not consume');
    log.error({ err: 'ECONNREFUSED' }, 'could not consume');
    jest.setSystemTime(new Date('2026-11-23T12:00:59Z'));
    log.error({ err: 'ECONNREFUSED' }, 'could not consume');
    expect(messages()).toEqual(['ECONNREFUSED']);

    jest.setSystemTime(new Date('2026-11-23T12:01:01Z'));
    log.error({ err: 'ECONNREFUSED' }, 'could not consume');
    log.error({ err: 'NOT_FOUND' }, 'could not consume');
    expect(messages()).toEqual(['ECONNREFUSED', 'ECONNREFUSED', 'NOT_FOUND']);
  });
});
