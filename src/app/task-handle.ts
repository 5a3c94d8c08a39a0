import type { Signature } from '../canvas';
import type { SendTaskOptions } from '../producer';
import type { AsyncResult } from '../result';
import type { TaskContext, TaskOptions } from '../worker';

/** Options of a task whose handler takes its context first (Celery's `bind=True`). */
export type BoundTaskOptions = TaskOptions & { bind: true };
/** Options of a task whose handler takes the message's args only. */
export type UnboundTaskOptions = TaskOptions & { bind?: false };

/** The parameters after the first: what a chain step is given, its previous result coming first. */
export type Tail<A extends unknown[]> = A extends [unknown, ...infer Rest] ? Rest : never;

/** A bound handler: the context, then the task's own parameters `A`. */
export type BoundHandler<A extends unknown[], R> = (ctx: TaskContext, ...args: A) => R;

/**
 * A task defined in this app, typed by its handler: `send` and `apply` check the arguments at
 * compile time, and the result resolves to what the handler returns (awaited). Made by
 * `app.task()`; `app.sendTask(name, ...)` stays for tasks defined elsewhere.
 *
 * ```ts
 * const add = app.task('math.add', async (a: number, b: number) => a + b);
 * const result = await add.send(2, 3);        // AsyncResult<number>
 * await add.apply([2, 3], { countdown: 10 }); // with sendTask's options
 * await app.chain(add.s(2, 3), add.s(10)).apply(); // 15: the first result comes first in add(5, 10)
 * ```
 */
export interface TaskHandle<A extends unknown[], R> {
  /** The task's full name. */
  readonly name: string;
  /** Sends the task with these args, routed by the definitions (Celery's `delay`). */
  send(...args: A): Promise<AsyncResult<R>>;
  /** Sends the task with these args and sendTask's options (Celery's `apply_async`). */
  apply(args: A, options?: SendTaskOptions): Promise<AsyncResult<R>>;
  /**
   * A signature of the task (Celery's `.s()`), for workflows: all its args, or all but the first,
   * which a chain's previous step (or a callback's parent) passes.
   */
  s(...args: A | Tail<A>): Signature<R>;
  /** An immutable signature (Celery's `.si()`): it takes no result from a previous step. */
  si(...args: A): Signature<R>;
}

/** What a handle needs from the app: its `sendTask`. */
export type SendTask = <T>(name: string, args: readonly unknown[], kwargs: Readonly<Record<string, unknown>>, options: SendTaskOptions) => Promise<AsyncResult<T>>;

/** What a handle needs from the app to make its signatures. */
export type MakeSignature = <T>(name: string, args: readonly unknown[], immutable: boolean) => Signature<T>;

export function createTaskHandle<A extends unknown[], R>(name: string, sendTask: SendTask, signature: MakeSignature): TaskHandle<A, R> {
  return Object.freeze({
    name,
    send: (...args: A) => sendTask<R>(name, args, {}, {}),
    apply: (args: A, options: SendTaskOptions = {}) => sendTask<R>(name, args, {}, options),
    s: (...args: A | Tail<A>) => signature<R>(name, args, false),
    si: (...args: A) => signature<R>(name, args, true),
  });
}
