import { ChordUnsupportedError } from '../errors';
import type { Logger } from '../logging/logger';
import { isPlainObject, pythonRepr, type SignatureDict, type TaskMessage, type TaskStatus } from '../protocol';
import type { ResultStore } from '../worker/result-store';
import type { TaskEnd, Workflow } from '../worker/workflow';
import { asTuple, type CanvasRuntime, type OutgoingTask } from './canvas-runtime';
import type { ChordCounter } from './chord-counter';
import { Group } from './group';
import { signatureFromDict, type AnySignature } from './signature';

/** What a worker's workflow steps need. */
export interface WorkerWorkflowDeps {
  /** Publishes a task message (the worker's producer). */
  send(task: OutgoingTask): Promise<void>;
  /** Where states go: the chain steps failed with their task, a chord body that cannot run. */
  store: ResultStore;
  /** The chord counting of the result backend; absent on rpc://, which cannot count. */
  chords: ChordCounter | undefined;
  hostname: string;
  newId(): string;
}

/** States that fail a chord when a header task ends in one (Celery's `PROPAGATE_STATES`). */
const PROPAGATE: ReadonlySet<TaskStatus> = new Set(['FAILURE', 'REVOKED']);

/**
 * The workflow steps a Celery worker takes after a task (Celery's `trace_task` and
 * `Backend.mark_as_failure` / `on_chord_part_return`), so warren and Python workers can share
 * any step of a chain, a chord's header and body, callbacks and errbacks:
 *
 * - success: each callback (`link`) is applied with the return value first (several as one
 *   group), then the next step of the chain with the rest of the chain, each with this task as
 *   parent and its root as root;
 * - chord: every final state of a header task is counted in the result backend; the part that
 *   completes it applies the body with the header's results in order, or, when one failed,
 *   stores a `ChordError` for the body and applies the body's errbacks;
 * - failure: the FAILURE is stored for every later step of the chain that has an id (so a
 *   caller waiting for the chain's end learns it), and the errbacks (`link_error`) are applied
 *   as tasks with the failed task's id as their argument (Celery's convention for an errback it
 *   sends as a task; a Python errback taking `(request, exc, traceback)` runs only in the
 *   worker of the task that failed, so it can follow Python tasks only).
 */
export class WorkerWorkflow implements Workflow {
  constructor(private readonly deps: WorkerWorkflowDeps) {}

  /** The runtime for what a task's worker sends: this task as parent, its root as root. */
  private runtime(task: TaskMessage): CanvasRuntime {
    const { deps } = this;
    return {
      send: (outgoing) => deps.send(outgoing),
      replyTo: task.replyTo ?? '',
      ensureChordsAllowed: () => {
        if (!deps.chords) throw new ChordUnsupportedError(deps.store.display);
      },
      setChordSize: async (groupId, size) => {
        if (!deps.chords) throw new ChordUnsupportedError(deps.store.display);
        await deps.chords.setChordSize(groupId, size);
      },
      newId: () => deps.newId(),
      current: { id: task.id, rootId: task.rootId ?? task.id },
    };
  }

  async succeeded(task: TaskMessage, value: unknown): Promise<unknown[]> {
    const { callbacks, chain } = task.embed;
    const runtime = this.runtime(task);
    const children: unknown[] = [];
    const lineage = { parent_id: task.id, root_id: runtime.current!.rootId };
    if (callbacks && callbacks.length > 0) {
      if (callbacks.length === 1) {
        children.push(asTuple(await signatureFromDict(callbacks[0], runtime).applyAsync({ args: [value], options: lineage })));
      } else {
        const signatures = callbacks.map((dict) => signatureFromDict(dict, runtime));
        for (const group of signatures.filter((sig) => sig instanceof Group)) {
          children.push(asTuple(await group.applyAsync({ args: [value], options: lineage })));
        }
        const tasks = signatures.filter((sig) => !(sig instanceof Group));
        if (tasks.length > 0) children.push(asTuple(await new Group(tasks, {}, runtime).applyAsync({ args: [value], options: lineage })));
      }
    }
    if (chain && chain.length > 0) {
      const rest = chain.slice(0, -1);
      const next = signatureFromDict(chain[chain.length - 1], runtime);
      children.push(asTuple(await next.applyAsync({ args: [value], options: { ...lineage, chain: rest } })));
    }
    return children;
  }

