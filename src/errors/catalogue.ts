import { formatBytes } from '../util/format-bytes';
import { WarrenError } from './warren-error';

/** One problem found in the definitions, located by file and path inside it. */
export interface DefinitionProblem {
  /** The file the offending value came from (as given, relative where it was relative). */
  file: string;
  /** Where in that file: `queues[2].type`, `routes["app1.*"].queue`. Empty for the whole document. */
  path: string;
  /** What is wrong, with what was expected in parentheses. */
  message: string;
}

export function formatProblem(problem: DefinitionProblem): string {
  return problem.path
    ? `${problem.file}: ${problem.path}: ${problem.message}`
    : `${problem.file}: ${problem.message}`;
}

/** The definitions are invalid. Holds every problem found, not just the first. */
export class DefinitionsError extends WarrenError {
  readonly problems: readonly DefinitionProblem[];

  constructor(problems: readonly DefinitionProblem[]) {
    const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
    super(
      'WARREN_INVALID_DEFINITIONS',
      `invalid definitions (${count}):\n${problems.map((p) => `  ${formatProblem(p)}`).join('\n')}`,
    );
    this.problems = Object.freeze([...problems]);
  }
}

/** A task name, or an explicit queue/exchange override, resolved to no place. */
export class RouteNotFoundError extends WarrenError {
  constructor(message: string) {
    super('WARREN_ROUTE_NOT_FOUND', message);
  }
}

/** A queue name (from `-Q`, a route override or a schedule entry) that the definitions do not declare. */
export class UnknownQueueError extends WarrenError {
  readonly queue: string;
  readonly declared: readonly string[];

  constructor(queue: string, declared: readonly string[]) {
    super(
      'WARREN_UNKNOWN_QUEUE',
      `unknown queue "${queue}" (declared queues: ${declared.join(', ') || 'none'})`,
    );
    this.queue = queue;
    this.declared = declared;
  }
}

/**
 * The live broker holds an exchange or queue declared with other settings (406 PRECONDITION_FAILED).
 * Names the object and, where the broker said, the argument that differs.
 */
export class TopologyMismatchError extends WarrenError {
  readonly kind: 'queue' | 'exchange';
  readonly objectName: string;
  readonly argument: string | undefined;

  constructor(kind: 'queue' | 'exchange', objectName: string, argument: string | undefined, detail: string, cause?: unknown) {
    super(
      'WARREN_TOPOLOGY_MISMATCH',
      `${kind} "${objectName}" exists on the broker with other settings` +
        (argument ? ` (argument ${argument} differs)` : '') +
        `: ${detail}`,
      { cause },
    );
    this.kind = kind;
    this.objectName = objectName;
    this.argument = argument;
  }
}

/** Why one attempt to connect to one broker address failed. */
export type ConnectCause =
  /** Nothing listens there (ECONNREFUSED). */
  | 'refused'
  /** No route to the host, or its name does not resolve (EHOSTUNREACH, ENETUNREACH, ENOTFOUND, EAI_AGAIN). */
  | 'unreachable'
  /** TCP connect and AMQP handshake did not finish within the handshake timeout. */
  | 'timeout'
  /** The broker refused the user name or password (403 ACCESS_REFUSED). */
  | 'auth'
  /** The broker refused the virtual host: it does not exist, or the user may not use it (530 NOT_ALLOWED). */
  | 'vhost'
  /** The TLS handshake failed, or the broker's certificate was not accepted. */
  | 'tls'
  /** The connection closed or was reset during the handshake. */
  | 'closed'
  | 'other';

/** One broker address a connect tried, and why it failed. */
export interface ConnectAttempt {
  /** The address, password masked. */
  readonly broker: string;
  readonly cause: ConnectCause;
  /** What happened, in words: `authentication refused for user "guest" (403 ACCESS_REFUSED - ...)`. */
  readonly reason: string;
}

/**
 * The broker could not be reached, or did not confirm in time. When a connect failed,
 * `attempts` holds each address tried and why it failed; the subclasses below say that every
 * address answered and refused, for a reason that trying again will not change.
 */
export class BrokerUnavailableError extends WarrenError {
  /** The code of this class's errors; each subclass has its own. */
  static readonly errorCode: string = 'WARREN_BROKER_UNAVAILABLE';
  /** Each broker address a failed connect tried, in order (empty for other failures). */
  readonly attempts: readonly ConnectAttempt[];

  constructor(message: string, cause?: unknown, attempts: readonly ConnectAttempt[] = []) {
    super((new.target as typeof BrokerUnavailableError).errorCode, message, { cause });
    this.attempts = Object.freeze([...attempts]);
  }
}

/** Every broker address refused the user name or password (403 ACCESS_REFUSED). */
export class BrokerAuthError extends BrokerUnavailableError {
  static override readonly errorCode: string = 'WARREN_BROKER_AUTH';
}

