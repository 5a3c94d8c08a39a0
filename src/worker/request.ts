import { EncodeError, InvalidMessageError, MessageTooLargeError } from '../errors';
import type { Logger } from '../logging/logger';
import {
  clip,
  decodeTaskMessage,
  encodeError,
  formatTraceback,
  republishTaskMessage,
  type EncodedError,
  type TaskMessage,
  type TaskStatus,
} from '../protocol';
import { isBrokerHeader, isDelayHeader, isDeliveryCountHeader, previousDeliveries, recordedDeliveries } from '../topology';
import type { Publisher, PublishRequest } from '../transport';
import { errorSummary } from '../util/error-summary';
import type { DeadLetters } from './dead-letters';
import { settle, type Delivery } from './delivery';
import { decideOutcome, type Decision, type Outcome } from './outcome';
import type { EncodedResult, ResultStore } from './result-store';
import { UnsendableResult } from './pool/unsendable-result';
import type { TaskPool } from './pool/task-pool';
import { PROGRESS_STATE, ProgressReporter } from './progress';
import type { TimeLimits } from './run-within-limits';
import type { ScheduledTasks } from './scheduled-tasks';
import { TaskLog } from './task-log';
import { taskContext } from './task-context';
import { RunningTask } from './task-scope';
import type { RegisteredTask, TaskLookup } from './task-types';
import type { ResolvedWorkerOptions } from './worker-options';
import type { WorkerEvents } from './worker-events';
import { hasWorkflow, type TaskEnd, type Workflow } from './workflow';

/**
 * Publishes tasks again, now or after a delay the broker keeps (the producer's
 * `DelayedDelivery` is one): for retries, and for tasks that arrive before their `eta`.
 */
export interface TaskRepublisher {
  /** Declares what delayed publishes to `targets` need; the worker calls it on start. */
  prepare(targets: ReadonlyArray<{ exchange: string; routingKey: string }>): Promise<void>;
  /** Resolves once the broker confirmed the message; it is routed after `delayMs` (now if <= 0). */
  publish(request: PublishRequest, delayMs: number): Promise<void>;
}

/** One delivery in the worker's hands while it is handled. */
export interface Slot {
  /** The run of the task's code, once it started. */
  task: RunningTask | undefined;
  /** The worker let the delivery go (shutdown timeout): nothing more is published or settled for it. */
  abandoned: boolean;
  /** The task message, once decoded: what `inspect active` / `reserved` show. */
  request?: TaskMessage;
  /** When its run started (ms since the epoch). */
  startedAt?: number;
  /** Held until its `eta`, due within a second: `inspect scheduled` shows it. */
  heldUntil?: Date;
}

/** Whether a task id was revoked (the remote control `revoke`): such a task is REVOKED, not run. */
export type RevokedLookup = (taskId: string) => boolean;

export interface RequestHandlerOptions {
  publisher: Publisher;
  republisher: TaskRepublisher;
  /** Where task states go: the result backend. */
  results: ResultStore;
  /** The steps after a task that its message's workflow asks for (chain, callbacks, errbacks, chord). */
  workflow: Workflow;
  tasks: TaskLookup;
  deadLetters: DeadLetters;
  logger: Logger;
  options: ResolvedWorkerOptions;
  /**
   * The worker's one place that counts outcomes and emits events; called after the message is
   * settled (`task-started`: as the run starts).
   */
  emit: <K extends keyof WorkerEvents>(event: K, payload: WorkerEvents[K]) => void;
  /** Revoked task ids; none when absent. */
  isRevoked?: RevokedLookup;
  /** Where tasks this worker moved into the delay levels are recorded, for `inspect scheduled`. */
  scheduled?: ScheduledTasks;
  /** Where task code runs: the worker's event loop, or its pool processes. */
  pool: TaskPool;
}

/**
 * A task due within this long is held in the worker until its time; one due later goes back
 * into the broker's delay levels. So no delivery stays unacked much longer than a second
 * waiting for its time (DESIGN.md section 3).
 */
const HOLD_LIMIT_MS = 1000;

