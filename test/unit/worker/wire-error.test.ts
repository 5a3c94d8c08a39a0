import { Retry } from '../../../src/errors';
import { encodeError, formatTraceback } from '../../../src/protocol';
import { matchesAutoretry } from '../../../src/worker';
import { fromWireError, remoteClassNames, toWireError } from '../../../src/worker/pool/wire-error';

class NetworkError extends Error {
  override name = 'NetworkError';
}
class FlakyNetwork extends NetworkError {}

/** What crosses from a pool process to the worker goes through JSON: so must the test. */
const across = (thrown: unknown): unknown => fromWireError(JSON.parse(JSON.stringify(toWireError(thrown))));

describe('errors thrown in a pool process, as the worker sees them', () => {
  test('an error keeps its name, message, stack, code and cause: the result encodes as in the async pool', () => {
    const cause = new TypeError('bad row');
    const thrown = Object.assign(new FlakyNetwork('socket hang up', { cause }), { code: 'ECONNRESET' });
    const rebuilt = across(thrown) as Error & { code?: string };
    expect(encodeError(rebuilt)).toEqual(encodeError(thrown));
    expect(rebuilt.code).toBe('ECONNRESET');
    expect(rebuilt.stack).toBe(thrown.stack);
    expect(formatTraceback(rebuilt)).toBe(formatTraceback(thrown));
    expect(remoteClassNames(rebuilt)).toEqual(['FlakyNetwork', 'NetworkError', 'Error']);
  });

  test('autoretryFor matches a rebuilt error by the class and the names it had', () => {
    const rebuilt = across(new FlakyNetwork('reset'));
    expect(matchesAutoretry(rebuilt, [NetworkError])).toBe(true);
    expect(matchesAutoretry(rebuilt, ['FlakyNetwork'])).toBe(true);
    expect(matchesAutoretry(rebuilt, [RangeError])).toBe(false);
  });

  test('a Retry comes back a Retry, with its countdown, eta, max and cause', () => {
    const eta = new Date('2030-01-01T00:00:00Z');
    const rebuilt = across(new Retry({ eta, max: 5, error: new Error('busy') })) as Retry;
    expect(rebuilt).toBeInstanceOf(Retry);
    expect(rebuilt.eta).toEqual(eta);
    expect(rebuilt.max).toBe(5);
    expect((rebuilt.cause as Error).message).toBe('busy');
    expect((across(new Retry({ countdown: 3 })) as Retry).countdown).toBe(3);
  });

  test('a thrown non-error comes back as the value (kombu JSON), or its text', () => {
    expect(across({ code: 7, at: new Date('2026-01-01T00:00:00Z') })).toEqual({ code: 7, at: new Date('2026-01-01T00:00:00Z') });
    expect(across('plain string')).toBe('plain string');
    expect(across(10n)).toBe('10');
  });
});
