import type { Logger } from '../logging/logger';

/** The fields every line about one task carries. */
export interface TaskLogFields {
  queue: string;
  task: string;
  taskId: string;
}

/**
 * Where the lines about one task go: a child of the worker's logger with the task's fields,
 * made when first needed. Most tasks log one line, `task succeeded`, which {@link succeeded}
 * writes through the worker's logger with the same fields: a child logger per task (its bindings
 * serialized, its object kept until the task ends) was a noticeable part of what a no-op task cost.
 */
export class TaskLog {
  private child: Logger | undefined;

  constructor(
    private readonly parent: Logger,
    readonly fields: TaskLogFields,
  ) {}

  /** The task's own logger (`ctx.logger`, and every line but the success line). */
  get logger(): Logger {
    if (!this.child) this.child = this.parent.child(this.fields);
    return this.child;
  }

  /** A `debug` line: below the level, nothing is made (a worker at `info` says `task started` per task to no one). */
  debug(msg: string, fields?: object): void {
    if (!this.child && !this.parent.isLevelEnabled('debug')) return;
    if (fields) this.logger.debug(fields, msg);
    else this.logger.debug(msg);
  }

  /** `task succeeded` at `info`, the same line the task's logger would write. */
  succeeded(runtimeMs: number | undefined): void {
    if (this.child) {
      this.child.info({ state: 'SUCCESS', runtimeMs }, 'task succeeded');
      return;
    }
    if (!this.parent.isLevelEnabled('info')) return;
    const { queue, task, taskId } = this.fields;
    this.parent.info({ queue, task, taskId, state: 'SUCCESS', runtimeMs }, 'task succeeded');
  }
}
