import type { Logger } from '../logging/logger';
import type { TaskStatus } from '../protocol';

/** One state of one task, as a worker reports it to the result backend. */
export interface ResultRecord {
  taskId: string;
  status: TaskStatus;
  /** The return value, a custom state's meta, or the encoded error of an exception state. */
  result: unknown;
  traceback: string | null;
  /** The caller's reply queue (rpc://), null when the message named none. */
  replyTo: string | null;
  /** The request's correlation id (rpc://). */
  correlationId: string;
  parentId: string | null;
  groupId: string | null;
  /** The tasks this one sent (callbacks, the next step of its chain), as Celery's `[[id, null], null]`. */
  children?: readonly unknown[];
  /** Celery's extended result fields (null where unknown: a chain step failed before it was sent). */
  extended: { name: string; args: readonly unknown[]; kwargs: Readonly<Record<string, unknown>>; worker: string; retries?: number; queue?: string };
}

/** A record encoded for its backend, with its size for the worker's `maxMessageBytes` check. */
export interface EncodedResult {
  readonly sizeBytes: number;
  readonly taskId: string;
  readonly status: TaskStatus;
}

/** What became of a store. */
export type StoreOutcome = 'stored' | 'dropped';

/**
 * Where a worker puts task states: `rpc://` publishes them to the caller's reply queue, Redis
 * stores them under `celery-task-meta-<id>`. The app gives the worker the one its
 * `resultBackend` names.
 */
export interface ResultStore {
  /** The backend, for logs: `rpc://`, `redis://:***@host:6379/0`. */
  readonly display: string;
  /** Whether a task sent with this reply queue gets a result at all (rpc:// needs one; Redis stores regardless). */
  accepts(replyTo: string | null): boolean;
  /** @throws InvalidMessageError for what JSON cannot carry, naming where. */
  encode(record: ResultRecord): EncodedResult;
  /**
   * Stores an encoded state; resolves once it is stored. A rejection goes to {@link recover}.
   * (Kept to the store itself, so a worker settles its message in the turn the broker or Redis
   * confirmed the state, as a worker without workflows always did.)
   */
  store(encoded: EncodedResult): Promise<unknown>;
  /**
   * What a failed store comes to: resolves `stored` (tried again, and it took), or `dropped` when
   * the backend has nowhere to put it and never will (the caller's reply queue is gone); rejects
   * when it could not store it now (the backend is unreachable): the worker then hands the
   * message back, so the state is stored by a later run.
   */
  recover(error: unknown, encoded: EncodedResult, log: Logger): Promise<StoreOutcome>;
}