/** Headers a task published again must not carry on: the broker's, the delay levels', warren's delivery count. */
const transportHeader = (name: string): boolean => isBrokerHeader(name) || isDelayHeader(name) || isDeliveryCountHeader(name);

/**
 * One message's fate, as Celery's Request owns it: check it, decode it, run its task, decide
 * what happens to it ({@link decideOutcome}), publish what that needs (result, retry, dead
 * letter), settle it, and only then tell the worker, which counts and emits.
 */
export class RequestHandler {
  /** Tasks this worker finished lately: a redelivery of one (its ack was lost with the channel) is acked, not run again. */
  private readonly finished = new RecentKeys(1000);
  /** Time limits set by remote control (`time_limit`), by task name, over the task's own options. */
  private readonly timeLimitOverrides = new Map<string, { soft: number | undefined; hard: number | undefined }>();

  constructor(private readonly deps: RequestHandlerOptions) {}

  async handle(delivery: Delivery, slot: Slot): Promise<void> {
    const { message, queue } = delivery;
    const { deadLetters, logger, options } = this.deps;
    // Checked before anything reads the body: an oversized message is never parsed.
    if (message.content.length > options.maxMessageBytes) {
      const { task: name, id } = message.properties.headers ?? {};
      const label = typeof name === 'string' && typeof id === 'string' ? `task ${clip(name)}[${clip(id)}]` : 'message';
      const reason = new MessageTooLargeError(label, message.content.length, options.maxMessageBytes).message;
      await deadLetters.deadLetter(delivery, reason, 'message rejected: too large');
      return;
    }
    const key = finishedKey(delivery);
    if (message.fields.redelivered && key !== undefined && this.finished.has(key)) {
      logger.warn({ queue, taskId: message.properties.headers?.id }, 'task redelivered after it finished here (its ack was lost with the channel): acked without running it again');
      settle(delivery, 'ack');
      return;
    }
    if (deadLetters.isSuspect(delivery)) {
      await deadLetters.countRedelivery(delivery);
      return;
    }
    let task: TaskMessage;
    try {
      task = decodeTaskMessage({ content: message.content, properties: message.properties });
    } catch (err) {
      const reason = err instanceof InvalidMessageError ? err.message : `undecodable message: ${String(err)}`;
      await deadLetters.deadLetter(delivery, reason, 'message rejected: not a valid task');
      return;
    }
    slot.request = task;
    this.deps.scheduled?.remove(task.id);
    const log = new TaskLog(logger, { queue, task: task.task, taskId: task.id });
    const registered = this.deps.tasks.get(task.task);
    if (!registered) {
      await this.carryOut(delivery, slot, task, undefined, this.decide({ kind: 'not-registered', taskName: task.task }, task), log);
      return;
    }
    if (this.revokedOrExpired(task)) {
      await this.revoke(delivery, slot, task, registered, log);
      return;
    }
    if (task.eta) {
      const earlyMs = task.eta.getTime() - Date.now();
      if (earlyMs > HOLD_LIMIT_MS) {
        await this.delayAgain(delivery, task, earlyMs, log);
        return;
      }
      if (earlyMs > 0) {
        slot.heldUntil = task.eta;
        await new Promise((resolve) => setTimeout(resolve, earlyMs));
        slot.heldUntil = undefined;
        if (slot.abandoned) return;
        if (this.revokedOrExpired(task)) {
          await this.revoke(delivery, slot, task, registered, log);
          return;
        }
      }
    }
    const done = await this.run(delivery, slot, task, registered, log);
    if (done && key !== undefined) this.finished.add(key);
  }

