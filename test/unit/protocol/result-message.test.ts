import { InvalidMessageError } from '../../../src/errors';
import {
  decodeResultMessage,
  encodeResultMessage,
  EXCEPTION_STATES,
  READY_STATES,
  type TaskState,
} from '../../../src/protocol';

const TASK_ID = 'c1a2b3d4-0000-4000-8000-000000000001';
const DONE = new Date('2025-01-01T12:00:00.123Z');

describe('result messages (rpc backend)', () => {
  it('encodes a SUCCESS with task_id in the body and as correlation id, transient', () => {
    const { body, properties } = encodeResultMessage({ taskId: TASK_ID, status: 'SUCCESS', result: 5, dateDone: DONE });
    expect(JSON.parse(body.toString())).toEqual({
      status: 'SUCCESS',
      result: 5,
      traceback: null,
      children: [],
      date_done: '2025-01-01T12:00:00.123000+00:00',
      task_id: TASK_ID,
    });
    expect(properties).toEqual({
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      correlationId: TASK_ID,
      deliveryMode: 1,
    });
  });

  it('adds parent_id and group_id when set, and uses a given correlation id', () => {
    const { body, properties } = encodeResultMessage({
      taskId: TASK_ID,
      status: 'SUCCESS',
      result: null,
      parentId: 'p-1',
      groupId: 'g-1',
      correlationId: 'corr-1',
    });
    expect(JSON.parse(body.toString())).toMatchObject({ parent_id: 'p-1', group_id: 'g-1', task_id: TASK_ID });
    expect(properties.correlationId).toBe('corr-1');
  });

  it('sends date_done only for ready states', () => {
    const started = encodeResultMessage({ taskId: TASK_ID, status: 'STARTED', result: { pid: 1, hostname: 'w' }, dateDone: DONE });
    expect(JSON.parse(started.body.toString()).date_done).toBeNull();
    const revoked = encodeResultMessage({
      taskId: TASK_ID,
      status: 'REVOKED',
      result: { exc_type: 'TaskRevokedError', exc_message: ['expired'], exc_module: 'celery.exceptions' },
      dateDone: DONE,
    });
    expect(JSON.parse(revoked.body.toString()).date_done).toBe('2025-01-01T12:00:00.123000+00:00');
  });

  it('carries exc_type, exc_message and exc_module for a FAILURE, with the JS stack as traceback', () => {
    const error = new RangeError('n must be positive');
    const { body } = encodeResultMessage({ taskId: TASK_ID, status: 'FAILURE', result: error });
    const decoded = JSON.parse(body.toString());
    expect(decoded.result).toEqual({ exc_type: 'ValueError', exc_message: ['n must be positive'], exc_module: 'builtins' });
    expect(decoded.traceback).toBe(error.stack);
  });

  it('passes an already encoded exception through', () => {
    const encoded = { exc_type: 'NotRegistered', exc_message: ['x.nope'], exc_module: 'celery.exceptions' };
    const { body } = encodeResultMessage({ taskId: TASK_ID, status: 'FAILURE', result: encoded, traceback: null });
    expect(JSON.parse(body.toString())).toMatchObject({ result: encoded, traceback: null });
  });

  it('refuses a FAILURE without an exception, which a Python client could not rebuild', () => {
    expect(() => encodeResultMessage({ taskId: TASK_ID, status: 'FAILURE', result: null })).toThrow(
      new InvalidMessageError(`cannot encode result of task ${TASK_ID}: a FAILURE result must carry the exception (found null)`),
    );
  });

  it('decodes what it encodes, dateDone as a Date', () => {
    const { body, properties } = encodeResultMessage({ taskId: TASK_ID, status: 'SUCCESS', result: { at: DONE }, dateDone: DONE });
    expect(decodeResultMessage(body, properties)).toEqual({
      taskId: TASK_ID,
      status: 'SUCCESS',
      result: { at: DONE },
      traceback: null,
      children: [],
      dateDone: DONE,
    });
  });

  it('decodes a Python worker result, taking the task id from the correlation id when the body has none', () => {
    const body = Buffer.from('{"status": "PROGRESS", "result": {"done": 3}, "traceback": null, "children": [], "date_done": null}');
    expect(decodeResultMessage(body, { contentType: 'application/json', contentEncoding: 'utf-8', correlationId: TASK_ID })).toEqual({
      taskId: TASK_ID,
      status: 'PROGRESS',
      result: { done: 3 },
      traceback: null,
      children: [],
      dateDone: null,
    });
  });

  it('rejects a result that is not one, saying why', () => {
    const properties = { contentType: 'application/json', contentEncoding: 'utf-8', correlationId: TASK_ID };
    expect(() => decodeResultMessage(Buffer.from('[1]'), properties)).toThrow(
      `invalid result message (correlation id ${TASK_ID}): body must be an object {status, result, …} (found array of 1 element)`,
    );
    expect(() => decodeResultMessage(Buffer.from('{"result": 1, "date_done": "later"}'), { ...properties, correlationId: undefined })).toThrow(
      'invalid result message: no task id: neither task_id in the body nor a correlation id; ' +
        'status must be a non-empty string (found nothing); date_done must be an ISO 8601 date or null (found string "later")',
    );
    expect(() => decodeResultMessage(Buffer.from('{}'), { ...properties, contentType: 'text/plain' })).toThrow(
      `invalid result message (correlation id ${TASK_ID}): content type "text/plain" is not supported (expected application/json)`,
    );
  });

  it('names the ready and exception states as Celery does', () => {
    expect([...READY_STATES].sort()).toEqual<TaskState[]>(['FAILURE', 'REVOKED', 'SUCCESS']);
    expect([...EXCEPTION_STATES].sort()).toEqual<TaskState[]>(['FAILURE', 'RETRY', 'REVOKED']);
  });
});
