import type { Definitions } from '../config/types';
import { queueArguments } from './arguments';

/**
 * The queues of `definitions` that keep their tasks on one node of a cluster: durable classic
 * queues (`type: classic`, the default, and no `x-queue-type` argument that says otherwise).
 * While that node is down such a queue cannot be used (a publish routed only to it is returned
 * unroutable, consuming it fails), and its tasks are lost with the node's disk; a quorum queue
 * is replicated and keeps working while a majority of its nodes run. Non-durable queues are
 * left out: they lose their tasks with any broker restart, on a cluster or not.
 */
export function singleNodeQueues(definitions: Definitions): string[] {
  return definitions.queues
    .filter((queue) => queue.durable && (queueArguments(queue)['x-queue-type'] ?? 'classic') === 'classic')
    .map((queue) => queue.name);
}
