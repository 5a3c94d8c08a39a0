/**
 * `deadLetterQueue` on a queue: warren declares a dead-letter exchange and queue for it. Both
 * are named `<queue>.dlq` unless a name is given (exchange and queue share the name, as Celery's
 * own `celery` exchange and queue do); the exchange is a durable fanout, the queue a durable
 * classic queue bound to it, and the queue's `deadLetterExchange` names the exchange.
 */
import type { DefinitionProblem } from '../errors';
import type { ShapedQueue } from './document-schema';
import type { MergedDocuments } from './merge-documents';
import { childPath } from './problem-path';

/** The name of the dead-letter exchange and queue `queue` asks for, if it asks for one. */
export function deadLetterQueueName(queue: ShapedQueue): string | undefined {
  const asked = queue.deadLetterQueue;
  if (asked === undefined) return undefined;
  return (asked === true ? undefined : asked.name) ?? `${queue.name}.dlq`;
}

/** The shaped exchange and queue declarations behind every `deadLetterQueue`. */
export function deadLetterDeclarations(queues: readonly ShapedQueue[]): {
  exchanges: Array<{ name: string; type: 'fanout' }>;
  queues: ShapedQueue[];
} {
  const names = queues.flatMap((queue) => deadLetterQueueName(queue) ?? []);
  return {
    exchanges: names.map((name) => ({ name, type: 'fanout' as const })),
    queues: names.map((name) => ({ name, exchange: name, routingKey: '' })),
  };
}

/**
 * A dead-letter queue's name must be free: no declared queue or exchange, and no other
 * dead-letter queue, may have it. Reported at the `deadLetterQueue` that asks for it.
 */
export function checkDeadLetterQueues(merged: MergedDocuments, problems: DefinitionProblem[]): void {
  const taken = new Map<string, string>();
  for (const name of merged.declaredQueues.names) taken.set(name, `a declared queue`);
  for (const name of merged.declaredExchanges.names) if (!taken.has(name)) taken.set(name, `a declared exchange`);
  for (const { value: queue, file, path } of merged.queues) {
    const name = deadLetterQueueName(queue);
    if (name === undefined) continue;
    const holder = taken.get(name);
    if (holder !== undefined) {
      problems.push({
        file,
        path: childPath(path, 'deadLetterQueue'),
        message: `"${name}" is already ${holder} (expected a free name: deadLetterQueue: { name: ... })`,
      });
    }
    taken.set(name, `the dead-letter queue of "${queue.name}"`);
  }
}