  /** Runs the task and carries out its fate; true when that was published and settled here. */
  private async run(delivery: Delivery, slot: Slot, task: TaskMessage, registered: RegisteredTask, log: TaskLog): Promise<boolean> {
    const { message, queue } = delivery;
    // Delivered before: flagged by the broker, or a copy that warren's own count sent round.
    const before = previousDeliveries(message.properties.headers) || recordedDeliveries(message.properties.headers);
    const redelivered = message.fields.redelivered || before > 0;
    if (redelivered) log.logger.warn(before > 0 ? { delivery: before + 1 } : {}, 'task redelivered');
    if (registered.options.trackStarted) {
      await this.sendResult(task, queue, 'STARTED', { pid: process.pid, hostname: this.deps.options.hostname }, null, log, slot, registered);
    }
    if (slot.abandoned) return false;
    // Made when the task first reports progress: most never do.
    let progress: ProgressReporter | undefined;
    let runOver = false;
    const reporter = (): ProgressReporter => {
      if (!progress) {
        progress = new ProgressReporter(
          (meta) => this.updateState(task, queue, PROGRESS_STATE, meta, log, slot, registered),
          (err) => log.logger.warn({ err: errorSummary(err) }, 'could not report progress'),
        );
        if (runOver) progress.end();
      }
      return progress;
    };
    const running = new RunningTask(
      (signal) =>
        taskContext(task, signal, {
          redelivered,
          hostname: this.deps.options.hostname,
          queue,
          logger: () => log.logger,
          storeState: (state, meta) => this.updateState(task, queue, state, meta, log, slot, registered),
          progress: (current, total, meta) => reporter().report(current, total, meta),
        }),
      this,
    );
    slot.task = running;
    slot.startedAt = Date.now();
    log.debug('task started');
    this.deps.emit('task-started', { taskId: task.id, taskName: task.task, queue });
    const started = performance.now();
    const end = await this.deps.pool.run({ task, delivery, registered, running, limits: this.timeLimits(task, registered), redelivered, log });
    runOver = true;
    progress?.end();
    const runtimeMs = Math.round((performance.now() - started) * 10) / 10;
    let outcome: Outcome = end;
    let success: EncodedResult | undefined;
    if (end.kind === 'returned' && end.value instanceof UnsendableResult) {
      // Returned in a pool process, and JSON could not carry it across: as the async pool says of such a result.
      const { reason } = end.value;
      outcome = this.wantsResult(task, registered)
        ? { kind: 'result-rejected', error: new EncodeError(`the SUCCESS result of task ${task.task}[${task.id}] cannot be sent as JSON: ${reason}`) }
        : { kind: 'returned', value: null };
    } else if (end.kind === 'returned' && this.wantsResult(task, registered)) {
      // Encoded before anything is decided: a result that cannot be sent is the task's FAILURE.
      const encoded = this.encodeResult(task, queue, 'SUCCESS', end.value === undefined ? null : end.value, null);
      if (encoded instanceof Error) outcome = { kind: 'result-rejected', error: encoded };
      else success = encoded;
    }
    if (end.kind === 'escaped') log.logger.error({ err: errorSummary(end.error) }, 'an error escaped the task (a throw in a callback, an unhandled rejection, process.exit): the task failed, the worker goes on');
    return this.carryOut(delivery, slot, task, registered, this.decide(outcome, task, registered), log, runtimeMs, success);
  }

  private decide(outcome: Outcome, task: TaskMessage, registered?: RegisteredTask): Decision {
    return decideOutcome(outcome, { taskName: task.task, taskId: task.id, retries: task.retries, options: registered?.options, now: Date.now() });
  }

