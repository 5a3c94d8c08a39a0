import { ChordUnsupportedError, TaskFailedError, type TaskContext } from '../../../src';
import { until } from '../../support/memory';
import { memoryApp, type MemoryApp } from '../../support/memory-app';

/*
 * Workflows run by warren workers on memory:// with the rpc:// result backend: the worker acts
 * on the message's embed (chain, callbacks, errbacks) as a Celery worker does.
 */

let memory: MemoryApp;
const errbackCalls: string[] = [];
const progress: unknown[] = [];

beforeEach(async () => {
  memory = memoryApp();
  const { app } = memory;
  errbackCalls.length = 0;
  app.task('math.add', async (a: number, b: number) => a + b);
  app.task('math.mul', async (a: number, b: number) => a * b);
  app.task('math.boom', async () => {
    throw new RangeError('boom');
  });
  app.task('math.sum', async (values: number[]) => values.reduce((a, b) => a + b, 0));
  app.task('math.noted', async (taskId: string) => {
    errbackCalls.push(taskId);
    return `noted ${taskId}`;
  });
  app.task(
    'math.slow',
    async (ctx: TaskContext) => {
      await ctx.updateState('PROGRESS', { done: 1, total: 2 });
      await new Promise((resolve) => setTimeout(resolve, 50));
      return 'done';
    },
    { bind: true },
  );
  await app.startWorker({ queues: ['jobs'], concurrency: 4 });
});

afterEach(async () => {
  await memory.close();
});

describe('workflows on warren workers (rpc://)', () => {
  test('a chain: each step gets the previous result first; the result\'s parents are the earlier steps', async () => {
    const { app } = memory;
    const add = app.signature<number>('math.add', [2, 3]);
    const result = await app.chain<number>(add, app.signature('math.mul', [10]), app.signature('math.add', [1])).apply();
    await expect(result.get({ timeout: 5000 })).resolves.toBe(51);
    expect(result.parent?.id).toBeDefined();
    await expect(result.parent?.get({ timeout: 5000 })).resolves.toBe(50);
  });

  test('typed handles: .s() takes all args or all but the first, .si() ignores the previous result', async () => {
    const { app } = memory;
    const add = app.task('math.add2', async (a: number, b: number) => a + b);
    await app.startWorker({ queues: ['jobs'], concurrency: 1 });
    const result = await app.chain<number>(add.s(1, 2), add.s(10), add.si(100, 1)).apply();
    await expect(result.get({ timeout: 5000 })).resolves.toBe(101);
    await expect(result.parent?.get({ timeout: 5000 })).resolves.toBe(13);
  });

  test('link: the callback gets the result first; linkError: the errback gets the failed task\'s id', async () => {
    const { app } = memory;
    const ok = await app.signature('math.add', [2, 3]).link(app.signature('math.mul', [10]).set({ taskId: 'callback-1' })).apply();
    await expect(ok.get({ timeout: 5000 })).resolves.toBe(5);
    const failed = await app.signature('math.boom').linkError(app.signature('math.noted')).apply();
    await expect(failed.get({ timeout: 5000 })).rejects.toThrow(TaskFailedError);
    await until(() => errbackCalls.length === 1, 'the errback');
    expect(errbackCalls).toEqual([failed.id]);
  });

  test('a step that fails fails the rest of the chain: the last result rejects with its error at once', async () => {
    const { app } = memory;
    const result = await app.chain(app.signature('math.add', [1, 1]), app.signature('math.boom'), app.signature('math.mul', [2])).apply();
    const error = (await result.get({ timeout: 5000 }).catch((e: unknown) => e)) as TaskFailedError;
    expect(error).toBeInstanceOf(TaskFailedError);
    expect([error.remoteType, error.remoteMessage]).toEqual(['ValueError', 'boom']);
  });

  test('a group: get() is the list of results in order', async () => {
    const { app } = memory;
    const group = await app.group<number[]>(app.signature('math.add', [1, 1]), app.signature('math.mul', [3, 3]), app.signature('math.add', [5, 5])).apply();
    await expect(group.get({ timeout: 5000 })).resolves.toEqual([2, 9, 10]);
    expect(group.results).toHaveLength(3);
    expect(group.completedCount).toBe(3);
  });

  test('ctx.updateState: the custom state and its meta reach the caller before the result', async () => {
    const { app } = memory;
    const result = await app.signature('math.slow').apply();
    await until(() => result.state === 'PROGRESS', 'the PROGRESS state');
    expect(result.info).toEqual({ done: 1, total: 2 });
    await expect(result.get({ timeout: 5000 })).resolves.toBe('done');
    expect(result.history).toEqual(['PENDING', 'PROGRESS', 'SUCCESS']);
  });

  test('a chord on rpc:// is refused before anything is sent, as Celery refuses it', async () => {
    const { app, broker } = memory;
    const before = broker.queue('jobs')?.messageCount;
    const chord = app.chord([app.signature('math.add', [1, 1])], app.signature('math.sum'));
    await expect(chord.apply()).rejects.toThrow(ChordUnsupportedError);
    await expect(app.chain(app.signature('math.add', [1, 1]), app.group(app.signature('math.add', [1]), app.signature('math.add', [2])), app.signature('math.sum')).apply()).rejects.toThrow(
      "the rpc:// result backend does not support chords: a chord needs a backend that counts its header's results (redis://, rediss:// or redis+cluster://); a group chained to a task is a chord too",
    );
    expect(broker.queue('jobs')?.messageCount).toBe(before);
  });

  test('asyncResult(id) on rpc:// finds a task this app follows, and says why it cannot read others', async () => {
    const { app } = memory;
    const sent = await app.signature('math.add', [1, 2]).apply();
    expect(await app.asyncResult(sent.id)).toBe(sent);
    await expect(app.asyncResult('someone-elses')).rejects.toThrow(
      'asyncResult("someone-elses"): the rpc:// result backend sends a result only to the process that sent the task, and this app does not follow that task; to read results by id from any process, use a Redis result backend (resultBackend: redis://...)',
    );
  });
});
