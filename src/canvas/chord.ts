import { UsageError } from '../errors';
import { isPlainObject, type SignatureDict } from '../protocol';
import type { CanvasRuntime, Frozen } from './canvas-runtime';
import { Group } from './group';
import { registerSignatureType, Signature, type AnySignature, signatureFromDict, type ApplyArgs, type FreezeArgs } from './signature';

/**
 * A group whose results, in order, are the first argument of one more task (Celery's `chord`):
 * each header task reports its part to the result backend, and the last one to finish applies
 * the body with the list. Its `apply()` resolves to the body's AsyncResult, whose `parent` is
 * the header's GroupResult. A result backend that counts chords is needed (Redis): on `rpc://`
 * applying a chord fails with ChordUnsupportedError before anything is sent.
 */
export class Chord<R = unknown> extends Signature<R> {
  constructor(header: Group | ReadonlyArray<AnySignature>, body: Signature<R>, options: Record<string, unknown> = {}, runtime?: CanvasRuntime) {
    const group = header instanceof Group ? header : new Group([...header], {}, runtime);
    if (!(body instanceof Signature)) throw new UsageError(`a chord's body must be a signature (got ${String(body)})`);
    super('celery.chord', [], { kwargs: {}, header: group, body }, options, { subtaskType: 'chord', runtime });
  }

  /** The header: a group. */
  get header(): Group {
    return this.kwargs.header as Group;
  }

  set header(group: Group) {
    this.kwargs.header = group;
  }

  /** The body, applied with the header's results. */
  get body(): Signature<R> {
    return this.kwargs.body as Signature<R>;
  }

  set body(body: Signature<R>) {
    this.kwargs.body = body;
  }

  override clone(args?: readonly unknown[], kwargs?: Readonly<Record<string, unknown>>, options?: Record<string, unknown>): Chord<R> {
    const [mergedArgs, , merged] = args || kwargs || options ? this.merge(args, kwargs, options) : [this.args, {}, this.options];
    const copy = new Chord<R>(this.header.clone(), this.body.clone(), { ...merged }, this.runtime);
    copy.args = [...mergedArgs];
    copy.immutable = this.immutable;
    return copy;
  }

  /** Linking a chord links its body. */
  override link(callback: AnySignature): this {
    this.body.link(callback);
    return this;
  }

  override linkError(errback: AnySignature): this {
    this.body.linkError(errback);
    return this;
  }

  /** Changes the header's tasks only, as Celery does. */
  override setImmutable(immutable: boolean): void {
    for (const task of this.header.tasks) task.setImmutable(immutable);
  }

  /** Celery's `chord.freeze`: the header frozen with the body as its chord, the body with this id; the body's result is the chord's. */
  override freeze(at: FreezeArgs = {}): Frozen {
    const headerResult = this.header.freeze({ parentId: at.parentId ?? undefined, rootId: at.rootId ?? undefined, chord: this.body });
    const bodyResult = this.body.freeze({ id: at.id, rootId: at.rootId, chord: at.chord, groupId: at.groupId, groupIndex: at.groupIndex });
    let node: Frozen = bodyResult;
    const seen = new Set<string>();
    for (;;) {
      if (seen.has(node.id)) throw new UsageError('a chord whose results are their own parents');
      seen.add(node.id);
      if (!node.parent) {
        node.parent = headerResult;
        break;
      }
      node = node.parent;
    }
    this.options.task_id = headerResult.id;
    return bodyResult;
  }

  /** Celery's `chord.apply_async`: the options go to the body; the header is sent with the partial args. */
  override async applyAsync(with_: ApplyArgs = {}): Promise<Frozen> {
    const args = with_.args && with_.args.length > 0 && !this.immutable ? [...with_.args, ...this.args] : this.args;
    const body = this.body.clone(undefined, undefined, with_.options);
    const header = this.header.clone();
    const options: Record<string, unknown> = { ...this.options, ...(with_.options ?? {}) };
    const taskId = typeof options.task_id === 'string' ? options.task_id : undefined;
    delete options.task_id;
    return this.run(header, body, args, taskId, options);
  }

  private async run(header: Group, body: AnySignature, partialArgs: readonly unknown[], taskId: string | undefined, options: Record<string, unknown>): Promise<Frozen> {
    const runtime = this.requireRuntime();
    runtime.ensureChordsAllowed();
    const groupId = typeof header.options.task_id === 'string' ? header.options.task_id : runtime.newId();
    const rootId = typeof body.options.root_id === 'string' ? body.options.root_id : undefined;
    Object.assign(body.options, options);
    const bodyResult = body.freeze({ id: taskId, rootId });
    // Neither the rest of a chain nor an outer chord belong to the header's tasks.
    delete options.chain;
    delete options.chord;
    header.freeze({ groupId, chord: body, rootId });
    let headerResult: Frozen;
    if (header.tasks.length > 0) {
      headerResult = await header.applyAsync({ args: partialArgs, options: { ...options, task_id: groupId } });
    } else {
      // No header task will ever complete it: the body runs now, with no results.
      await body.applyAsync({ args: [[]] });
      headerResult = { kind: 'group', id: groupId, results: [] };
    }
    bodyResult.parent = headerResult;
    return bodyResult;
  }
}

registerSignatureType('chord', (dict: SignatureDict, runtime) => {
  const kwargs = isPlainObject(dict.kwargs) ? dict.kwargs : {};
  const header = kwargs.header;
  const body = kwargs.body;
  if (!isPlainObject(body) || typeof body.task !== 'string') throw new UsageError('a chord signature without a body');
  const headerSignature = isPlainObject(header) ? signatureFromDict(header as SignatureDict, runtime) : undefined;
  const group = headerSignature instanceof Group ? headerSignature : new Group(Array.isArray(header) ? header.map((task: unknown) => signatureFromDict(task as SignatureDict, runtime)) : headerSignature ? [headerSignature] : [], {}, runtime);
  const chord = new Chord(group, signatureFromDict(body as SignatureDict, runtime), isPlainObject(dict.options) ? { ...dict.options } : {}, runtime);
  chord.args = Array.isArray(dict.args) ? [...dict.args] : [];
  chord.immutable = dict.immutable === true;
  return chord;
});