  /**
   * Publishes what the decision needs, settles the delivery, then reports it. True when the
   * outcome reached the broker and the delivery was settled for it (not handed back).
   */
  private async carryOut(
    delivery: Delivery,
    slot: Slot,
    task: TaskMessage,
    registered: RegisteredTask | undefined,
    decision: Decision,
    log: TaskLog,
    runtimeMs?: number,
    success?: EncodedResult,
  ): Promise<boolean> {
    const { queue } = delivery;
    const { emit } = this.deps;
    const ids = { taskId: task.id, taskName: task.task };
    switch (decision.action) {
      case 'hand-back':
        return false;
      case 'requeue':
        if (slot.abandoned) return false;
        // Delivered again, flagged redelivered: the queue's deliveryLimit bounds how often (see DeadLetters).
        settle(delivery, 'requeue');
        log.logger.warn({ reason: decision.reason }, 'task handed back to the broker (rejectOnWorkerLost): its pool process died');
        return false;
      case 'succeed': {
        // As Celery: the callbacks and the next step of the chain go out first, so the result names them as children.
        const children = hasWorkflow(task)
          ? await this.workflowStep(delivery, slot, log, 'the callbacks or the next step of the chain', () => this.deps.workflow.succeeded(task, decision.value, log.logger))
          : [];
        if (children === undefined) return false;
        if (children.length > 0) success = undefined;
        // No await for a task whose result goes nowhere (ignoreResult, no reply queue): a promise and a turn less.
        const delivered = this.wantsResult(task, registered)
          ? await this.sendResult(task, queue, 'SUCCESS', decision.value, null, log, slot, registered, success, children)
          : true;
        if (delivered && hasWorkflow(task) && !(await this.finishWorkflow(delivery, slot, task, { status: 'SUCCESS', result: decision.value ?? null, traceback: null }, log))) return false;
        if (!this.finish(delivery, slot, delivered, log)) return false;
        log.succeeded(runtimeMs);
        emit('task-succeeded', { ...ids, runtimeMs: runtimeMs ?? 0, result: decision.value });
        return true;
      }
      case 'fail': {
        const { error } = decision;
        const encoded = encodeError(error);
        const traceback = formatTraceback(error);
        const delivered = await this.sendResult(task, queue, 'FAILURE', encoded, traceback, log, slot, registered);
        if (delivered && hasWorkflow(task) && !(await this.finishWorkflow(delivery, slot, task, { status: 'FAILURE', result: encoded, traceback }, log))) return false;
        if (!this.finish(delivery, slot, delivered, log)) return false;
        log.logger.warn({ state: 'FAILURE', runtimeMs, err: errorSummary(error) }, 'task failed');
        emit('task-failed', { ...ids, error, runtimeMs: runtimeMs ?? 0 });
        return true;
      }
      case 'revoke': {
        const { reason, signal } = decision;
        // Celery's `mark_as_revoked(id, reason)`: TaskRevokedError('expired' | 'revoked' | 'terminated').
        const revoked: EncodedError = { exc_type: 'TaskRevokedError', exc_message: [reason], exc_module: 'celery.exceptions' };
        await this.sendResult(task, queue, 'REVOKED', revoked, null, log, slot, registered);
        if (hasWorkflow(task) && !(await this.finishWorkflow(delivery, slot, task, { status: 'REVOKED', result: revoked, traceback: null }, log))) return false;
        if (slot.abandoned) return false;
        this.ack(delivery, log);
        if (reason === 'expired') log.logger.warn({ state: 'REVOKED', expires: task.expires?.toISOString(), eta: task.eta }, 'task expired before it ran; revoked');
        else if (reason === 'revoked') log.logger.warn({ state: 'REVOKED' }, 'task revoked before it ran; discarded');
        else log.logger.warn({ state: 'REVOKED', runtimeMs, signal }, 'task terminated by a revoke: its signal was aborted and it is recorded as revoked; what it does from now on is ignored');
        emit('task-revoked', { ...ids, reason, ...(signal === undefined ? {} : { signal }) });
        return true;
      }
      case 'retry':
        return this.retry(delivery, slot, task, registered, decision, log, runtimeMs);
      case 'dead-letter':
        if (decision.error !== undefined) {
          await this.sendResult(task, queue, 'FAILURE', encodeError(decision.error), null, log, slot, registered);
        }
        if (slot.abandoned) return false;
        await this.deps.deadLetters.deadLetter(delivery, decision.reason, 'message rejected: not a valid task');
        return true;
    }
  }

  /**
   * A task's time limits from now on in this worker (the remote control `time_limit`), in
   * seconds, in place of its own options; undefined leaves that one to the worker's default. A
   * message's own limits still win.
   */
  setTimeLimits(taskName: string, soft: number | undefined, hard: number | undefined): void {
    this.timeLimitOverrides.set(taskName, { soft, hard });
  }

