import { UnknownQueueError } from '../errors';
import type { Definitions, QueueDefinition } from './types';

/**
 * The declared queues that `names` name, in the order given: how a worker's `-Q` list is
 * checked before anything is consumed. warren never creates a queue it was not told about.
 *
 * @param where - what gave the names, put in front of the message: `-Q`, `worker options`.
 * @throws UnknownQueueError for the first name that is not declared, listing the declared queues.
 */
export function checkQueueNames(definitions: Definitions, names: readonly string[], where: string): QueueDefinition[] {
  const declared = definitions.queues.map((queue) => queue.name);
  return names.map((name) => {
    const queue = definitions.queues.find((candidate) => candidate.name === name);
    if (queue !== undefined) return queue;
    const error = new UnknownQueueError(name, declared);
    error.message = `${where}: ${error.message}`;
    throw error;
  });
}
