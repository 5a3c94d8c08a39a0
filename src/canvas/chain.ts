import { UsageError } from '../errors';
import { isPlainObject, type SignatureDict } from '../protocol';
import type { CanvasRuntime, Frozen } from './canvas-runtime';
import { Chord } from './chord';
import { Group, unrollGroup } from './group';
import { registerSignatureType, requireSignatures, Signature, type AnySignature, signatureFromDict, type ApplyArgs, type FreezeArgs } from './signature';

/**
 * Tasks applied one after the other, each getting the previous one's return value as its first
 * argument unless it is immutable (Celery's `chain`). Sent as Celery sends it: the first task's
 * message carries the rest, reversed, in its `chain`, so any worker (warren or Python) sends the
 * next step. A group followed by a task in a chain becomes a chord. `apply()` resolves to the
 * last task's AsyncResult; each result's `parent` is the one before.
 */
export class Chain<R = unknown> extends Signature<R> {
  constructor(tasks: ReadonlyArray<AnySignature>, options: Record<string, unknown> = {}, runtime?: CanvasRuntime) {
    super('celery.chain', [], { tasks: requireSignatures('chain', tasks) }, options, { subtaskType: 'chain', runtime });
  }

  /** The chain's tasks, in order (Celery keeps them in `kwargs.tasks`). */
  get tasks(): AnySignature[] {
    return this.kwargs.tasks as AnySignature[];
  }

  set tasks(tasks: AnySignature[]) {
    this.kwargs.tasks = tasks;
  }

  override clone(args?: readonly unknown[], kwargs?: Readonly<Record<string, unknown>>, options?: Record<string, unknown>): Chain<R> {
    const [mergedArgs, , merged] = args || kwargs || options ? this.merge(args, kwargs, options) : [this.args, {}, this.options];
    const copy = new Chain<R>(this.tasks.map((task) => task.clone()), { ...merged }, this.runtime);
    copy.args = [...mergedArgs];
    copy.immutable = this.immutable;
    return copy;
  }

  /** Celery's `chain.freeze`: every task frozen, the last one's result returned. */
  override freeze(at: FreezeArgs = {}): Frozen {
    const [, results] = this.prepareSteps(this.args, undefined, this.tasks, {
      rootId: at.rootId ?? undefined,
      parentId: at.parentId ?? undefined,
      lastTaskId: at.id,
      groupId: at.groupId,
      chordBody: at.chord,
      groupIndex: at.groupIndex,
      clone: false,
    });
    return results[0];
  }

  /** Celery's `chain.run`: the first task is sent with the rest in its `chain`. */
  override async applyAsync(with_: ApplyArgs = {}): Promise<Frozen> {
    const options: Record<string, unknown> = { ...this.options, ...(with_.options ?? {}) };
    const args = with_.args && with_.args.length > 0 && !this.immutable ? [...with_.args, ...this.args] : this.args;
    const { task_id: taskId, group_id: groupId, chord, link, link_error: linkError, root_id: rootId, parent_id: parentId, group_index: groupIndex, ...rest } = options;
    const [tasks, results] = this.prepareSteps(args, with_.kwargs, this.tasks, {
      rootId: typeof rootId === 'string' ? rootId : undefined,
      parentId: typeof parentId === 'string' ? parentId : undefined,
      linkError: signatures(linkError, this.runtime),
      lastTaskId: typeof taskId === 'string' ? taskId : undefined,
      groupId: typeof groupId === 'string' ? groupId : undefined,
      chordBody: chord instanceof Signature ? chord : isPlainObject(chord) ? signatureFromDict(chord as SignatureDict, this.runtime) : undefined,
      groupIndex: typeof groupIndex === 'number' ? groupIndex : undefined,
      clone: true,
    });
    if (results.length === 0) throw new UsageError('an empty chain has nothing to apply');
    for (const callback of signatures(link, this.runtime)) tasks[0].link(callback);
    const first = tasks.pop() as AnySignature;
    // The rest, reversed: a chain already under way (this chain is a step of one) goes on after it.
    const chain = Array.isArray(rest.chain) ? [...(rest.chain as unknown[]), ...tasks] : tasks;
    const sent = await first.applyAsync({ options: { ...rest, chain } });
    return tasks.length === 0 ? sent : results[0];
  }

  /**
   * Celery's `prepare_steps`: walks the tasks from the last, clones and freezes each (the last
   * with the chain's own id, group and chord), splices nested chains, turns a group followed by
   * a task into a chord, links each result to the one before as its parent. Returns the tasks
   * and results, last first.
   */
  private prepareSteps(
    args: readonly unknown[],
    kwargs: Readonly<Record<string, unknown>> | undefined,
    tasks: readonly AnySignature[],
    at: {
      rootId?: string;
      parentId?: string;
      linkError?: AnySignature[];
      lastTaskId?: string;
      groupId?: string;
      chordBody?: AnySignature;
      groupIndex?: number;
      clone: boolean;
    },
  ): [AnySignature[], Frozen[]] {
    const steps = [...tasks];
    const preparedTasks: AnySignature[] = [];
    const results: Frozen[] = [];
    let previousTask: AnySignature | undefined;
    let previousResult: Frozen | undefined;
    let i = 0;
    while (steps.length > 0) {
      let task = unrollGroup(steps.pop() as AnySignature);
      const isFirst = steps.length === 0;
      const isLast = i === 0;
      if (at.clone) task = isFirst ? task.clone(args, kwargs) : task.clone();
      else if (isFirst && args.length > 0) task.args = [...args, ...task.args];
      if (task instanceof Chain) {
        steps.push(...task.tasks);
        continue;
      }
      if (task instanceof Group && previousTask) {
        // group | task is a chord: the task, frozen already, is its body.
        preparedTasks.pop();
        results.pop();
        task = new Chord(task, previousTask, { task_id: previousResult?.id, ...(at.rootId ? { root_id: at.rootId } : {}) }, this.runtime);
      }
      const result = isLast
        ? task.freeze({ id: at.lastTaskId, rootId: at.rootId, groupId: at.groupId, chord: at.chordBody, groupIndex: at.groupIndex })
        : task.freeze({ rootId: at.rootId });
      i += 1;
      if (previousTask && previousResult && !previousResult.parent) previousResult.parent = result;
      for (const errback of at.linkError ?? []) task.linkError(errback);
      preparedTasks.push(task);
      results.push(result);
      previousTask = task;
      previousResult = result;
      if (task instanceof Chord) {
        this.requireRuntime().ensureChordsAllowed();
        let node: Frozen = result;
        while (node.parent) node = node.parent;
        previousResult = node;
      }
    }
    return [preparedTasks, results];
  }
}

function signatures(value: unknown, runtime: CanvasRuntime | undefined): AnySignature[] {
  if (value === undefined || value === null) return [];
  return (Array.isArray(value) ? value : [value]).map((item: unknown) => signatureFromDict(item as SignatureDict | AnySignature, runtime));
}

registerSignatureType('chain', (dict: SignatureDict, runtime) => {
  const kwargs = isPlainObject(dict.kwargs) ? dict.kwargs : {};
  const tasks = Array.isArray(kwargs.tasks) ? kwargs.tasks : [];
  const chain = new Chain(
    tasks.map((task: unknown) => signatureFromDict(task as SignatureDict, runtime)),
    isPlainObject(dict.options) ? { ...dict.options } : {},
    runtime,
  );
  chain.args = Array.isArray(dict.args) ? [...dict.args] : [];
  chain.immutable = dict.immutable === true;
  return chain;
});