/** Every broker address refused the virtual host: it does not exist, or the user may not use it. */
export class BrokerVhostError extends BrokerUnavailableError {
  static override readonly errorCode: string = 'WARREN_BROKER_VHOST';
}

/** The TLS handshake with every broker address failed, or its certificate was not accepted. */
export class BrokerTlsError extends BrokerUnavailableError {
  static override readonly errorCode: string = 'WARREN_BROKER_TLS';
}

/** A published message matched no binding (returned under `mandatory`). */
export class UnroutableError extends WarrenError {
  readonly exchange: string;
  readonly routingKey: string;

  constructor(exchange: string, routingKey: string, reply: string) {
    super(
      'WARREN_UNROUTABLE',
      `message to exchange "${exchange || '(default)'}" with routing key "${routingKey}" was returned unroutable by the broker (${reply})`,
    );
    this.exchange = exchange;
    this.routingKey = routingKey;
  }
}

/** What the broker refused, when it nacked a publish until its deadline. */
export interface PublishRejection {
  /** The node that nacked it last (its URL, password masked). */
  readonly node: string | undefined;
  readonly exchange: string;
  readonly routingKey: string;
  /** How many times the broker nacked it, and on how many channels. */
  readonly nacks: number;
  readonly channels: number;
}

/**
 * The broker refused a publish: it nacked every attempt until `publishTimeoutMs` (`rejection`
 * says where and how often), or the channel could not encode it.
 */
export class PublishRejectedError extends WarrenError {
  readonly rejection: PublishRejection | undefined;

  constructor(message: string, cause?: unknown, rejection?: PublishRejection) {
    super('WARREN_PUBLISH_REJECTED', message, { cause });
    this.rejection = rejection;
  }
}

/** A message that cannot be a task: bad JSON, wrong content type, wrong body shape, missing headers. */
export class InvalidMessageError extends WarrenError {
  constructor(message: string, cause?: unknown) {
    super('WARREN_INVALID_MESSAGE', message, { cause });
  }
}

/**
 * A message larger than the maximum message size: `sendTask` refuses to publish it, and a
 * worker dead-letters one it receives without parsing it.
 */
export class MessageTooLargeError extends WarrenError {
  readonly sizeBytes: number;
  readonly limitBytes: number;

  /** @param what - the message, as the text starts: `task app1.add[<id>]`. */
  constructor(what: string, sizeBytes: number, limitBytes: number) {
    super(
      'WARREN_MESSAGE_TOO_LARGE',
      `${what}: the message body is ${formatBytes(sizeBytes)} (${sizeBytes} bytes), over the maximum message size of ` +
        `${formatBytes(limitBytes)} (${limitBytes} bytes); pass large data by reference, or raise maxMessageBytes (--max-message-size)`,
    );
    this.sizeBytes = sizeBytes;
    this.limitBytes = limitBytes;
  }
}

/** A task message named a task this worker has no handler for. */
export class TaskNotRegisteredError extends WarrenError {
  readonly taskName: string;

  constructor(taskName: string) {
    super('WARREN_TASK_NOT_REGISTERED', `task "${taskName}" is not registered`);
    this.taskName = taskName;
  }
}

/** The remote task failed; carries the type, message and traceback that the worker reported. */
export class TaskFailedError extends WarrenError {
  readonly taskId: string;
  readonly remoteType: string;
  readonly remoteModule: string | undefined;
  readonly remoteMessage: string;
  readonly traceback: string | null;

  constructor(taskId: string, remoteType: string, remoteModule: string | undefined, remoteMessage: string, traceback: string | null) {
    super('WARREN_TASK_FAILED', `task ${taskId} failed: ${remoteType}: ${remoteMessage}`);
    this.taskId = taskId;
    this.remoteType = remoteType;
    this.remoteModule = remoteModule;
    this.remoteMessage = remoteMessage;
    this.traceback = traceback;
  }
}

/** No result arrived within the timeout of `AsyncResult.get` (by default the app's `resultTimeoutMs`). */
export class ResultTimeoutError extends WarrenError {
  readonly taskId: string;
  readonly timeoutMs: number;

  /** @param detail - why it may not have come, or where the timeout came from; in parentheses. */
  constructor(taskId: string, timeoutMs: number, detail?: string) {
    super('WARREN_RESULT_TIMEOUT', `no result for task ${taskId} within ${timeoutMs} ms` + (detail ? ` (${detail})` : ''));
    this.taskId = taskId;
    this.timeoutMs = timeoutMs;
  }
}

/**
 * The app (or a connection, a store) is closed: after `app.close()` every call rejects with it,
 * and so do the `get()`s that were waiting. `cause` is set when a call was under way at close.
 */
