import { ResultTimeoutError, UsageError } from '../errors';
import type { AsyncResult, GetOptions, RevokeOptions } from './async-result';

/** A member of a group: a task's result, or a nested group's. */
export type GroupMember = AsyncResult | GroupResult;

/**
 * The results of a group's tasks (Celery's `GroupResult`), in the group's order. `get()` waits
 * for all of them and resolves to the list of their values; a task that failed rejects it with
 * its error (the first failure in the group's order), as Celery's `get()` propagates it.
 */
export class GroupResult<R extends unknown[] = unknown[]> {
  /** The chain step before the group, when it is a step of one. */
  parent: AsyncResult | GroupResult | undefined;

  /** @internal Made by the app: a group's or a chord header's `apply()`, or `app.groupResult()`. */
  constructor(
    readonly id: string,
    readonly results: readonly GroupMember[],
  ) {}

  /** How many members are ready (SUCCESS, FAILURE or REVOKED). */
  get completedCount(): number {
    return this.results.filter((member) => member.ready).length;
  }

  /** Every member is ready. */
  get ready(): boolean {
    return this.results.every((member) => member.ready);
  }

  /** Every member succeeded. */
  get successful(): boolean {
    return this.results.every((member) => (member instanceof GroupResult ? member.successful : member.state === 'SUCCESS'));
  }

  /** Some member failed. */
  get failed(): boolean {
    return this.results.some((member) => (member instanceof GroupResult ? member.failed : member.state === 'FAILURE'));
  }

  /**
   * The members' values in the group's order, once every one is ready; `timeout` bounds the
   * whole wait (by default the app's `resultTimeoutMs` for each member in turn).
   */
  async get(options: GetOptions = {}): Promise<R> {
    const { timeout } = options;
    if (timeout !== undefined && (typeof timeout !== 'number' || Number.isNaN(timeout) || timeout < 0)) {
      throw new UsageError(`get() timeout must be a number of milliseconds, 0 or more, or Infinity for no limit (got ${String(timeout)})`);
    }
    const deadline = timeout === undefined ? undefined : Date.now() + timeout;
    // Every member waits at once, so none is timed out while an earlier one holds the line.
    const waits = this.results.map((member) => {
      const left = deadline === undefined ? undefined : Math.max(0, deadline - Date.now());
      const wait = member.get(left === undefined ? {} : { timeout: left === Infinity ? Infinity : left });
      wait.catch(() => undefined);
      return wait;
    });
    const values: unknown[] = [];
    for (const wait of waits) {
      try {
        values.push(await wait);
      } catch (err) {
        if (err instanceof ResultTimeoutError && timeout !== undefined) {
          throw new ResultTimeoutError(this.id, timeout, `${this.completedCount} of ${this.results.length} results of the group were ready`);
        }
        throw err;
      }
    }
    return values as R;
  }

  /** Revokes every member's task (see `AsyncResult.revoke()`), as Celery's `GroupResult.revoke()`. */
  async revoke(options: RevokeOptions = {}): Promise<void> {
    await Promise.all(this.results.map((member) => member.revoke(options)));
  }

  /** Forgets every member (see `AsyncResult.forget()`). */
  async forget(): Promise<void> {
    await Promise.all(this.results.map((member) => member.forget()));
  }
}
