import { createHash, randomBytes } from 'node:crypto';
import type { Topology } from './topology';

/** A user for the definitions file, with all permissions on its virtual host. */
export interface DefinitionsUser {
  readonly name: string;
  /** Stored only as a salted SHA-256 hash. */
  readonly password: string;
  /** @defaultValue ['administrator'] */
  readonly tags?: readonly string[];
}

/** Options for {@link exportDefinitions}. */
export interface ExportDefinitionsOptions {
  /** The virtual host everything is declared in. @defaultValue '/' */
  readonly vhost?: string;
  /**
   * The user the file creates. A blank broker that loads definitions at boot creates neither
   * its default virtual host nor its default `guest` user, so a file without a user leaves a
   * broker nobody can log in to. `false` leaves users and permissions out, for importing into
   * a broker that already has its users (`rabbitmqctl import_definitions`).
   * @defaultValue `{ name: 'guest', password: 'guest' }`
   */
  readonly user?: DefinitionsUser | false;
}

/** A RabbitMQ definitions file, as `rabbitmqctl export_definitions` writes and `load_definitions` reads it. */
export interface RabbitDefinitionsFile {
  users?: { name: string; password_hash: string; hashing_algorithm: string; tags: string[]; limits: Record<string, never> }[];
  vhosts: { name: string }[];
  permissions?: { user: string; vhost: string; configure: string; write: string; read: string }[];
  exchanges: {
    name: string;
    vhost: string;
    type: string;
    durable: boolean;
    auto_delete: boolean;
    internal: false;
    arguments: Record<string, unknown>;
  }[];
  queues: { name: string; vhost: string; durable: boolean; auto_delete: boolean; arguments: Record<string, unknown> }[];
  bindings: {
    source: string;
    vhost: string;
    destination: string;
    destination_type: 'queue' | 'exchange';
    routing_key: string;
    arguments: Record<string, unknown>;
  }[];
}

/**
 * `topology` as a RabbitMQ definitions file, for `load_definitions` at boot or
 * `rabbitmqctl import_definitions`. Includes the virtual host and, unless `user` is
 * `false`, a user with a freshly salted password hash and all permissions on the vhost.
 */
export function exportDefinitions(topology: Topology, options: ExportDefinitionsOptions = {}): RabbitDefinitionsFile {
  const vhost = options.vhost ?? '/';
  const user = options.user === undefined ? { name: 'guest', password: 'guest' } : options.user;
  const file: RabbitDefinitionsFile = {
    vhosts: [{ name: vhost }],
    exchanges: topology.exchanges.map((x) => ({
      name: x.name,
      vhost,
      type: x.type,
      durable: x.options.durable,
      auto_delete: x.options.autoDelete,
      internal: false,
      arguments: { ...x.options.arguments },
    })),
    queues: topology.queues.map((q) => ({
      name: q.name,
      vhost,
      durable: q.options.durable,
      auto_delete: q.options.autoDelete,
      arguments: { ...q.options.arguments },
    })),
    bindings: [
      ...topology.bindings.map((b) => ({
        source: b.exchange,
        vhost,
        destination: b.queue,
        destination_type: 'queue' as const,
        routing_key: b.routingKey,
        arguments: { ...b.arguments },
      })),
      ...(topology.exchangeBindings ?? []).map((b) => ({
        source: b.source,
        vhost,
        destination: b.destination,
        destination_type: 'exchange' as const,
        routing_key: b.routingKey,
        arguments: { ...b.arguments },
      })),
    ],
  };
  if (user === false) return file;
  return {
    users: [
      {
        name: user.name,
        password_hash: passwordHash(user.password),
        hashing_algorithm: 'rabbit_password_hashing_sha256',
        tags: [...(user.tags ?? ['administrator'])],
        limits: {},
      },
    ],
    permissions: [{ user: user.name, vhost, configure: '.*', write: '.*', read: '.*' }],
    ...file,
  };
}

/** RabbitMQ's `rabbit_password_hashing_sha256`: base64(salt + sha256(salt + password)), 4-byte salt. */
function passwordHash(password: string): string {
  const salt = randomBytes(4);
  const digest = createHash('sha256').update(salt).update(password, 'utf8').digest();
  return Buffer.concat([salt, digest]).toString('base64');
}