export class ClosedError extends WarrenError {
  constructor(message: string, cause?: unknown) {
    super('WARREN_CLOSED', message, { cause });
  }
}

/** A tasks module given to `-A` could not be loaded or exports no app. */
export class AppLoadError extends WarrenError {
  constructor(message: string, cause?: unknown) {
    super('WARREN_APP_LOAD', message, { cause });
  }
}

/** A command-line argument or library option that is not valid. */
export class UsageError extends WarrenError {
  constructor(message: string) {
    super('WARREN_USAGE', message);
  }
}

/** The task was revoked or expired before it ran. */
export class TaskRevokedError extends WarrenError {
  readonly taskId: string;

  constructor(taskId: string, reason: string) {
    super('WARREN_TASK_REVOKED', `task ${taskId} was revoked: ${reason}`);
    this.taskId = taskId;
  }
}

/**
 * A control signal, not a failure: the task asked to run again later (`ctx.retry()`), or threw
 * an error its `autoretryFor` lists. The worker publishes the next attempt, reports RETRY and
 * acks; a task never sees it as a result. Let it propagate: a handler that catches it cancels
 * the retry.
 */
export class Retry extends WarrenError {
  /** Seconds until the next attempt; the task's retry policy decides when absent. */
  readonly countdown: number | undefined;
  /** The time of the next attempt (instead of `countdown`). */
  readonly eta: Date | undefined;
  /** The retries allowed, instead of the task's `retry.max`. */
  readonly max: number | undefined;

  constructor(options: { countdown?: number; eta?: Date; error?: unknown; max?: number } = {}) {
    const when = options.eta ? `at ${options.eta.toISOString()}` : options.countdown !== undefined ? `in ${options.countdown}s` : 'later';
    const reason = options.error === undefined ? '' : `: ${describeError(options.error)}`;
    super('WARREN_RETRY', `retry ${when}${reason}`, { cause: options.error });
    this.countdown = options.countdown;
    this.eta = options.eta;
    this.max = options.max;
  }
}

/** A task kept failing (or asking to retry) after its last allowed retry. Its `cause` is the last error. */
export class MaxRetriesExceededError extends WarrenError {
  readonly taskName: string;
  readonly taskId: string;
  readonly retries: number;

  constructor(taskName: string, taskId: string, retries: number, cause: unknown) {
    const reason = cause === undefined ? '' : `: ${describeError(cause)}`;
    super('WARREN_MAX_RETRIES_EXCEEDED', `task ${taskName}[${taskId}] gave up after ${retries} ${retries === 1 ? 'retry' : 'retries'}${reason}`, { cause });
    this.taskName = taskName;
    this.taskId = taskId;
    this.retries = retries;
  }
}

/** `Name: message` of an error, or the text of anything else thrown. */
function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return typeof error === 'string' ? error : JSON.stringify(error) ?? String(error);
}

/**
 * A task ran past its hard time limit: the worker stopped waiting for it, recorded this as its
 * FAILURE, acked its message and freed its slot. JavaScript cannot stop a running function, so
 * the task's AbortSignal is aborted too; whatever the task does after that is ignored.
 */
export class TimeLimitExceededError extends WarrenError {
  readonly taskName: string;
  readonly seconds: number;

  constructor(taskName: string, seconds: number) {
    super('WARREN_TIME_LIMIT', `task ${taskName} exceeded its time limit of ${seconds} s`);
    this.taskName = taskName;
    this.seconds = seconds;
  }
}

/** The reason a task's AbortSignal carries when its soft time limit passes: finish up, or stop. */
export class SoftTimeLimitExceededError extends WarrenError {
  readonly taskName: string;
  readonly seconds: number;

  constructor(taskName: string, seconds: number) {
    super('WARREN_SOFT_TIME_LIMIT', `task ${taskName} exceeded its soft time limit of ${seconds} s`);
    this.taskName = taskName;
    this.seconds = seconds;
  }
}

/**
 * A schedule store could not be read or written: a state file that is not warren's JSON, a
 * lock file held too long, a database that refused a query. The message names the file or
 * the database (password masked).
 */
export class ScheduleStoreError extends WarrenError {
  constructor(message: string, cause?: unknown) {
    super('WARREN_SCHEDULE_STORE', message, { cause });
  }
}

/**
 * A worker's state file (`--statedb`, `stateDb`), which keeps revoked task ids across restarts,
 * could not be read (not warren's JSON, unreadable) or written. The message names the file.
 */
export class StateDbError extends WarrenError {
  constructor(message: string, cause?: unknown) {
    super('WARREN_STATE_DB', message, { cause });
  }
}

/**
 * No worker replied to a remote control command within its timeout (`warren inspect`,
 * `warren control`, `warren status`): none runs on this broker and virtual host, the named
 * ones do not exist, or they were too busy to answer in time.
 */