  /**
   * The time limits of a run, in seconds: the message's own (`timelimit`, hard first), else the
   * task's (the remote control's `time_limit`, else its options), else the worker's.
   */
  private timeLimits(task: TaskMessage, registered: RegisteredTask): TimeLimits {
    const [hard, soft] = task.timelimit;
    const own = this.timeLimitOverrides.get(task.task) ?? { hard: registered.options.timeLimit, soft: registered.options.softTimeLimit };
    return {
      hard: hard ?? own.hard ?? this.deps.options.timeLimit,
      soft: soft ?? own.soft ?? this.deps.options.softTimeLimit,
    };
  }

  /** Whether a task is not to run: its id was revoked, or it is past its `expires`. */
  private revokedOrExpired(task: TaskMessage): boolean {
    return (task.expires !== null && task.expires.getTime() <= Date.now()) || this.deps.isRevoked?.(task.id) === true;
  }

  /** A task whose id was revoked, or that is past its `expires`, is not run: REVOKED, acked, logged. */
  private async revoke(delivery: Delivery, slot: Slot, task: TaskMessage, registered: RegisteredTask, log: TaskLog): Promise<void> {
    const outcome: Outcome = this.deps.isRevoked?.(task.id) ? { kind: 'revoked' } : { kind: 'expired' };
    await this.carryOut(delivery, slot, task, registered, this.decide(outcome, task, registered), log);
  }

  /**
   * Runs the task again later, as Celery's `Task.retry` does: publishes the next attempt (same
   * id, reply queue and correlation id, `retries` + 1, an `eta`) into this queue through the
   * delay levels; once the broker confirmed it, reports RETRY and acks this delivery. If the
   * publish fails, this delivery goes back to the queue, so the task is never lost.
   */
  private async retry(
    delivery: Delivery,
    slot: Slot,
    task: TaskMessage,
    registered: RegisteredTask | undefined,
    next: { delayMs: number; retries: number; reported: unknown },
    log: TaskLog,
    runtimeMs: number | undefined,
  ): Promise<boolean> {
    if (slot.abandoned) return false;
    const { delayMs, reported } = next;
    const eta = delayMs > 0 ? new Date(Date.now() + delayMs) : null;
    const { body, properties } = republishTaskMessage(delivery.message, task, { retries: next.retries, eta, dropHeader: transportHeader });
    try {
      await this.deps.republisher.publish({ exchange: '', routingKey: delivery.queue, body, properties }, delayMs);
    } catch (err) {
      log.logger.error({ err: (err as Error).message }, 'could not publish the retry; the task goes back to the queue');
      await pause();
      settle(delivery, 'requeue');
      return false;
    }
    // The next attempt is with the broker already: whatever happens to the RETRY state, ack.
    await this.sendResult(task, delivery.queue, 'RETRY', encodeError(reported), formatTraceback(reported), log, slot, registered);
    if (slot.abandoned) return true;
    this.ack(delivery, log);
    if (eta) this.deps.scheduled?.add({ ...task, retries: next.retries, eta }, delivery.queue, eta);
    log.logger.warn({ state: 'RETRY', runtimeMs, retries: next.retries, delayMs, eta, err: errorSummary(reported) }, 'task will be retried');
    this.deps.emit('task-retried', { taskId: task.id, taskName: task.task, retries: next.retries, delayMs, error: reported });
    return true;
  }

  /**
   * A task that arrived before its `eta` (sent by a client without delay levels, such as Python
   * Celery, or early by clock skew): the same message goes back into the delay levels, bound
   * for this queue, and only once the broker confirmed that copy is this delivery acked.
   */
  private async delayAgain(delivery: Delivery, task: TaskMessage, delayMs: number, log: TaskLog): Promise<void> {
    const { body, properties } = republishTaskMessage(delivery.message, task, { dropHeader: transportHeader });
    try {
      await this.deps.republisher.publish({ exchange: '', routingKey: delivery.queue, body, properties }, delayMs);
    } catch (err) {
      log.logger.error({ err: (err as Error).message, eta: task.eta }, 'could not move an early task into the delay levels; it goes back to the queue');
      await pause();
      settle(delivery, 'requeue');
      return;
    }
    log.debug('task not due yet: moved into the delay levels', { eta: task.eta, delayMs });
    this.ack(delivery, log);
    if (task.eta) this.deps.scheduled?.add(task, delivery.queue, task.eta);
  }

