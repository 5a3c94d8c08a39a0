import { types } from 'node:util';
import { UsageError } from '../errors';
import { isPlainObject, type SignatureDict } from '../protocol';
import type { AsyncResult } from '../result/async-result';
import type { CanvasRuntime, ClientRuntime, Frozen, FrozenTask, WireOptions } from './canvas-runtime';

/** Any signature, whatever its result types (a group's apply gives a GroupResult). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnySignature = Signature<any, any>;

/** The kinds of signature: a task (null), or Celery's `chain`, `group`, `chord`. */
export type SubtaskType = null | 'chain' | 'group' | 'chord';

/**
 * How a task of a workflow is sent, as `sendTask` takes it (Celery's `apply_async` options).
 * Set on a signature with `.set()`, or given to `apply()`.
 */
export interface SignatureOptions {
  /** The task id. @defaultValue a random UUID */
  taskId?: string;
  /** A declared queue instead of the routed one. */
  queue?: string;
  exchange?: string;
  routingKey?: string;
  priority?: number;
  /** Seconds from when the task is sent. */
  countdown?: number;
  /** A Python peer on Celery 5.2 cannot read a date in a signature written plain; use `countdown` there. */
  eta?: Date;
  /** Seconds, or a date, after which the task is not run. */
  expires?: number | Date;
  timeLimit?: number;
  softTimeLimit?: number;
  ignoreResult?: boolean;
  /** Another name for logs. */
  shadow?: string;
}

const OPTION_NAMES: ReadonlyArray<[keyof SignatureOptions, string]> = [
  ['taskId', 'task_id'],
  ['queue', 'queue'],
  ['exchange', 'exchange'],
  ['routingKey', 'routing_key'],
  ['priority', 'priority'],
  ['countdown', 'countdown'],
  ['eta', 'eta'],
  ['expires', 'expires'],
  ['timeLimit', 'time_limit'],
  ['softTimeLimit', 'soft_time_limit'],
  ['ignoreResult', 'ignore_result'],
  ['shadow', 'shadow'],
];

/** The options in Celery's words (`routingKey` → `routing_key`); unknown keys are a UsageError. */
export function wireOptions(options: SignatureOptions, where: string): WireOptions {
  if (!isPlainObject(options)) throw new UsageError(`${where}: options must be an object (got ${String(options)})`);
  const known = new Map(OPTION_NAMES);
  const wire: WireOptions = {};
  for (const [key, value] of Object.entries(options)) {
    const name = known.get(key as keyof SignatureOptions);
    if (name === undefined) throw new UsageError(`${where}: unknown option "${key}" (known: ${OPTION_NAMES.map(([k]) => k).join(', ')})`);
    if (value !== undefined) wire[name] = value;
  }
  return wire;
}

/** Where a signature is being frozen: Celery's `freeze(_id, group_id, chord, root_id, parent_id, group_index)`. */
export interface FreezeArgs {
  id?: string;
  groupId?: string;
  chord?: AnySignature;
  rootId?: string | null;
  parentId?: string | null;
  groupIndex?: number;
}

/** Partial arguments and options an apply adds (a chain's previous result, a callback's parent). */
export interface ApplyArgs {
  args?: readonly unknown[];
  kwargs?: Readonly<Record<string, unknown>>;
  options?: WireOptions;
}

type SignatureFactory = (dict: SignatureDict, runtime: CanvasRuntime | undefined) => AnySignature;

/** The complex kinds (`chain`, `group`, `chord`), registered by their modules. */
const TYPES = new Map<string, SignatureFactory>();

/** @internal Registers a complex kind for {@link signatureFromDict}. */
export function registerSignatureType(name: string, factory: SignatureFactory): void {
  TYPES.set(name, factory);
}

/**
 * A signature read from its wire form: a task signature, or a chain, group or chord by its
 * `subtask_type` (Celery's `Signature.from_dict`). Signatures already made pass through.
 */
