import { createHash } from 'node:crypto';
import { buildTopology, exportDefinitions } from '../../../src/topology';
import { sampleDefinitions } from './fixtures';

/** Whether `hash` is RabbitMQ's rabbit_password_hashing_sha256 of `password`. */
function hashMatches(hash: string, password: string): boolean {
  const bytes = Buffer.from(hash, 'base64');
  const salt = bytes.subarray(0, 4);
  const digest = createHash('sha256').update(salt).update(password).digest();
  return bytes.length === 36 && digest.equals(bytes.subarray(4));
}

describe('exportDefinitions', () => {
  const topology = buildTopology(sampleDefinitions());

  it("writes exchanges, queues and bindings in RabbitMQ's definitions format", () => {
    const file = exportDefinitions(topology, { user: false });
    expect(file).toStrictEqual({
      vhosts: [{ name: '/' }],
      exchanges: [
        { name: 'default', vhost: '/', type: 'direct', durable: true, auto_delete: false, internal: false, arguments: {} },
        { name: 'for_task1', vhost: '/', type: 'direct', durable: true, auto_delete: false, internal: false, arguments: {} },
        { name: 'for_task2', vhost: '/', type: 'direct', durable: true, auto_delete: false, internal: false, arguments: {} },
        { name: 'dead', vhost: '/', type: 'fanout', durable: true, auto_delete: false, internal: false, arguments: {} },
        { name: 'events', vhost: '/', type: 'topic', durable: true, auto_delete: false, internal: false, arguments: {} },
      ],
      queues: [
        { name: 'default', vhost: '/', durable: true, auto_delete: false, arguments: {} },
        {
          name: 'for_task1',
          vhost: '/',
          durable: true,
          auto_delete: false,
          arguments: { 'x-max-priority': 10, 'x-dead-letter-exchange': 'dead' },
        },
        { name: 'for_task2', vhost: '/', durable: true, auto_delete: false, arguments: { 'x-queue-type': 'quorum' } },
        { name: 'dead_letters', vhost: '/', durable: true, auto_delete: false, arguments: {} },
      ],
      bindings: [
        { source: 'default', vhost: '/', destination: 'default', destination_type: 'queue', routing_key: 'default', arguments: {} },
        { source: 'for_task1', vhost: '/', destination: 'for_task1', destination_type: 'queue', routing_key: 'task_a', arguments: {} },
        { source: 'for_task2', vhost: '/', destination: 'for_task2', destination_type: 'queue', routing_key: 'task_b', arguments: {} },
        {
          source: 'events',
          vhost: '/',
          destination: 'for_task2',
          destination_type: 'queue',
          routing_key: 'task.#',
          arguments: { note: 'second' },
        },
        { source: 'dead', vhost: '/', destination: 'dead_letters', destination_type: 'queue', routing_key: '', arguments: {} },
      ],
    });
  });

  it('includes guest/guest with all permissions by default, since a blank broker loading definitions creates no user', () => {
    const file = exportDefinitions(topology);
    expect(file.users).toHaveLength(1);
    const [user] = file.users ?? [];
    expect({ ...user, password_hash: '(checked below)' }).toStrictEqual({
      name: 'guest',
      password_hash: '(checked below)',
      hashing_algorithm: 'rabbit_password_hashing_sha256',
      tags: ['administrator'],
      limits: {},
    });
    expect(hashMatches(user.password_hash, 'guest')).toBe(true);
    expect(file.permissions).toStrictEqual([{ user: 'guest', vhost: '/', configure: '.*', write: '.*', read: '.*' }]);
  });

  it('salts each export afresh', () => {
    const first = exportDefinitions(topology).users?.[0].password_hash;
    const second = exportDefinitions(topology).users?.[0].password_hash;
    expect(first).not.toBe(second);
    expect(hashMatches(second ?? '', 'guest')).toBe(true);
  });

  it('uses the user, tags and vhost given', () => {
    const file = exportDefinitions(topology, {
      vhost: 'tasks',
      user: { name: 'warren', password: 'päss wörd', tags: ['monitoring'] },
    });
    expect(file.vhosts).toStrictEqual([{ name: 'tasks' }]);
    expect(file.users?.map((u) => [u.name, u.tags])).toEqual([['warren', ['monitoring']]]);
    expect(hashMatches(file.users?.[0].password_hash ?? '', 'päss wörd')).toBe(true);
    expect(file.permissions).toStrictEqual([{ user: 'warren', vhost: 'tasks', configure: '.*', write: '.*', read: '.*' }]);
    expect(new Set([...file.exchanges, ...file.queues, ...file.bindings].map((d) => d.vhost))).toEqual(new Set(['tasks']));
  });

  it('leaves users and permissions out when user is false', () => {
    const file = exportDefinitions(topology, { user: false });
    expect(Object.keys(file).sort()).toEqual(['bindings', 'exchanges', 'queues', 'vhosts']);
  });

  it('checks a hash RabbitMQ 3.10 itself exported for guest', () => {
    expect(hashMatches('cIWIoINdApTIsZXq3G4lA0l7Y2nb0gQWmB99YQWpUbaeIyqJ', 'guest')).toBe(true);
  });
});
