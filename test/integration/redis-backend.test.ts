import { randomUUID } from 'node:crypto';
import { parseResultBackendUrl, type RedisBackendUrl } from '../../src/config';
import { InvalidMessageError, ResultForgottenError, TaskFailedError } from '../../src/errors';
import { createLogger } from '../../src/logging/logger';
import { RedisResultBackend } from '../../src/result/redis-result-backend';
import type { ResultRecord } from '../../src/worker/result-store';
import { RedisProbe, testRedisUrl } from '../support/redis';

/*
 * The Redis result backend against a real Redis: what a worker stores (Celery's key, JSON and
 * expiry), what a caller reads (pub/sub, then reads of the key), chord counting, and what a
 * malformed stored value does.
 */

const logger = createLogger({ level: 'silent' });
const url = parseResultBackendUrl(testRedisUrl()) as RedisBackendUrl;

function record(taskId: string, status: string, result: unknown, more: Partial<ResultRecord> = {}): ResultRecord {
  return {
    taskId,
    status,
    result,
    traceback: null,
    replyTo: null,
    correlationId: taskId,
    parentId: null,
    groupId: null,
    extended: { name: 'tests.add', args: [2, 3], kwargs: {}, worker: 'warren@test', retries: 0, queue: 'q' },
    ...more,
  };
}

