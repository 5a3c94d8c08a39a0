import { ResultTimeoutError, TaskFailedError, TaskRevokedError, UsageError } from '../errors';

export type ResultState = 'PENDING' | 'RECEIVED' | 'STARTED' | 'RETRY' | 'FAILURE' | 'SUCCESS' | 'REVOKED';

const READY: ReadonlySet<ResultState> = new Set(['SUCCESS', 'FAILURE', 'REVOKED']);

/** What a result message said, already decoded. */
export interface ResultUpdate {
  state: ResultState;
  /** The return value for SUCCESS; the encoded error for FAILURE, RETRY and REVOKED. */
  result: unknown;
  traceback: string | null;
  dateDone: Date | null;
  /** The node that ran the task, where the worker reported it (Celery's extended result `worker`). */
  worker?: string;
  /** The queue the task came from, where reported (extended result `queue`). */
  queue?: string;
}

/** The remote error as the worker encoded it (Celery's `exc_type` / `exc_message` / `exc_module`). */
export interface RemoteError {
  type: string;
  module: string | undefined;
  message: string;
}

export interface GetOptions {
  /** Milliseconds to wait for a ready state. @defaultValue no limit */
  timeout?: number;
}

/**
 * The caller's view of a task it sent. `state` starts PENDING and follows the result messages
 * that arrive on the caller's reply queue; `get()` waits for SUCCESS, FAILURE or REVOKED.
 */
export class AsyncResult<T = unknown> {
  private current: ResultUpdate = { state: 'PENDING', result: null, traceback: null, dateDone: null };
  private readonly waiters = new Set<() => void>();
  private readonly seen: ResultState[] = ['PENDING'];

  constructor(
    readonly id: string,
    private readonly decodeError: (encoded: unknown) => RemoteError,
    private readonly ignored = false,
  ) {}

  /** A result that will never come: the task was sent with `ignoreResult`. */
  static ignored<T>(id: string): AsyncResult<T> {
    return new AsyncResult<T>(id, () => ({ type: 'Ignored', module: undefined, message: '' }), true);
  }

  get state(): ResultState {
    return this.current.state;
  }

  /** Every state this result went through, in the order the messages arrived, from PENDING. */
  get history(): readonly ResultState[] {
    return this.seen;
  }

  get ready(): boolean {
    return READY.has(this.current.state);
  }

  /** The finish time the worker reported, once ready. */
  get dateDone(): Date | null {
    return this.current.dateDone;
  }

  /** The worker node that reported the latest state, e.g. `warren@host`. */
  get worker(): string | undefined {
    return this.current.worker;
  }

  /** The queue the task was consumed from, as the worker reported it. */
  get queue(): string | undefined {
    return this.current.queue;
  }

  /** @internal Called by the result backend for each result message of this task. */
  update(update: ResultUpdate): void {
    if (this.ready) return; // a ready state is final; late STARTED/RETRY messages change nothing
    this.current = update;
    if (this.seen.at(-1) !== update.state) this.seen.push(update.state);
    for (const wake of [...this.waiters]) wake();
  }

  /** Resolves to the task's return value; rejects with TaskFailedError, TaskRevokedError or ResultTimeoutError. */
  async get(options: GetOptions = {}): Promise<T> {
    if (this.ignored) throw new UsageError(`task ${this.id} was sent with ignoreResult: no result will come back`);
    if (!this.ready) await this.waitReady(options.timeout);
    return this.settle();
  }

  private waitReady(timeout: number | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const wake = (): void => {
        if (!this.ready) return;
        this.waiters.delete(wake);
        if (timer) clearTimeout(timer);
        resolve();
      };
      this.waiters.add(wake);
      if (timeout !== undefined) {
        timer = setTimeout(() => {
          this.waiters.delete(wake);
          reject(new ResultTimeoutError(this.id, timeout));
        }, timeout);
      }
    });
  }

  private settle(): T {
    const { state, result, traceback } = this.current;
    if (state === 'SUCCESS') return result as T;
    const remote = this.decodeError(result);
    if (state === 'REVOKED') throw new TaskRevokedError(this.id, remote.message || remote.type);
    throw new TaskFailedError(this.id, remote.type, remote.module, remote.message, traceback);
  }
}
