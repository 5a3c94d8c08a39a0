import type { SignatureDict, TaskEmbed } from '../protocol';

/**
 * A task call's options as Celery keeps them in a signature (snake_case, the keywords of
 * `apply_async`): routing (`queue`, `exchange`, `routing_key`, `priority`), timing (`countdown`,
 * `eta`, `expires`, `time_limit`, `soft_time_limit`), `ignore_result`, `shadow`, and the
 * workflow's own (`task_id`, `reply_to`, `link`, `link_error`, `chain`, `chord`, `group_id`,
 * `group_index`, `root_id`, `parent_id`). Unknown keys from a Python peer are kept as they are.
 */
export type WireOptions = Record<string, unknown>;

/** One task message to publish, everything decided. */
export interface OutgoingTask {
  taskId: string;
  task: string;
  args: readonly unknown[];
  kwargs: Readonly<Record<string, unknown>>;
  /** Routing and timing (`queue`, `exchange`, `routing_key`, `priority`, `countdown`, `eta`, `expires`, limits, `ignore_result`, `shadow`). */
  options: WireOptions;
  embed: TaskEmbed;
  rootId: string | null;
  parentId: string | null;
  groupId: string | null;
  groupIndex: number | null;
  replyTo: string;
}

/**
 * What applying a workflow needs from its surroundings: the app's producer and result backend
 * for `apply()` in a client, the worker's for the steps a worker sends after a task.
 */
export interface CanvasRuntime {
  /** Publishes one task message; resolves once the broker confirmed it. */
  send(task: OutgoingTask): Promise<void>;
  /** The reply queue frozen into signatures that name none (rpc://), or the app's own id. */
  readonly replyTo: string;
  /** Throws ChordUnsupportedError where the result backend cannot count a chord (rpc://). */
  ensureChordsAllowed(): void;
  /** Records a chord header's size, before its last task is sent (Celery's `set_chord_size`). */
  setChordSize(groupId: string, size: number): Promise<void>;
  /** A new task id. */
  newId(): string;
  /** The task whose worker applies this, if any: what it sends has it as parent, and its root. */
  readonly current?: { readonly id: string; readonly rootId: string };
}

/** The runtime of a client's `apply()`: it also follows the results of what it sends. */
export interface ClientRuntime extends CanvasRuntime {
  /** Before anything is frozen: the definitions loaded, the result backend ready (so `ensureChordsAllowed` knows it). */
  prepare(): Promise<void>;
  /** The AsyncResult (or GroupResult) that follows the frozen ids, parents included. */
  follow(frozen: Frozen): unknown;
  /** Stops following them again: the send failed. */
  unfollow(frozen: Frozen): void;
}

/** The ids a workflow will have, known before anything is sent (Celery's frozen results). */
export type Frozen = FrozenTask | FrozenGroup;

export interface FrozenTask {
  readonly kind: 'task';
  readonly id: string;
  /** The result before this one in a chain, or the header of a chord. */
  parent?: Frozen;
}

export interface FrozenGroup {
  readonly kind: 'group';
  readonly id: string;
  readonly results: Frozen[];
  parent?: Frozen;
}

/** Celery's `as_tuple()` of a result, as a task's `children` lists it: `[[id, parent], null]` or `[[id, parent], [members]]`. */
export function asTuple(frozen: Frozen): unknown {
  const head = [frozen.id, frozen.parent ? asTuple(frozen.parent) : null];
  return frozen.kind === 'task' ? [head, null] : [head, frozen.results.map(asTuple)];
}

/** A signature dict as the wire carries it. */
export type { SignatureDict };