export function signatureFromDict(value: SignatureDict | AnySignature, runtime?: CanvasRuntime): AnySignature {
  if (value instanceof Signature) return value;
  const type = value.subtask_type;
  if (typeof type === 'string' && type !== '') {
    const factory = TYPES.get(type);
    if (!factory) throw new UsageError(`signature of task ${String(value.task)} has subtask_type "${type}", which warren does not know (known: chain, group, chord)`);
    return factory(value, runtime);
  }
  return new Signature(value.task, asList(value.args), asObject(value.kwargs), asObject(value.options), {
    immutable: value.immutable === true,
    runtime,
  });
}

function asList(value: unknown): unknown[] {
  return Array.isArray(value) ? [...value] : [];
}

function asObject(value: unknown): Record<string, unknown> {
  return isPlainObject(value) ? { ...value } : {};
}

/** Checks the tasks of a chain or group: every one a signature. @throws UsageError naming the first that is not. */
export function requireSignatures(kind: 'chain' | 'group', tasks: ReadonlyArray<AnySignature>): AnySignature[] {
  if (!Array.isArray(tasks)) throw new UsageError(`a ${kind} takes a list of signatures (got ${String(tasks)})`);
  tasks.forEach((task, index) => {
    if (!(task instanceof Signature)) throw new UsageError(`${kind}(): item ${index} is not a signature (got ${String(task)})`);
  });
  return [...tasks];
}

/** The options of a signature copied, lists and signature values too, so a clone never shares them. */
function copyOptions(options: WireOptions): WireOptions {
  return structuredCopy(options) as WireOptions;
}

function structuredCopy(value: unknown): unknown {
  if (value instanceof Signature) return value.clone();
  if (Array.isArray(value)) return value.map(structuredCopy);
  if (isPlainObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, structuredCopy(v)]));
  if (types.isDate(value)) return new Date(value.getTime());
  return value;
}

/** Options that freezing sets and that a later merge must not change (Celery's `_IMMUTABLE_OPTIONS`). */
const IMMUTABLE_OPTIONS = new Set(['group_id']);

export interface SignatureInit {
  immutable?: boolean;
  subtaskType?: SubtaskType;
  runtime?: CanvasRuntime;
}

/**
 * A task call to make later: its name, arguments and options (Celery's `Signature`). Made by
 * `app.signature()`, a task handle's `.s()` / `.si()`, or read from a message's workflow.
 * An immutable signature (`.si()`) ignores the arguments a chain or callback would put first.
 *
 * The methods that add to it (`link`, `linkError`, `set`) change it and return it; `apply()`
 * sends a copy, so one signature may be applied many times.
 */
export class Signature<R = unknown, Result = AsyncResult<R>> {
  readonly task: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  options: WireOptions;
  immutable: boolean;
  readonly subtaskType: SubtaskType;
  /** @internal Where it is applied: the app's or the worker's. */
  runtime: CanvasRuntime | undefined;
  /** @internal A result type only the compiler sees. */
  declare readonly __result?: R;

  constructor(task: string, args: readonly unknown[] = [], kwargs: Readonly<Record<string, unknown>> = {}, options: WireOptions = {}, init: SignatureInit = {}) {
    if (typeof task !== 'string' || task === '') throw new UsageError(`a signature needs a task name (got ${String(task)})`);
    if (!Array.isArray(args)) throw new UsageError(`signature of ${task}: args must be an array (got ${String(args)})`);
    if (!isPlainObject(kwargs)) throw new UsageError(`signature of ${task}: kwargs must be a plain object (got ${String(kwargs)})`);
    this.task = task;
    this.args = [...args];
    this.kwargs = { ...kwargs };
    this.options = options;
    this.immutable = init.immutable ?? false;
    this.subtaskType = init.subtaskType ?? null;
    this.runtime = init.runtime;
  }

  /** The task id, once frozen or set. */
  get id(): string | undefined {
    const id = this.options.task_id;
    return typeof id === 'string' ? id : undefined;
  }