  /**
   * The task's state encoded for the result backend, or why it cannot be: `EncodeError` for a
   * value JSON cannot carry, `MessageTooLargeError` for one over `maxMessageBytes`.
   */
  private encodeResult(
    task: TaskMessage,
    queue: string,
    status: TaskStatus,
    result: unknown,
    traceback: string | null,
    children?: readonly unknown[],
  ): EncodedResult | Error {
    let encoded: EncodedResult;
    try {
      encoded = this.deps.results.encode({
        taskId: task.id,
        status,
        result,
        traceback,
        replyTo: task.replyTo,
        correlationId: task.correlationId ?? task.id,
        parentId: task.parentId,
        groupId: task.group,
        children,
        extended: { name: task.task, args: task.args, kwargs: task.kwargs, worker: this.deps.options.hostname, retries: task.retries, queue },
      });
    } catch (err) {
      // `cannot encode result of task <id>: meta.result.o cannot be sent as JSON (found Map)`: say where, and what.
      const detail = err instanceof InvalidMessageError ? /(?:body|meta)\.(.*) cannot be sent as JSON \((found .*)\)$/.exec(err.message) : null;
      const what = detail ? `${detail[2]} at ${detail[1]}` : errorSummary(err);
      return new EncodeError(`the ${status} result of task ${task.task}[${task.id}] cannot be sent as JSON: ${what}`, err);
    }
    const limit = this.deps.options.maxMessageBytes;
    if (encoded.sizeBytes > limit) return new MessageTooLargeError(`the ${status} result of task ${task.task}[${task.id}]`, encoded.sizeBytes, limit);
    return encoded;
  }

  /**
   * Stores a state of the task in the result backend (rpc://: publishes it to the caller's reply
   * queue and waits for the broker's confirm). Returns false only when the backend could not take
   * it: the message is then handed back, so the caller still gets a result from a redelivery. A
   * state the backend has nowhere to put (the reply queue is gone) is dropped, as Celery does.
   */
  private async sendResult(
    task: TaskMessage,
    queue: string,
    status: TaskStatus,
    result: unknown,
    traceback: string | null,
    log: TaskLog,
    slot: Slot,
    registered?: RegisteredTask,
    encoded?: EncodedResult,
    children?: readonly unknown[],
  ): Promise<boolean> {
    if (!this.wantsResult(task, registered)) return true;
    if (slot.abandoned) return false;
    let message = encoded ?? this.encodeResult(task, queue, status, result, traceback, children);
    if (message instanceof Error) {
      // An exception state whose own error cannot be sent (a huge message or traceback): say so instead.
      log.logger.warn({ status, err: message.message }, 'the result cannot be sent as it is; sending why instead');
      const fallback = this.encodeResult(task, queue, status === 'SUCCESS' ? 'FAILURE' : status, encodeError(message), null);
      if (fallback instanceof Error) return true;
      message = fallback;
    }
    try {
      await this.deps.results.store(message);
      return true;
    } catch (failed) {
      try {
        await this.deps.results.recover(failed, message, log.logger);
        return true;
      } catch (err) {
        return this.storeFailed(err, status, log);
      }
    }
  }

  /** A state the backend did not take: logged, and after a pause the message goes back (false). */
  private async storeFailed(err: unknown, status: TaskStatus, log: TaskLog): Promise<false> {
    log.logger.error({ err: (err as Error).message, status, backend: this.deps.results.display }, 'could not store the result; the message goes back to the queue');
    // A backend that refuses at once (too few replicas for waitReplicas) must not spin the message round.
    await pause();
    return false;
  }

