import { Lazy } from '../../../src/util/lazy';
import { RunningTask, currentTask, runAsTask, runningTask } from '../../../src/worker/task-scope';
import type { TaskContext } from '../../../src/worker';

const owner = {};
const task = (taskId: string): RunningTask => new RunningTask(
    (signal) =>
      ({
        taskId,
        get signal() {
          return signal();
        },
      }) as TaskContext,
    owner,
  );
const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 5));

describe('the async context of a task run', () => {
  test('everything the task code starts (timers, promises) knows its run; code outside does not', async () => {
    const run = task('t1');
    const seen: Array<string | undefined> = [];
    runAsTask(run, () => {
      setTimeout(() => seen.push(currentTask()?.taskId), 1);
      void Promise.resolve().then(() => seen.push(runningTask()?.context.taskId));
    });
    seen.push(currentTask()?.taskId);
    await tick();
    expect(seen).toEqual([undefined, 't1', 't1']);
  });

  test('currentTask() is undefined once the run ended; runningTask() still names it', async () => {
    const run = task('t2');
    let later: { current?: string; running?: string } = {};
    runAsTask(run, () => setTimeout(() => (later = { current: currentTask()?.taskId, running: runningTask()?.context.taskId }), 2));
    expect(run.end({ kind: 'returned', value: 1 })).toBe(true);
    await tick();
    expect(later).toEqual({ current: undefined, running: 't2' });
  });

  test('the first end wins; an escaped error or an abandon aborts the signal', async () => {
    const run = task('t3');
    const error = new Error('escaped');
    expect(run.end({ kind: 'escaped', error })).toBe(true);
    expect(run.end({ kind: 'returned', value: 1 })).toBe(false);
    await expect(run.whenEnded()).resolves.toEqual({ kind: 'escaped', error });
    expect(run.signal.reason).toBe(error);
    const abandoned = task('t4');
    abandoned.end({ kind: 'abandoned' });
    expect(abandoned.signal.aborted).toBe(true);
  });

  test('the signal is made when first read: read before the abort it hears it, read after it is aborted already', () => {
    const early = task('t6');
    const heard: unknown[] = [];
    early.context.signal.addEventListener('abort', () => heard.push(early.context.signal.reason));
    early.abort('soft limit');
    early.abort('second');
    expect(heard).toEqual(['soft limit']);
    const late = task('t7');
    late.end({ kind: 'timed-out', error: new Error('late') as never });
    expect(late.context.signal.aborted).toBe(true);
    expect((late.context.signal.reason as Error).message).toBe('late');
    const done = task('t8');
    done.end({ kind: 'returned', value: 1 });
    expect(done.context.signal.aborted).toBe(false);
  });

  test("a Lazy made outside any task runs its factory outside the first caller's task", async () => {
    const lazy = new Lazy(async () => runningTask()?.context.taskId);
    const fromTask = await runAsTask(task('t5'), () => lazy.get());
    expect(fromTask).toBeUndefined();
  });
});