  async finished(task: TaskMessage, end: TaskEnd, log: Logger): Promise<void> {
    const runtime = this.runtime(task);
    if (task.embed.chord) {
      await this.chordPart(runtime, { id: task.id, groupId: task.group, groupIndex: task.groupIndex, chord: task.embed.chord }, end, log);
    }
    if (end.status !== 'FAILURE') return;
    // Celery walks the stored chain as it is: the last step first.
    for (const step of [...(task.embed.chain ?? [])].reverse()) {
      const options = isPlainObject(step.options) ? step.options : {};
      const id = typeof options.task_id === 'string' ? options.task_id : undefined;
      if (id) await this.storeFailure(step, id, end, log);
      if (isPlainObject(options.chord) && id) {
        await this.chordPart(
          runtime,
          {
            id,
            groupId: typeof options.group_id === 'string' ? options.group_id : null,
            groupIndex: typeof options.group_index === 'number' ? options.group_index : null,
            chord: options.chord as SignatureDict,
          },
          end,
          log,
        );
      }
    }
    const errbacks = task.embed.errbacks;
    if (errbacks && errbacks.length > 0) {
      await new Group(
        errbacks.map((dict) => signatureFromDict(dict, runtime)),
        {},
        runtime,
      ).applyAsync({ args: [task.id], options: { parent_id: task.id, root_id: runtime.current!.rootId } });
    }
  }

  /** Stores `end` for a task of the workflow that will not run (a later step of a failed chain). */
  private async storeFailure(step: SignatureDict, id: string, end: TaskEnd, log: Logger): Promise<void> {
    const options = isPlainObject(step.options) ? step.options : {};
    const replyTo = typeof options.reply_to === 'string' ? options.reply_to : null;
    const { store } = this.deps;
    if (!store.accepts(replyTo)) return;
    const encoded = store.encode({
      taskId: id,
      status: end.status,
      result: end.result,
      traceback: end.traceback,
      replyTo,
      correlationId: id,
      parentId: typeof options.parent_id === 'string' ? options.parent_id : null,
      groupId: typeof options.group_id === 'string' ? options.group_id : null,
      extended: { name: step.task, args: Array.isArray(step.args) ? step.args : [], kwargs: isPlainObject(step.kwargs) ? step.kwargs : {}, worker: this.deps.hostname },
    });
    await store.store(encoded).catch((err: unknown) => store.recover(err, encoded, log));
  }

  /**
   * One header task's part: counted; the part that completes the chord applies its body with the
   * results in header order, or fails it when a part failed (Celery's `on_chord_part_return`).
   */
  private async chordPart(
    runtime: CanvasRuntime,
    part: { id: string; groupId: string | null; groupIndex: number | null; chord: SignatureDict },
    end: TaskEnd,
    log: Logger,
  ): Promise<void> {
    const body = signatureFromDict(part.chord, runtime);
    const { chords } = this.deps;
    if (!chords) {
      // Celery's rpc backend drops the part silently and the chord never completes: say why, and fail its body.
      const error = new ChordUnsupportedError(this.deps.store.display);
      log.error({ chord: body.task, groupId: part.groupId }, `${error.message}: the chord's body fails`);
      await this.failChord(runtime, body, 'ChordUnsupportedError', error.message, log, 'warren-js');
      return;
    }
    if (!part.groupId) return;
    const counted = await chords.countChordPart({ groupId: part.groupId, groupIndex: part.groupIndex, taskId: part.id, status: end.status, result: end.result });
    if (!counted.complete) return;
    const failed = counted.parts.find((p) => PROPAGATE.has(p.status));
    if (failed) {
      log.warn({ groupId: part.groupId, culprit: failed.taskId }, 'a chord header task failed: the chord fails');
      await this.failChord(runtime, body, 'ChordError', `Dependency ${failed.taskId} raised ${exceptionRepr(failed.result)}`, log);
    } else {
      await body.applyAsync({ args: [counted.parts.map((p) => p.result)] });
      log.debug({ groupId: part.groupId, body: body.task }, 'chord complete: its body was sent');
    }
    await chords.forgetChord(part.groupId);
  }

  /**
   * Celery's `chord_error_from_stack`: the body's errbacks are applied with the body's id, and the
   * body's FAILURE is stored, so whoever waits for the chord's result learns why.
   */
  private async failChord(runtime: CanvasRuntime, body: AnySignature, excType: string, message: string, log: Logger, excModule = 'celery.exceptions'): Promise<void> {
    const bodyId = body.id ?? (body.subtaskType === 'chain' ? body.freeze().id : undefined);
    const errbacks = body.options.link_error;
    if (bodyId && Array.isArray(errbacks) && errbacks.length > 0) {
      const signatures = errbacks.map((errback: unknown) => signatureFromDict(errback as SignatureDict, runtime));
      await new Group(signatures, {}, runtime).applyAsync({ args: [bodyId], options: { parent_id: bodyId, root_id: runtime.current!.rootId } });
    }
    if (!bodyId) return;
    await this.storeFailure(body.toDict(), bodyId, { status: 'FAILURE', result: { exc_type: excType, exc_message: [message], exc_module: excModule }, traceback: null }, log);
  }
}

/** Python's `repr()` of an encoded exception: `ValueError('bad')`. */
function exceptionRepr(encoded: unknown): string {
  if (isPlainObject(encoded) && typeof encoded.exc_type === 'string') {
    const args = Array.isArray(encoded.exc_message) ? encoded.exc_message : encoded.exc_message === undefined ? [] : [encoded.exc_message];
    return `${encoded.exc_type}(${args.map((arg: unknown) => pythonRepr(arg)).join(', ')})`;
  }
  return pythonRepr(encoded);
}