export class NoReplyError extends WarrenError {
  constructor(message: string) {
    super('WARREN_NO_REPLY', message);
  }
}

/**
 * A worker's metrics server (`metricsPort`, `--metrics-port`) could not start: the package
 * `prom-client` is not installed, or the address cannot be listened on (in use, not allowed).
 */
export class MetricsError extends WarrenError {
  constructor(message: string, cause?: unknown) {
    super('WARREN_METRICS', message, { cause });
  }
}

// --- events, closing, results (app and result backend) ---

/**
 * A listener of a Worker or Beat event threw (or its promise rejected). warren caught it so
 * that it changes nothing in what warren was doing, and emitted it as `error` (or logged it
 * where nobody listens for `error`). `event` names the event; `cause` is what the listener threw.
 */
export class ListenerError extends WarrenError {
  readonly event: string;

  constructor(event: string, cause: unknown) {
    super('WARREN_LISTENER_ERROR', `a listener of the "${event}" event threw: ${describeError(cause)}`, { cause });
    this.event = event;
  }
}

/**
 * The result of a task is no longer followed, so `get()` cannot wait for it: `forget()` was
 * called, or the app dropped it from tracking (more results followed at once than
 * `maxTrackedResults`, or timed out long ago). The message says which.
 */
export class ResultForgottenError extends WarrenError {
  readonly taskId: string;

  constructor(taskId: string, reason: string) {
    super('WARREN_RESULT_FORGOTTEN', `the result of task ${taskId} is no longer followed: ${reason}`);
    this.taskId = taskId;
  }
}

// --- worker: what a task's run can end in besides its own error ---

/**
 * A task returned a value JSON cannot carry (a BigInt, a function, a Map or Set, a circular
 * structure...). The task's result is this FAILURE, as kombu's `EncodeError` is for Celery, so
 * the caller learns why instead of waiting for a result that never comes.
 */
export class EncodeError extends WarrenError {
  constructor(message: string, cause?: unknown) {
    super('WARREN_ENCODE', message, { cause });
  }
}

/**
 * Task code called `process.exit()` while the worker was running it. A task cannot end its
 * worker (that would take every other running task down, and a supervisor would read status 0
 * as a clean stop): the call throws this instead, inside the task, as Python's `sys.exit()`
 * raises `SystemExit`, and the task is a FAILURE.
 */
export class ProcessExitError extends WarrenError {
  readonly exitCode: number | undefined;

  constructor(taskName: string, exitCode: number | undefined) {
    super('WARREN_PROCESS_EXIT', `task ${taskName} called process.exit(${exitCode ?? ''}); a task cannot end its worker, so the task failed instead`);
    this.exitCode = exitCode;
  }
}

/**
 * The pool process running a task ended before the task did (`--pool process`): it crashed,
 * called `process.exit()`, or was killed (by the kernel's OOM killer, or by hand). The task is
 * FAILURE with this error, or handed back to the broker when it sets `rejectOnWorkerLost`.
 * Celery's `WorkerLostError`.
 */
export class WorkerLostError extends WarrenError {
  readonly taskName: string;
  readonly pid: number | undefined;
  readonly exitCode: number | null;
  readonly signal: string | null;

  constructor(taskName: string, pid: number | undefined, exitCode: number | null, signal: string | null) {
    const how = signal ? `was killed by ${signal}` : `exited with code ${exitCode ?? 'unknown'}`;
    super('WARREN_WORKER_LOST', `task ${taskName} lost its pool process (pid ${pid ?? 'unknown'}), which ${how} before the task finished`);
    this.taskName = taskName;
    this.pid = pid;
    this.exitCode = exitCode;
    this.signal = signal;
  }
}

// --- result backends and workflows ---

/**
 * A result backend could not do what was asked: the package it needs is not installed, its
 * server did not answer in time, it refused a command, or it did not confirm a store on the
 * replicas asked for (`waitReplicas`). The message names the backend (password masked).
 */
export class ResultBackendError extends WarrenError {
  constructor(message: string, cause?: unknown) {
    super('WARREN_RESULT_BACKEND', message, { cause });
  }
}

/**
 * A chord was asked of a result backend that cannot count its parts: `rpc://` keeps no state
 * between tasks, so nothing could tell the last header task that it is the last. Celery refuses
 * chords on `rpc://` the same way. Use a `redis://` result backend.
 */
export class ChordUnsupportedError extends WarrenError {
  constructor(backend: string) {
    super(
      'WARREN_CHORD_UNSUPPORTED',
      `the ${backend} result backend does not support chords: a chord needs a backend that counts its header's results ` +
        '(redis://, rediss:// or redis+cluster://); a group chained to a task is a chord too',
    );
  }
}