  /**
   * Adds a callback: applied with this task's return value first in its args when this task
   * succeeds (Celery's `link`). Returns this signature.
   */
  link(callback: AnySignature): this {
    this.appendOption('link', callback);
    return this;
  }

  /**
   * Adds an errback: applied when this task fails, with the failed task's id as its argument
   * (Celery's calling convention for an errback sent as a task). Returns this signature.
   */
  linkError(errback: AnySignature): this {
    this.appendOption('link_error', errback);
    return this;
  }

  /** Sets options (and `immutable`) on this signature; returns it. */
  set(options: SignatureOptions & { immutable?: boolean }): this {
    const { immutable, ...rest } = options;
    if (immutable !== undefined) this.setImmutable(immutable);
    Object.assign(this.options, wireOptions(rest, `${this.task}.set()`));
    return this;
  }

  /** @internal */
  setImmutable(immutable: boolean): void {
    this.immutable = immutable;
  }

  protected appendOption(key: 'link' | 'link_error', value: AnySignature): void {
    const current = this.options[key];
    const list = Array.isArray(current) ? current : current === undefined || current === null ? [] : [current];
    if (!list.includes(value)) list.push(value);
    this.options[key] = list;
  }

  /** Celery's `_merge`: partial args first (unless immutable), kwargs merged, options merged but `group_id` kept. */
  protected merge(args: readonly unknown[] = [], kwargs: Readonly<Record<string, unknown>> = {}, options?: WireOptions): [unknown[], Record<string, unknown>, WireOptions] {
    let merged = this.options;
    if (options !== undefined) {
      merged = { ...this.options };
      for (const [key, value] of Object.entries(options)) {
        if (!IMMUTABLE_OPTIONS.has(key) || !(key in this.options)) merged[key] = value;
      }
    }
    if (this.immutable) return [this.args, this.kwargs, merged];
    return [args.length > 0 ? [...args, ...this.args] : this.args, Object.keys(kwargs).length > 0 ? { ...this.kwargs, ...kwargs } : this.kwargs, merged];
  }

  /** A copy, with partial args, kwargs and options merged in as {@link merge} does. */
  clone(args?: readonly unknown[], kwargs?: Readonly<Record<string, unknown>>, options?: WireOptions): Signature<R, Result> {
    const [a, k, o] = args || kwargs || options ? this.merge(args, kwargs, options) : [this.args, this.kwargs, this.options];
    return new Signature<R, Result>(this.task, [...a], { ...k }, copyOptions(o), { immutable: this.immutable, runtime: this.runtime });
  }

  /**
   * Gives the signature its task id (and the workflow options) without sending it, as Celery's
   * `freeze`: a signature frozen once keeps its id.
   */
  freeze(at: FreezeArgs = {}): Frozen {
    const options = this.options;
    if (typeof options.task_id !== 'string') options.task_id = at.id ?? this.requireRuntime().newId();
    if (at.rootId) options.root_id = at.rootId;
    if (at.parentId) options.parent_id = at.parentId;
    if (!('reply_to' in options) && this.runtime) options.reply_to = this.runtime.replyTo;
    if (at.groupId && !('group_id' in options)) options.group_id = at.groupId;
    if (at.chord) options.chord = at.chord;
    if (at.groupIndex !== undefined) options.group_index = at.groupIndex;
    const frozen: FrozenTask = { kind: 'task', id: options.task_id as string };
    return frozen;
  }

  /**
   * Sends it, with `options` merged into a copy (this signature stays as it is): resolves to the
   * result once the broker confirmed the first message. A task's and a chain's result is an
   * AsyncResult (a chain's is its last task's, each with the step before as `parent`), a group's
   * a GroupResult, a chord's its body's AsyncResult with the header's GroupResult as `parent`.
   *
   * @throws ChordUnsupportedError for a chord (or a group chained to a task) on `rpc://`, before anything is sent.
   */
  async apply(options: SignatureOptions = {}): Promise<Result> {
    const runtime = this.requireRuntime();
    if (!isClientRuntime(runtime)) throw new UsageError(`apply() of ${this.task}: this signature belongs to a worker's workflow`);
    await runtime.prepare();
    const copy = this.clone(undefined, undefined, wireOptions(options, `${this.task}.apply()`));
    const frozen = copy.freezeForApply();
    // Followed before anything is sent: a fast worker's result must find its listener.
    const result = runtime.follow(frozen) as Result;
    try {
      await copy.applyAsync();
    } catch (err) {
      runtime.unfollow(frozen);
      throw err;
    }
    return result;
  }

