import { DefinitionsError, formatProblem } from '../../../src/errors';
import { resolveDefinitions, type Definitions, type DefinitionsOptions } from '../../../src/config';

export const FILE = 'definitions/warren.yaml';

/** A valid document like the design's example; each call returns a fresh copy to patch. */
export function example(): Record<string, unknown> {
  return {
    exchanges: [
      { name: 'default', type: 'direct' },
      { name: 'for_task1', type: 'direct' },
      { name: 'for_task2', type: 'direct' },
    ],
    queues: [
      { name: 'default', exchange: 'default', routingKey: 'default' },
      { name: 'for_task1', exchange: 'for_task1', routingKey: 'task_a' },
      { name: 'for_task2', exchange: 'for_task2', routingKey: 'task_b', type: 'quorum' },
    ],
    defaultQueue: 'default',
    routes: {
      'app1.tasks1.deal1': { queue: 'for_task1', routingKey: 'task_a' },
      'app1.tasks2.*': { queue: 'for_task2' },
    },
    schedule: {
      tick: { task: 'app1.tasks1.deal1', every: '30s' },
    },
  };
}

export function resolveOne(content: unknown, options?: DefinitionsOptions): Definitions {
  return resolveDefinitions([{ file: FILE, content }], options);
}

/** The formatted problems of the DefinitionsError that `run` throws. */
export function problemsOf(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof DefinitionsError) return error.problems.map(formatProblem);
    throw error;
  }
  throw new Error('expected a DefinitionsError, but the definitions resolved');
}

export async function problemsOfAsync(run: () => Promise<unknown>): Promise<string[]> {
  try {
    await run();
  } catch (error) {
    if (error instanceof DefinitionsError) return error.problems.map(formatProblem);
    throw error;
  }
  throw new Error('expected a DefinitionsError, but the definitions resolved');
}
