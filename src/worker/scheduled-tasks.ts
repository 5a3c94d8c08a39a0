import type { TaskMessage } from '../protocol';

/** A task this worker sent into the broker's delay levels, waiting for its `eta`. */
export interface ScheduledTask {
  readonly task: TaskMessage;
  /** The queue it comes back to. */
  readonly queue: string;
  readonly eta: Date;
}

/** Kept at most; the oldest go first. */
const MAX_SCHEDULED = 10_000;
/** An entry this long past its eta has come back to some worker (or was lost with its queue). */
const STALE_AFTER_MS = 60_000;

/**
 * The tasks waiting for their `eta` that this worker knows of, for `inspect scheduled`. A
 * Celery worker holds such tasks in its own memory; warren's live in the broker (the delay
 * levels) and come back to the queue when due, to whichever worker consumes it. So this is a
 * record, not a hold: the tasks this worker moved into the delay levels (early arrivals and
 * retries), forgotten when one comes back here, when it is a minute past its eta (another
 * worker got it), or past 10,000 entries.
 */
export class ScheduledTasks {
  private readonly entries = new Map<string, ScheduledTask>();

  add(task: TaskMessage, queue: string, eta: Date): void {
    this.entries.delete(task.id);
    this.entries.set(task.id, { task, queue, eta });
    if (this.entries.size > MAX_SCHEDULED) this.entries.delete(this.entries.keys().next().value as string);
  }

  /** The task arrived again (or is otherwise settled here). */
  remove(taskId: string): void {
    this.entries.delete(taskId);
  }

  /** Entries still waiting (or just due), soonest first. */
  list(now = Date.now()): ScheduledTask[] {
    for (const [id, entry] of this.entries) if (entry.eta.getTime() + STALE_AFTER_MS < now) this.entries.delete(id);
    return [...this.entries.values()].sort((a, b) => a.eta.getTime() - b.eta.getTime());
  }
}
