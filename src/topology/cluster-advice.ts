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

/**
 * Whether `definitions` keep delayed tasks (countdown, eta, retry backoff) in classic delay
 * levels, which live on the node that first declared them: while it is down a delayed task can
 * be neither sent nor delivered, and the tasks waiting there are lost with its disk. Quorum
 * levels (`delays: { queueType: quorum }`) are replicated.
 */
export function singleNodeDelayLevels(definitions: Definitions): boolean {
  return (definitions.delays?.queueType ?? 'classic') === 'classic';
}
