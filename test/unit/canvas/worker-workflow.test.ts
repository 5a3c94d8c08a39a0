import { randomUUID } from 'node:crypto';
import { WorkerWorkflow, type ChordCounter, type OutgoingTask } from '../../../src/canvas';
import { decodeTaskMessage, encodeTaskMessage, type TaskMessage } from '../../../src/protocol';
import type { EncodedResult, ResultRecord, ResultStore } from '../../../src/worker/result-store';
import { silent } from '../../support/memory';

/*
 * What a worker sends and stores after a task, from the message's embed alone (no broker):
 * the same steps a Celery worker takes in trace_task, mark_as_failure and on_chord_part_return.
 */

class RecordingStore implements ResultStore {
  readonly display: string;
  readonly stored: ResultRecord[] = [];
  constructor(display = 'redis://test') {
    this.display = display;
  }
  accepts(): boolean {
    return true;
  }
  encode(record: ResultRecord): EncodedResult & { record: ResultRecord } {
    return { sizeBytes: 1, taskId: record.taskId, status: record.status, record };
  }
  async store(encoded: EncodedResult): Promise<'stored'> {
    this.stored.push((encoded as EncodedResult & { record: ResultRecord }).record);
    return 'stored';
  }
  async recover(error: unknown): Promise<'stored'> {
    throw error;
  }
}

function message(embed: Record<string, unknown>, headers: Record<string, unknown> = {}): TaskMessage {
  const id = randomUUID();
  const { body, properties } = encodeTaskMessage({ id, task: 'math.add', args: [1, 2], replyTo: 'reply-q', embed, ...headers });
  return decodeTaskMessage({ content: body, properties });
}

const sig = (task: string, args: unknown[] = [], options: Record<string, unknown> = {}, immutable = false): Record<string, unknown> => ({
  task,
  args,
  kwargs: {},
  options,
  subtask_type: null,
  immutable,
});

function workflow(store: ResultStore = new RecordingStore(), chords?: ChordCounter): { sent: OutgoingTask[]; flow: WorkerWorkflow } {
  const sent: OutgoingTask[] = [];
  const flow = new WorkerWorkflow({ send: async (task) => void sent.push(task), store, chords, hostname: 'warren@test', newId: () => randomUUID() });
  return { sent, flow };
}

describe('the workflow steps a worker takes after a task', () => {
  test('success: the next step of the chain gets the value first and the rest of the chain; parent and root carried', async () => {
    const { sent, flow } = workflow();
    const task = message({ chain: [sig('math.last', [1], { task_id: 'last' }), sig('math.next', [10], { task_id: 'next' })] });
    const children = await flow.succeeded(task, 3);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ taskId: 'next', task: 'math.next', args: [3, 10], parentId: task.id, rootId: task.id });
    expect(sent[0].embed.chain).toEqual([expect.objectContaining({ task: 'math.last', options: expect.objectContaining({ task_id: 'last' }) })]);
    expect(children).toEqual([[['next', null], null]]);
  });

  test('success: an immutable next step keeps its own args', async () => {
    const { sent, flow } = workflow();
    await flow.succeeded(message({ chain: [sig('math.fixed', [5, 5], {}, true)] }), 3);
    expect(sent[0].args).toEqual([5, 5]);
  });

  test('success: one callback gets the value; several go out as one group', async () => {
    const one = workflow();
    await one.flow.succeeded(message({ callbacks: [sig('math.cb', [2])] }), 7);
    expect(one.sent.map((t) => [t.task, t.args, t.groupId])).toEqual([['math.cb', [7, 2], null]]);
    const many = workflow();
    await many.flow.succeeded(message({ callbacks: [sig('math.a'), sig('math.b')] }), 7);
    expect(many.sent.map((t) => [t.task, t.args])).toEqual([
      ['math.a', [7]],
      ['math.b', [7]],
    ]);
    expect(many.sent[0].groupId).toBe(many.sent[1].groupId);
  });

  test('failure: the later steps of the chain are failed too, and the errbacks get the failed task\'s id', async () => {
    const store = new RecordingStore();
    const { sent, flow } = workflow(store);
    const task = message({ chain: [sig('math.third', [], { task_id: 'third' }), sig('math.second', [], { task_id: 'second' })], errbacks: [sig('math.noted')] });
    const error = { exc_type: 'ValueError', exc_message: ['bad'], exc_module: 'builtins' };
    await flow.finished(task, { status: 'FAILURE', result: error, traceback: 'tb' }, silent);
    expect(store.stored.map((r) => [r.taskId, r.status, r.result])).toEqual([
      ['second', 'FAILURE', error],
      ['third', 'FAILURE', error],
    ]);
    expect(sent.map((t) => [t.task, t.args, t.parentId])).toEqual([['math.noted', [task.id], task.id]]);
  });

  test('a chord part on a backend that cannot count chords: the body fails with why, nothing is sent', async () => {
    const store = new RecordingStore('rpc://');
    const { sent, flow } = workflow(store, undefined);
    const task = message({ chord: sig('math.sum', [], { task_id: 'body', reply_to: 'reply-q' }) }, { group: 'g1', groupIndex: 0 });
    await flow.finished(task, { status: 'SUCCESS', result: 3, traceback: null }, silent);
    expect(sent).toEqual([]);
    expect(store.stored).toEqual([
      expect.objectContaining({
        taskId: 'body',
        status: 'FAILURE',
        replyTo: 'reply-q',
        result: {
          exc_type: 'ChordUnsupportedError',
          exc_message: [
            "the rpc:// result backend does not support chords: a chord needs a backend that counts its header's results (redis://, rediss:// or redis+cluster://); a group chained to a task is a chord too",
          ],
          exc_module: 'warren-js',
        },
      }),
    ]);
  });

  test('the last chord part applies the body with the results in order; a failed part fails the body with ChordError', async () => {
    const parts: Array<{ taskId: string; status: string; result: unknown }> = [
      { taskId: 'a', status: 'SUCCESS', result: 1 },
      { taskId: 'b', status: 'SUCCESS', result: 2 },
    ];
    const counter = (complete: typeof parts): ChordCounter => ({
      setChordSize: async () => undefined,
      countChordPart: async () => ({ complete: true, parts: complete }),
      forgetChord: async () => undefined,
    });
    const ok = workflow(new RecordingStore(), counter(parts));
    await ok.flow.finished(message({ chord: sig('math.sum', [], { task_id: 'body' }) }, { group: 'g', groupIndex: 1 }), { status: 'SUCCESS', result: 2, traceback: null }, silent);
    expect(ok.sent.map((t) => [t.taskId, t.task, t.args])).toEqual([['body', 'math.sum', [[1, 2]]]]);

    const store = new RecordingStore();
    const failed = workflow(store, counter([parts[0], { taskId: 'b', status: 'FAILURE', result: { exc_type: 'ValueError', exc_message: ['bad'], exc_module: 'builtins' } }]));
    await failed.flow.finished(message({ chord: sig('math.sum', [], { task_id: 'body', link_error: [sig('math.noted')] }) }, { group: 'g', groupIndex: 1 }), { status: 'FAILURE', result: null, traceback: null }, silent);
    expect(failed.sent.map((t) => [t.task, t.args])).toEqual([['math.noted', ['body']]]);
    expect(store.stored.find((r) => r.taskId === 'body')).toMatchObject({
      status: 'FAILURE',
      result: { exc_type: 'ChordError', exc_message: ["Dependency b raised ValueError('bad')"], exc_module: 'celery.exceptions' },
    });
  });
});