  /**
   * `ctx.updateState(state, meta)`: a custom state (`PROGRESS`) stored as Celery's
   * `update_state` stores it, for whoever follows the task.
   */
  private async updateState(task: TaskMessage, queue: string, state: string, meta: unknown, log: TaskLog, slot: Slot, registered: RegisteredTask): Promise<void> {
    if (!this.wantsResult(task, registered) || slot.abandoned) return;
    const encoded = this.encodeResult(task, queue, state, meta ?? null, null);
    if (encoded instanceof Error) throw encoded;
    await this.deps.results.store(encoded).catch((err: unknown) => this.deps.results.recover(err, encoded, log.logger));
  }

  private wantsResult(task: TaskMessage, registered: RegisteredTask | undefined): boolean {
    return !task.ignoreResult && !registered?.options.ignoreResult && this.deps.results.accepts(task.replyTo);
  }

  /**
   * Runs a workflow step; on failure (the broker or the result backend did not take what it
   * sends) hands the delivery back after a pause and resolves undefined.
   */
  private async workflowStep<T>(delivery: Delivery, slot: Slot, log: TaskLog, what: string, step: () => Promise<T>): Promise<T | undefined> {
    if (slot.abandoned) return undefined;
    try {
      return await step();
    } catch (err) {
      log.logger.error({ err: (err as Error).message }, `could not send ${what}; the message goes back to the queue`);
      await pause();
      if (!slot.abandoned) settle(delivery, 'requeue');
      return undefined;
    }
  }

  /**
   * The workflow steps after a final state (chord part, a failed chain, errbacks); false when the
   * delivery was handed back. Called only for a message with a workflow: one without is settled
   * in the same turn its result is confirmed, as before.
   */
  private async finishWorkflow(delivery: Delivery, slot: Slot, task: TaskMessage, end: TaskEnd, log: TaskLog): Promise<boolean> {
    const done = await this.workflowStep(delivery, slot, log, 'what the workflow needs after the task (its chord part, errbacks)', async () => {
      await this.deps.workflow.finished(task, end, log.logger);
      return true;
    });
    return done === true;
  }

  /** Acks once the result is out, else hands the delivery back. False when the worker had let it go. */
  private finish(delivery: Delivery, slot: Slot, resultDelivered: boolean, log: TaskLog): boolean {
    if (slot.abandoned) return false;
    if (resultDelivered) this.ack(delivery, log);
    else settle(delivery, 'requeue');
    return resultDelivered;
  }

  private ack(delivery: Delivery, log: TaskLog): void {
    if (!settle(delivery, 'ack')) {
      log.logger.warn('could not ack: the channel closed meanwhile, so the broker will redeliver the message');
    }
  }
}

/** A short wait before handing a message back after a broker error, so it does not spin. */
function pause(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, HOLD_LIMIT_MS));
}


/** The identity of a task run for the recently-finished memo: queue, id and retries, from the v2 headers. */
function finishedKey(delivery: Delivery): string | undefined {
  const headers = delivery.message.properties.headers;
  const id: unknown = headers?.id;
  const retries: unknown = headers?.retries ?? 0;
  if (typeof id !== 'string' || typeof retries !== 'number') return undefined;
  return `${delivery.queue}\u0000${id}\u0000${retries}`;
}

/**
 * The keys of the last `size` additions: a ring of keys, and where each key last went in it. (A
 * `Set` trimmed through its iterator made an iterator and its result per task once full.)
 */
class RecentKeys {
  private readonly ring: Array<string | undefined>;
  private readonly slots = new Map<string, number>();
  private next = 0;

  constructor(size: number) {
    this.ring = new Array<string | undefined>(size).fill(undefined);
  }

  add(key: string): void {
    const old = this.ring[this.next];
    // A key added again since it went into this slot lives on in its newer one.
    if (old !== undefined && this.slots.get(old) === this.next) this.slots.delete(old);
    this.ring[this.next] = key;
    this.slots.set(key, this.next);
    this.next = (this.next + 1) % this.ring.length;
  }

  has(key: string): boolean {
    return this.slots.has(key);
  }
}
