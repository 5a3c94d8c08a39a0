import { UnknownQueueError } from '../../../src/errors';
import { buildTopology, selectTopology } from '../../../src/topology';
import { sampleDefinitions } from './fixtures';

const durable = { durable: true, autoDelete: false };

describe('buildTopology', () => {
  it('lists exchanges, queues with their wire arguments, and one binding per queue binding, in definition order', () => {
    expect(buildTopology(sampleDefinitions())).toStrictEqual({
      exchanges: [
        { name: 'default', type: 'direct', options: { ...durable, arguments: {} } },
        { name: 'for_task1', type: 'direct', options: { ...durable, arguments: {} } },
        { name: 'for_task2', type: 'direct', options: { ...durable, arguments: {} } },
        { name: 'dead', type: 'fanout', options: { ...durable, arguments: {} } },
        { name: 'events', type: 'topic', options: { ...durable, arguments: {} } },
      ],
      queues: [
        { name: 'default', options: { ...durable, arguments: {} } },
        {
          name: 'for_task1',
          options: { ...durable, arguments: { 'x-max-priority': 10, 'x-dead-letter-exchange': 'dead' } },
        },
        { name: 'for_task2', options: { ...durable, arguments: { 'x-queue-type': 'quorum' } } },
        { name: 'dead_letters', options: { ...durable, arguments: {} } },
      ],
      bindings: [
        { queue: 'default', exchange: 'default', routingKey: 'default', arguments: {} },
        { queue: 'for_task1', exchange: 'for_task1', routingKey: 'task_a', arguments: {} },
        { queue: 'for_task2', exchange: 'for_task2', routingKey: 'task_b', arguments: {} },
        { queue: 'for_task2', exchange: 'events', routingKey: 'task.#', arguments: { note: 'second' } },
        { queue: 'dead_letters', exchange: 'dead', routingKey: '', arguments: {} },
      ],
    });
  });

  it('carries non-default exchange and queue settings through', () => {
    const defs = sampleDefinitions();
    const changed = {
      ...defs,
      exchanges: [{ ...defs.exchanges[0], durable: false, autoDelete: true, arguments: { 'alternate-exchange': 'ae' } }],
      queues: [{ ...defs.queues[0], durable: false, autoDelete: true }],
    };
    const topology = buildTopology(changed);
    expect(topology.exchanges[0].options).toStrictEqual({
      durable: false,
      autoDelete: true,
      arguments: { 'alternate-exchange': 'ae' },
    });
    expect(topology.queues[0].options).toStrictEqual({ durable: false, autoDelete: true, arguments: {} });
  });
});

describe('selectTopology', () => {
  const topology = buildTopology(sampleDefinitions());

  it('keeps the chosen queues, their bindings and the exchanges they bind to', () => {
    const selected = selectTopology(topology, ['for_task2']);
    expect(selected.queues.map((q) => q.name)).toEqual(['for_task2']);
    expect(selected.bindings.map((b) => `${b.exchange}->${b.queue}:${b.routingKey}`)).toEqual([
      'for_task2->for_task2:task_b',
      'events->for_task2:task.#',
    ]);
    expect(selected.exchanges.map((x) => x.name)).toEqual(['for_task2', 'events']);
  });

  it('adds the dead-letter exchange a chosen queue names and the queues bound to it, so no dead letter is dropped', () => {
    const selected = selectTopology(topology, ['for_task1']);
    expect(selected.exchanges.map((x) => x.name)).toEqual(['for_task1', 'dead']);
    expect(selected.queues.map((q) => q.name)).toEqual(['for_task1', 'dead_letters']);
    expect(selected.bindings.map((b) => `${b.exchange}->${b.queue}`)).toEqual(['for_task1->for_task1', 'dead->dead_letters']);
  });

  it('keeps the topology order whatever order the names come in', () => {
    const selected = selectTopology(topology, ['for_task2', 'default', 'for_task2']);
    expect(selected.queues.map((q) => q.name)).toEqual(['default', 'for_task2']);
    expect(selected.exchanges.map((x) => x.name)).toEqual(['default', 'for_task2', 'events']);
  });

  it('rejects a queue the topology does not declare, listing the declared ones', () => {
    const attempt = () => selectTopology(topology, ['for_task1', 'for_task3']);
    expect(attempt).toThrow(UnknownQueueError);
    expect(attempt).toThrow('unknown queue "for_task3" (declared queues: default, for_task1, for_task2, dead_letters)');
  });
});
