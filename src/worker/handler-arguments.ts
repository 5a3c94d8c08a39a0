import type { RegisteredTask, TaskContext } from './task-types';

/**
 * The parameters a task's handler is called with, from the message's args and kwargs: the
 * context first when the task is bound; then the args; then the kwargs, placed by name where
 * the task names its parameters (`params`, as Python places keyword arguments), else as one
 * trailing object when there are any. The context has this one place whatever the message
 * carries.
 *
 * @throws TypeError, with Python's wording, for a kwarg that names no parameter or one that
 * the args already gave: the task fails with it, as a Python task would.
 */
export function handlerArguments(
  task: Pick<RegisteredTask, 'name' | 'options'>,
  args: readonly unknown[],
  kwargs: Readonly<Record<string, unknown>>,
  context: TaskContext,
): unknown[] {
  const { bind, params } = task.options;
  const names = Object.keys(kwargs);
  let positional: unknown[];
  if (params === undefined) {
    positional = names.length > 0 ? [...args, kwargs] : [...args];
  } else {
    positional = [...args];
    for (const name of names) {
      const index = params.indexOf(name);
      if (index < 0) throw new TypeError(`${task.name}() got an unexpected keyword argument '${name}'`);
      if (index < args.length) throw new TypeError(`${task.name}() got multiple values for argument '${name}'`);
      while (positional.length < index) positional.push(undefined);
      positional[index] = kwargs[name];
    }
  }
  return bind ? [context, ...positional] : positional;
}