  /** @internal The ids `apply()` gives before sending: a freeze (a group overrides it). */
  freezeForApply(): Frozen {
    return this.freeze();
  }

  /** Sends the task: partial args first, options merged (Celery's `Signature.apply_async`). */
  async applyAsync(with_: ApplyArgs = {}): Promise<Frozen> {
    const runtime = this.requireRuntime();
    const [args, kwargs, options] = with_.args?.length || with_.kwargs || with_.options ? this.merge(with_.args, with_.kwargs, dropNullish(with_.options)) : [this.args, this.kwargs, this.options];
    const taskId = typeof options.task_id === 'string' ? options.task_id : runtime.newId();
    const current = runtime.current;
    const rootId = stringOrNull(options.root_id) ?? (current ? current.rootId : null);
    const parentId = stringOrNull(options.parent_id) ?? (current ? current.id : null);
    const chain = options.chain;
    const chord = options.chord;
    await runtime.send({
      taskId,
      task: this.task,
      args,
      kwargs,
      options,
      embed: {
        callbacks: signatureList(options.link),
        errbacks: signatureList(options.link_error),
        chain: Array.isArray(chain) && chain.length > 0 ? chain.map(toDict) : null,
        chord: chord instanceof Signature || isPlainObject(chord) ? toDict(chord as AnySignature | SignatureDict) : null,
      },
      rootId,
      parentId,
      groupId: stringOrNull(options.group_id),
      groupIndex: typeof options.group_index === 'number' ? options.group_index : null,
      replyTo: stringOrNull(options.reply_to) ?? runtime.replyTo,
    });
    return { kind: 'task', id: taskId };
  }

  /** @internal */
  requireRuntime(): CanvasRuntime {
    if (!this.runtime) {
      throw new UsageError(`signature of ${this.task} is not bound to an app: make it with app.signature() (or a task handle's .s()) to apply it`);
    }
    return this.runtime;
  }

  /** The wire form, as Celery serializes a signature. */
  toDict(): SignatureDict {
    return {
      task: this.task,
      args: [...this.args],
      kwargs: Object.fromEntries(Object.entries(this.kwargs).map(([key, value]) => [key, wireValue(value)])),
      options: wireValue(this.options) as Record<string, unknown>,
      subtask_type: this.subtaskType,
      immutable: this.immutable,
    };
  }

  toJSON(): SignatureDict {
    return this.toDict();
  }
}

function isClientRuntime(runtime: CanvasRuntime): runtime is ClientRuntime {
  return typeof (runtime as Partial<ClientRuntime>).follow === 'function';
}

/** A signature (or its dict) as its wire dict. */
export function toDict(value: unknown): SignatureDict {
  if (value instanceof Signature) return value.toDict();
  return wireValue(value) as SignatureDict;
}

/** Signatures nested anywhere (options, a chord's header and body) become dicts. */
export function wireValue(value: unknown): unknown {
  if (value instanceof Signature) return value.toDict();
  if (Array.isArray(value)) return value.map(wireValue);
  if (isPlainObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, wireValue(v)]));
  return value;
}

function signatureList(value: unknown): SignatureDict[] | null {
  if (value === undefined || value === null) return null;
  const list = Array.isArray(value) ? value : [value];
  return list.length > 0 ? list.map(toDict) : null;
}

function stringOrNull(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

/** Celery drops options given as None to `apply_async`. */
function dropNullish(options: WireOptions | undefined): WireOptions | undefined {
  if (!options) return options;
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined && value !== null));
}
