import { TaskNotRegisteredError } from '../../../src/errors';
import { decodeError, encodeError, formatTraceback, JS_ERROR_MODULE } from '../../../src/protocol';

class ValidationError extends Error {
  override name = 'ValidationError';
}

describe('encodeError', () => {
  it.each<[string, unknown, ReturnType<typeof encodeError>]>([
    ['Error as builtins.Exception', new Error('boom'), { exc_type: 'Exception', exc_message: ['boom'], exc_module: 'builtins' }],
    ['TypeError as builtins.TypeError', new TypeError('bad type'), { exc_type: 'TypeError', exc_message: ['bad type'], exc_module: 'builtins' }],
    ['RangeError as builtins.ValueError', new RangeError('too big'), { exc_type: 'ValueError', exc_message: ['too big'], exc_module: 'builtins' }],
    ['another error by its name, in a module no Python has', new ValidationError('bad input'), { exc_type: 'ValidationError', exc_message: ['bad input'], exc_module: 'warren-js' }],
    ['an unregistered task as celery.exceptions.NotRegistered', new TaskNotRegisteredError('x.nope'), { exc_type: 'NotRegistered', exc_message: ['x.nope'], exc_module: 'celery.exceptions' }],
    ['a revoked task as celery.exceptions.TaskRevokedError', Object.assign(new Error('expired'), { name: 'TaskRevokedError' }), { exc_type: 'TaskRevokedError', exc_message: ['expired'], exc_module: 'celery.exceptions' }],
    ['an error named like an Object.prototype member by that name', Object.assign(new Error('odd'), { name: 'constructor' }), { exc_type: 'constructor', exc_message: ['odd'], exc_module: 'warren-js' }],
    ['a thrown string as Exception', 'plain failure', { exc_type: 'Exception', exc_message: ['plain failure'], exc_module: 'builtins' }],
    ['a thrown object as Exception with its JSON', { code: 42 }, { exc_type: 'Exception', exc_message: ['{"code":42}'], exc_module: 'builtins' }],
    ['a thrown number as Exception', 7, { exc_type: 'Exception', exc_message: ['7'], exc_module: 'builtins' }],
  ])('encodes %s', (_what, thrown, expected) => {
    expect(encodeError(thrown)).toEqual(expected);
  });

  it('uses a module name with a hyphen, which no Python import can produce', () => {
    expect(JS_ERROR_MODULE).toBe('warren-js');
  });
});

describe('formatTraceback', () => {
  it('is the JS stack, followed by the stack of each cause', () => {
    const cause = new Error('disk full');
    const error = new Error('save failed', { cause });
    expect(formatTraceback(error)).toBe(`${error.stack}\nCaused by: ${cause.stack}`);
  });

  it('is the text of a thrown non-Error', () => {
    expect(formatTraceback('plain failure')).toBe('non-error value thrown: plain failure');
  });
});

describe('decodeError', () => {
  it('reads exc_message as a list, one argument as Python str() shows it', () => {
    expect(decodeError({ exc_type: 'ValueError', exc_message: ['bad'], exc_module: 'builtins' })).toEqual({
      type: 'ValueError',
      module: 'builtins',
      message: 'bad',
    });
    expect(decodeError({ exc_type: 'KeyError', exc_message: [42], exc_module: 'builtins' }).message).toBe('42');
  });

  it('reads several arguments as the tuple repr', () => {
    expect(decodeError({ exc_type: 'OSError', exc_message: [2, 'No such file'], exc_module: 'builtins' }).message).toBe(
      "(2, 'No such file')",
    );
  });

  it('reads exc_message as a string, as older producers sent it', () => {
    expect(decodeError({ exc_type: 'Exception', exc_message: 'old style', exc_module: 'builtins' })).toEqual({
      type: 'Exception',
      module: 'builtins',
      message: 'old style',
    });
  });

  it('reads a result without exc_type (celery.node sends null) as a bare Exception', () => {
    expect(decodeError(null)).toEqual({ type: 'Exception', module: undefined, message: '' });
  });

  it('round-trips what encodeError wrote', () => {
    expect(decodeError(encodeError(new ValidationError('bad input')))).toEqual({
      type: 'ValidationError',
      module: 'warren-js',
      message: 'bad input',
    });
  });
});
