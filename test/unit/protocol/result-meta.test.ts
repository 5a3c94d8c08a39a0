import { InvalidMessageError } from '../../../src/errors';
import { decodeResultMeta, encodeResultMeta } from '../../../src/protocol';

// What Debian's Celery 5.2.6 (result_extended on) wrote to Redis for `chain(add.s(2, 3), mul.s(10))`,
// captured with `redis-cli monitor`: the value of celery-task-meta-<id> of the second task.
const PYTHON_WROTE =
  '{"status": "SUCCESS", "result": 50, "traceback": null, "children": [], "date_done": "2026-11-29T23:21:19.249496", ' +
  '"parent_id": "f92eb88c-56da-4b10-9c06-48b599b78692", "name": "cap.mul", "args": [5, 10], "kwargs": {}, "worker": "celery@vm", ' +
  '"retries": 0, "queue": "capq-res", "task_id": "33ba652d-2a71-46ea-a135-d99c495603e3"}';
const FAILURE_WROTE =
  '{"status": "FAILURE", "result": {"exc_type": "ValueError", "exc_message": ["bad"], "exc_module": "builtins"}, ' +
  '"traceback": "Traceback (most recent call last):\\nValueError: bad\\n", "children": [], "date_done": "2026-11-29T23:21:19.769969", ' +
  '"name": "cap.boom", "args": [1], "kwargs": {}, "worker": "celery@vm", "retries": 0, "queue": "capq-res", "task_id": "4a5e8fd4-0a45-4a85-b54a-cbf16d28d8b3"}';
const PROGRESS_WROTE =
  '{"status": "PROGRESS", "result": {"done": 3, "total": 10}, "traceback": null, "children": [], "date_done": null, ' +
  '"name": "cap.prog", "args": [], "kwargs": {}, "worker": "celery@vm", "retries": 0, "queue": "capq-res", "task_id": "2916e2f4-23c0-4163-9ee8-dfcc627ce93f"}';

describe('the stored result (Celery key-value backend format)', () => {
  test('is written byte for byte as a Celery 5.2 worker writes it (milliseconds become microseconds)', () => {
    const written = encodeResultMeta({
      taskId: '33ba652d-2a71-46ea-a135-d99c495603e3',
      status: 'SUCCESS',
      result: 50,
      dateDone: new Date('2026-11-29T23:21:19.249Z'),
      parentId: 'f92eb88c-56da-4b10-9c06-48b599b78692',
      extended: { name: 'cap.mul', args: [5, 10], kwargs: {}, worker: 'celery@vm', retries: 0, queue: 'capq-res' },
    });
    expect(written).toBe(PYTHON_WROTE.replace('19.249496', '19.249000'));
  });

  test('a custom state has no date_done; a group member names its group before its parent', () => {
    expect(
      encodeResultMeta({ taskId: 't1', status: 'PROGRESS', result: { done: 3, total: 10 }, groupId: 'g1', parentId: 'p1' }),
    ).toBe('{"status": "PROGRESS", "result": {"done": 3, "total": 10}, "traceback": null, "children": [], "date_done": null, "group_id": "g1", "parent_id": "p1", "task_id": "t1"}');
  });

  test('an error is encoded as Celery encodes exceptions, with the JS stack as traceback', () => {
    const meta = JSON.parse(encodeResultMeta({ taskId: 't1', status: 'FAILURE', result: new RangeError('too big') })) as Record<string, unknown>;
    expect(meta.result).toEqual({ exc_type: 'ValueError', exc_message: ['too big'], exc_module: 'builtins' });
    expect(meta.traceback).toContain('RangeError: too big');
  });

  test('non-ASCII text is escaped as Python escapes it, Dates follow jsonDates', () => {
    const at = new Date('2026-11-23T12:52:21.358Z');
    expect(encodeResultMeta({ taskId: 't', status: 'STARTED', result: { who: 'Zoë', at } })).toContain(
      '"result": {"who": "Zo\\u00eb", "at": {"__type__": "datetime", "__value__": "2026-11-23T12:52:21.358000+00:00"}}',
    );
    expect(encodeResultMeta({ taskId: 't', status: 'STARTED', result: { at }, jsonDates: 'plain' })).toContain('"result": {"at": "2026-11-23T12:52:21.358000Z"}');
  });

  test("reads what Python wrote: success, failure and a custom state", () => {
    expect(decodeResultMeta(PYTHON_WROTE, 'r')).toEqual({
      taskId: '33ba652d-2a71-46ea-a135-d99c495603e3',
      status: 'SUCCESS',
      result: 50,
      traceback: null,
      children: [],
      dateDone: new Date('2026-11-29T23:21:19.249Z'),
      parentId: 'f92eb88c-56da-4b10-9c06-48b599b78692',
      name: 'cap.mul',
      args: [5, 10],
      kwargs: {},
      worker: 'celery@vm',
      retries: 0,
      queue: 'capq-res',
    });
    expect(decodeResultMeta(FAILURE_WROTE, 'r')).toMatchObject({
      status: 'FAILURE',
      result: { exc_type: 'ValueError', exc_message: ['bad'], exc_module: 'builtins' },
      traceback: 'Traceback (most recent call last):\nValueError: bad\n',
    });
    expect(decodeResultMeta(PROGRESS_WROTE, 'r')).toMatchObject({ status: 'PROGRESS', result: { done: 3, total: 10 }, dateDone: null });
  });

  test('reads its own writing back', () => {
    const text = encodeResultMeta({ taskId: 't1', status: 'SUCCESS', result: { at: new Date('2026-01-01T00:00:00Z') }, groupId: 'g' });
    expect(decodeResultMeta(text, 'r')).toMatchObject({ taskId: 't1', status: 'SUCCESS', result: { at: new Date('2026-01-01T00:00:00Z') }, groupId: 'g' });
  });

  test.each([
    ['not JSON', '{"status": "SUCC', /^ctx cannot be read: not valid JSON: .* \(found string "\{\\"status\\": \\"SUCC"\)$/],
    ['not an object', '[1, 2]', 'ctx cannot be read: the value must be an object {status, result, …} (found array of 2 elements)'],
    ['no status', '{"task_id": "t"}', 'ctx cannot be read: status must be a non-empty string (found nothing)'],
    [
      'wrong field types',
      '{"task_id": "t", "status": "SUCCESS", "children": 3, "date_done": "yesterday", "args": "a"}',
      'ctx cannot be read: children must be a list (found number 3); date_done must be an ISO 8601 date or null (found string "yesterday"); args must be a list or null (found string "a")',
    ],
    ['a bad kombu tag', '{"task_id": "t", "status": "SUCCESS", "result": {"__type__": "datetime", "__value__": 5}}', /^ctx cannot be read: kombu JSON datetime value must be an ISO 8601 date \(found number 5\)/],
  ])('a malformed value (%s) is an InvalidMessageError saying what is wrong', (_label, text, message) => {
    const read = (): unknown => decodeResultMeta(text, 'ctx');
    expect(read).toThrow(InvalidMessageError);
    expect(read).toThrow(message);
  });
});
