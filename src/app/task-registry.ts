import { UsageError } from '../errors';
import { checkTaskOptions, type RegisteredTask, type TaskHandler, type TaskLookup, type TaskOptions } from '../worker';

/** The tasks an app defines, by name. A name is registered once. */
export class TaskRegistry implements TaskLookup {
  private readonly tasks = new Map<string, RegisteredTask>();

  register(name: string, handler: TaskHandler, options: TaskOptions = {}): RegisteredTask {
    if (typeof name !== 'string' || name.length === 0) throw new UsageError('a task name must be a non-empty string');
    if (typeof handler !== 'function') throw new UsageError(`task "${name}": the handler must be a function`);
    if (this.tasks.has(name)) throw new UsageError(`task "${name}" is already registered`);
    checkTaskOptions(name, options);
    const task: RegisteredTask = Object.freeze({ name, handler, options: Object.freeze({ ...options }) });
    this.tasks.set(name, task);
    return task;
  }

  get(name: string): RegisteredTask | undefined {
    return this.tasks.get(name);
  }

  names(): string[] {
    return [...this.tasks.keys()].sort();
  }
}
