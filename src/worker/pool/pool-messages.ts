import type { AmqpProperties } from '../../protocol';
import type { WireError } from './wire-error';

/**
 * The messages between a worker and its pool processes (Node's IPC channel, JSON). A task's
 * body goes to the child as the bytes that came off the wire, and its result comes back as
 * kombu JSON text, so arguments and results cross the process boundary exactly as they cross
 * the broker, and a task behaves the same in both pools.
 */

/** The first message to a child: what to load and how to log. */
export interface InitMessage {
  type: 'init';
  /** The tasks module, as given to `-A` (resolved from the worker's working directory). */
  module: string;
  hostname: string;
  /** The worker's pid: a child whose parent is no longer this process ends itself. */
  parentPid: number;
  logLevel: string;
  /**
   * What the worker's app was configured with beyond its module (`--definitions`, `--broker`,
   * `--result-backend`): the child's app gets the same, so a task that sends tasks sends them
   * where the worker's would.
   */
  configure: PoolAppOverrides;
}

export interface PoolAppOverrides {
  definitions?: string;
  brokerUrl?: string;
  resultBackend?: string;
  scheduleStore?: string;
}

export interface RunMessage {
  type: 'run';
  runId: number;
  /** The message body, base64. */
  content: string;
  properties: AmqpProperties;
  queue: string;
  redelivered: boolean;
  /** Seconds; the child aborts the task's signal then. The hard limit is the worker's. */
  softTimeLimit: number | undefined;
}

/** The worker stored a state the child's task reported (`updateState`, `progress`), or could not. */
export interface StateDoneMessage {
  type: 'state-done';
  seq: number;
  error?: string;
}

/** Finish, and exit (recycling, shutdown). */
export interface ExitMessage {
  type: 'exit';
}

export type ToChild = InitMessage | RunMessage | StateDoneMessage | ExitMessage;

export interface ReadyMessage {
  type: 'ready';
  pid: number;
}

export interface LoadFailedMessage {
  type: 'load-failed';
  /** The module's error: its message and stack. */
  message: string;
  stack: string | undefined;
}

/** A state the task reported, for the worker to store. */
export interface StateMessage {
  type: 'state';
  runId: number;
  seq: number;
  state: string;
  /** kombu JSON of the meta. */
  meta: string;
}

/** How a run ended in the child. */
export type WireEnd =
  | { kind: 'returned'; json: string }
  /** The task returned what JSON cannot carry: why, e.g. `found Map at o`. */
  | { kind: 'unsendable'; reason: string }
  | { kind: 'threw' | 'escaped'; error: WireError };

export interface EndMessage {
  type: 'end';
  runId: number;
  end: WireEnd;
  /** The child's resident set size after the run, in bytes (for `maxMemoryPerChild`). */
  rss: number;
}

export type FromChild = ReadyMessage | LoadFailedMessage | StateMessage | EndMessage;
