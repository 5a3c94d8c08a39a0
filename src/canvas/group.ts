import { isPlainObject, type SignatureDict } from '../protocol';
import type { GroupResult } from '../result/group-result';
import type { CanvasRuntime, Frozen, FrozenGroup } from './canvas-runtime';
import { chordSize } from './chord-size';
import { registerSignatureType, requireSignatures, Signature, type AnySignature, signatureFromDict, type ApplyArgs, type FreezeArgs } from './signature';

/**
 * Tasks applied in parallel (Celery's `group`): its `apply()` resolves to a GroupResult whose
 * `get()` is the list of their results, in the group's order. A group nested in a group is
 * flattened; a group with a chord option (a chord's header) records the chord's size before its
 * last task is sent.
 */
export class Group<R extends unknown[] = unknown[]> extends Signature<R, GroupResult<R>> {
  constructor(tasks: ReadonlyArray<AnySignature>, options: Record<string, unknown> = {}, runtime?: CanvasRuntime) {
    super('celery.group', [], { tasks: requireSignatures('group', tasks) }, options, { subtaskType: 'group', runtime });
  }

  /** The group's tasks (Celery keeps them in `kwargs.tasks`). */
  get tasks(): AnySignature[] {
    return this.kwargs.tasks as AnySignature[];
  }

  set tasks(tasks: AnySignature[]) {
    this.kwargs.tasks = tasks;
  }

  override clone(args?: readonly unknown[], kwargs?: Readonly<Record<string, unknown>>, options?: Record<string, unknown>): Group<R> {
    const [, , merged] = args || kwargs || options ? this.merge(args, kwargs, options) : [[], {}, this.options];
    const copy = new Group<R>(this.tasks.map((task) => task.clone()), structuredOptions(merged), this.runtime);
    copy.immutable = this.immutable;
    return copy;
  }

  override setImmutable(immutable: boolean): void {
    for (const task of this.tasks) task.setImmutable(immutable);
  }

  /**
   * Linking a group links its first task, with the callback made immutable (Celery's
   * `group.link`): the first task cannot pass its siblings' results on. Use a chord for that.
   */
  override link(callback: AnySignature): this {
    const first = this.tasks[0];
    if (first) first.link(callback.clone().set({ immutable: true }));
    return this;
  }

  /** Every task of the group gets the errback: any of them may fail. */
  override linkError(errback: AnySignature): this {
    for (const task of this.tasks) task.linkError(errback);
    return this;
  }

  /** Celery's `group.freeze`: the group id (its `task_id`), each task frozen with its index. */
  override freeze(at: FreezeArgs = {}): FrozenGroup {
    const options = this.options;
    if (typeof options.task_id !== 'string') options.task_id = at.groupId ?? this.requireRuntime().newId();
    const gid = options.task_id as string;
    if (at.groupId) options.group_id = at.groupId;
    if (at.chord) options.chord = at.chord;
    if (at.groupIndex !== undefined) options.group_index = at.groupIndex;
    if (!('root_id' in options)) options.root_id = at.rootId ?? null;
    if (!('parent_id' in options)) options.parent_id = at.parentId ?? null;
    const rootId = (options.root_id as string | null) ?? undefined;
    const parentId = (options.parent_id as string | null) ?? undefined;
    const results: Frozen[] = [];
    const tasks: AnySignature[] = [];
    let index = 0;
    for (const task of flatten(this.tasks)) {
      const copy = task.clone();
      tasks.push(copy);
      results.push(copy.freeze({ groupId: at.groupId, chord: at.chord, rootId, parentId, groupIndex: index }));
      index += 1;
    }
    this.tasks = tasks;
    return { kind: 'group', id: gid, results };
  }

  /**
   * Gives the group and its tasks their ids without the indexes a freeze adds, so that a group
   * applied by `apply()` sends what Celery's `group.apply_async` sends.
   */
  override freezeForApply(): FrozenGroup {
    return this.assignIds();
  }

  /** @internal */
  assignIds(): FrozenGroup {
    const runtime = this.requireRuntime();
    if (typeof this.options.task_id !== 'string') this.options.task_id = runtime.newId();
    this.tasks = flatten(this.tasks);
    const results: Frozen[] = this.tasks.map((task) => {
      if (task instanceof Group) return task.assignIds();
      if (typeof task.options.task_id !== 'string') task.options.task_id = runtime.newId();
      return task.subtaskType === null ? { kind: 'task' as const, id: task.options.task_id as string } : task.freeze();
    });
    return { kind: 'group', id: this.options.task_id as string, results };
  }

  /**
   * Sends every task (Celery's `group.apply_async`): each cloned, frozen with the group id, its
   * partial args first unless immutable. Of a chord's header, the size is recorded before the
   * last task goes out, so the last header task to finish always finds it.
   */
  override async applyAsync(with_: ApplyArgs = {}): Promise<FrozenGroup> {
    const runtime = this.requireRuntime();
    if (this.tasks.length === 0) return this.freeze();
    const options: Record<string, unknown> = { ...this.options, ...(with_.options ?? {}) };
    const groupId = typeof options.task_id === 'string' ? options.task_id : runtime.newId();
    delete options.task_id;
    options.group_id = groupId;
    const rootId = typeof options.root_id === 'string' ? options.root_id : undefined;
    const prepared = flatten(this.tasks).map((task) => {
      const copy = task.clone();
      return { task: copy, frozen: copy.freeze({ groupId, rootId }) };
    });
    // Every task but the last goes out at once (the publisher keeps their order); a chord's size
    // is recorded before the last one, so the last header task to finish always finds it.
    const send = ({ task }: (typeof prepared)[number]): Promise<Frozen> => {
      const chord = options.chord ?? task.options.chord;
      return task.applyAsync({ args: with_.args, kwargs: with_.kwargs, options: { ...options, ...(chord ? { chord } : {}) } });
    };
    const last = prepared[prepared.length - 1];
    await Promise.all(prepared.slice(0, -1).map(send));
    const chord = options.chord ?? last.task.options.chord;
    if (chord !== undefined && chord !== null) await runtime.setChordSize(groupId, prepared.reduce((size, { task }) => size + chordSize(task), 0));
    await send(last);
    const results = prepared.map(({ frozen }) => frozen);
    return { kind: 'group', id: groupId, results };
  }
}

/** The tasks of nested groups, in order (Celery unrolls them). */
function flatten(tasks: readonly AnySignature[]): AnySignature[] {
  return tasks.flatMap((task) => (task instanceof Group ? flatten(task.tasks) : [task]));
}

function structuredOptions(options: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(options).map(([key, value]) => [key, value instanceof Signature ? value.clone() : Array.isArray(value) ? [...value] : value]));
}

/** A group of one task is that task (Celery's `maybe_unroll_group`). */
export function unrollGroup(signature: AnySignature): AnySignature {
  return signature instanceof Group && signature.tasks.length === 1 ? signature.tasks[0] : signature;
}

registerSignatureType('group', (dict: SignatureDict, runtime) => {
  const kwargs = isPlainObject(dict.kwargs) ? dict.kwargs : {};
  const tasks = Array.isArray(kwargs.tasks) ? kwargs.tasks : [];
  const group = new Group(
    tasks.map((task: unknown) => signatureFromDict(task as SignatureDict, runtime)),
    isPlainObject(dict.options) ? { ...dict.options } : {},
    runtime,
  );
  group.immutable = dict.immutable === true;
  return group;
});