describe('the Redis result backend', () => {
  let probe: RedisProbe;
  let worker: RedisResultBackend;
  let caller: RedisResultBackend;

  beforeAll(async () => {
    probe = await RedisProbe.open();
    worker = new RedisResultBackend(url, logger, { resultExpires: 600 });
    caller = new RedisResultBackend(url, logger, { resultTimeoutMs: 5000 });
  });

  afterAll(async () => {
    await worker.close();
    await caller.close();
    await probe.close();
  });

  /** A fresh task id whose key is deleted after the suite. */
  function newId(): string {
    const id = randomUUID();
    probe.owns(`celery-task-meta-${id}`);
    return id;
  }


  test("stores Celery's JSON under celery-task-meta-<id>, expiring after resultExpires", async () => {
    const id = newId();
    await worker.store(worker.encode(record(id, 'SUCCESS', 5, { parentId: 'p-1' })));
    const stored = JSON.parse((await probe.get(`celery-task-meta-${id}`)) ?? 'null') as Record<string, unknown>;
    expect(Object.keys(stored)).toEqual(['status', 'result', 'traceback', 'children', 'date_done', 'parent_id', 'name', 'args', 'kwargs', 'worker', 'retries', 'queue', 'task_id']);
    expect(stored).toMatchObject({ status: 'SUCCESS', result: 5, parent_id: 'p-1', name: 'tests.add', args: [2, 3], task_id: id });
    expect(stored.date_done).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);
    const ttl = await probe.ttl(`celery-task-meta-${id}`);
    expect(ttl).toBeGreaterThan(590);
    expect(ttl).toBeLessThanOrEqual(600);
  });

  test('a caller that follows a task gets its states from the channel as they are stored', async () => {
    const id = newId();
    const result = caller.track<number>(id);
    await new Promise((resolve) => setTimeout(resolve, 100)); // subscribed
    await worker.store(worker.encode(record(id, 'PROGRESS', { done: 1, total: 2 })));
    await worker.store(worker.encode(record(id, 'SUCCESS', 7)));
    await expect(result.get({ timeout: 5000 })).resolves.toBe(7);
    expect(result.history).toEqual(['PENDING', 'PROGRESS', 'SUCCESS']);
  });

  test('asyncResult(id) reads a state stored before it was asked for', async () => {
    const id = newId();
    await worker.store(worker.encode(record(id, 'FAILURE', new RangeError('too big'))));
    const result = await caller.asyncResult(id);
    expect(result.state).toBe('FAILURE');
    const error = (await result.get().catch((e: unknown) => e)) as TaskFailedError;
    expect(error).toBeInstanceOf(TaskFailedError);
    expect([error.remoteType, error.remoteMessage]).toEqual(['ValueError', 'too big']);
  });

  test('a state written without a message (as by a writer whose publish was lost) is found by the reads of a waiting get()', async () => {
    const id = newId();
    const result = caller.track<string>(id);
    const waiting = result.get({ timeout: 5000 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await probe.set(`celery-task-meta-${id}`, JSON.stringify({ status: 'SUCCESS', result: 'quiet', traceback: null, children: [], date_done: '2026-01-01T00:00:00', task_id: id }));
    await expect(waiting).resolves.toBe('quiet');
  });

  test('a SUCCESS is final: a later RETRY or FAILURE of a duplicate run does not overwrite it', async () => {
    const id = newId();
    await worker.store(worker.encode(record(id, 'SUCCESS', 1)));
    await worker.store(worker.encode(record(id, 'FAILURE', new Error('late duplicate'))));
    expect(JSON.parse((await probe.get(`celery-task-meta-${id}`)) ?? '{}')).toMatchObject({ status: 'SUCCESS', result: 1 });
  });

  test('a malformed stored value rejects get() with an error naming the key and what is wrong; the caller goes on', async () => {
    const id = newId();
    await probe.set(`celery-task-meta-${id}`, '{"status": "SUCCESS", "result": ');
    const result = caller.track(id);
    const error = (await result.get({ timeout: 5000 }).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(InvalidMessageError);
    expect(error.message).toMatch(
      new RegExp(`^the result of task ${id} in Redis \\(key celery-task-meta-${id}\\) cannot be read: not valid JSON: .*\\(found string "\\{\\\\"status\\\\": \\\\"SUCCESS\\\\", \\\\"result\\\\": "\\)$`),
    );
    const other = newId();
    await worker.store(worker.encode(record(other, 'SUCCESS', 'still fine')));
    await expect((await caller.asyncResult(other)).get()).resolves.toBe('still fine');

    const wrongShape = newId();
    await probe.set(`celery-task-meta-${wrongShape}`, '{"status": 5, "children": "x"}');
    await expect((await caller.asyncResult(wrongShape)).get()).rejects.toThrow(
      `the result of task ${wrongShape} in Redis (key celery-task-meta-${wrongShape}) cannot be read: status must be a non-empty string (found number 5); children must be a list (found string "x")`,
    );
  });

  test('forget() deletes the stored state and stops following it', async () => {
    const id = newId();
    await worker.store(worker.encode(record(id, 'STARTED', { pid: 1 })));
    const result = await caller.asyncResult(id);
    expect(result.state).toBe('STARTED');
    await result.forget();
    expect(await probe.get(`celery-task-meta-${id}`)).toBeNull();
    await expect(result.get()).rejects.toThrow(ResultForgottenError);
  });

  test('stored states expire: a key stored with resultExpires 1 is gone within seconds', async () => {
    const shortLived = new RedisResultBackend(url, logger, { resultExpires: 1 });
    const id = newId();
    try {
      await shortLived.store(shortLived.encode(record(id, 'SUCCESS', 1)));
      expect(await probe.ttl(`celery-task-meta-${id}`)).toBe(1);
      const deadline = Date.now() + 5000;
      while ((await probe.get(`celery-task-meta-${id}`)) !== null && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
      expect(await probe.get(`celery-task-meta-${id}`)).toBeNull();
    } finally {
      await shortLived.close();
    }
  });

  test("counts a chord as Celery 5.2: parts in the .j sorted set at their index, complete when the count reaches .s", async () => {
    const group = randomUUID();
    probe.owns(...['.j', '.t', '.s'].map((s) => `celery-taskset-meta-${group}${s}`));
    await worker.setChordSize(group, 3);
    expect(await probe.get(`celery-taskset-meta-${group}.s`)).toBe('3');
    const parts = [
      { groupIndex: 2, taskId: 'c', status: 'SUCCESS', result: 30 },
      { groupIndex: 0, taskId: 'a', status: 'SUCCESS', result: 10 },
    ];
    for (const part of parts) await expect(worker.countChordPart({ groupId: group, ...part })).resolves.toEqual({ complete: false });
    const members = await probe.redis.zrange(`celery-taskset-meta-${group}.j`, 0, -1, 'WITHSCORES');
    expect(members).toEqual(['[1, "a", "SUCCESS", 10]', '0', '[1, "c", "SUCCESS", 30]', '2']);
    const last = await worker.countChordPart({ groupId: group, groupIndex: 1, taskId: 'b', status: 'FAILURE', result: { exc_type: 'ValueError', exc_message: ['bad'], exc_module: 'builtins' } });
    expect(last).toEqual({
      complete: true,
      parts: [
        { taskId: 'a', status: 'SUCCESS', result: 10 },
        { taskId: 'b', status: 'FAILURE', result: { exc_type: 'ValueError', exc_message: ['bad'], exc_module: 'builtins' } },
        { taskId: 'c', status: 'SUCCESS', result: 30 },
      ],
    });
    await worker.forgetChord(group);
    expect(await probe.redis.exists(`celery-taskset-meta-${group}.j`, `celery-taskset-meta-${group}.s`)).toBe(0);
  });
});
