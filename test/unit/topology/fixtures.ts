import type { Definitions, QueueDefinition } from '../../../src/config/types';

/** A queue definition with the loader's defaults, overridden by `fields`. */
export function queueDefinition(name: string, fields: Partial<QueueDefinition> = {}): QueueDefinition {
  return { name, durable: true, autoDelete: false, type: 'classic', arguments: {}, bindings: [], ...fields };
}

/**
 * Three queues in the shape of DESIGN.md's example, plus a dead-letter exchange and a queue
 * bound twice, as the definitions loader would resolve them.
 */
export function sampleDefinitions(): Definitions {
  const exchange = (name: string, type: 'direct' | 'topic' | 'fanout' = 'direct') => ({
    name,
    type,
    durable: true,
    autoDelete: false,
    arguments: {},
  });
  return {
    broker: { urls: ['amqp://guest:guest@127.0.0.1:5672/'], failoverStrategy: 'in-order' },
    exchanges: [exchange('default'), exchange('for_task1'), exchange('for_task2'), exchange('dead', 'fanout'), exchange('events', 'topic')],
    queues: [
      queueDefinition('default', { bindings: [{ exchange: 'default', routingKey: 'default', arguments: {} }] }),
      queueDefinition('for_task1', {
        maxPriority: 10,
        deadLetterExchange: 'dead',
        bindings: [{ exchange: 'for_task1', routingKey: 'task_a', arguments: {} }],
      }),
      queueDefinition('for_task2', {
        type: 'quorum',
        bindings: [
          { exchange: 'for_task2', routingKey: 'task_b', arguments: {} },
          { exchange: 'events', routingKey: 'task.#', arguments: { note: 'second' } },
        ],
      }),
      queueDefinition('dead_letters', { bindings: [{ exchange: 'dead', routingKey: '', arguments: {} }] }),
    ],
    routes: [],
    defaultQueue: 'default',
    timezone: 'UTC',
    schedule: [],
    sources: ['definitions/warren.yaml'],
  };
}
