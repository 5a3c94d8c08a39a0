import { connect, type ChannelModel } from 'amqplib';
import { maskUrl } from '../util/mask-url';

export interface ClusterProbeOptions {
  /** How long one connect (TCP, TLS, AMQP handshake) may take. @defaultValue 5000 */
  handshakeTimeoutMs?: number;
}

/** Which broker addresses are running nodes of one cluster. */
export interface ClusterProbe {
  /**
   * The addresses (password masked) that reached one cluster: the first that answered, and
   * every other that sees its queues. Two or more: a cluster with that many running nodes.
   */
  readonly nodes: readonly string[];
  /** Addresses that answered but are another broker (they do not see the queue). */
  readonly separate: readonly string[];
  /** Addresses that did not answer, each with why. */
  readonly unreachable: ReadonlyArray<{ readonly url: string; readonly reason: string }>;
}

/**
 * Tells over AMQP alone which of `urls` are running nodes of the same cluster. RabbitMQ says
 * nothing of its cluster in the connection's server properties (`cluster_name` defaults to each
 * node's own name), but every node of a cluster shares its queues' metadata: an exclusive queue
 * declared through the first address that answers is refused to every other connection with
 * 405 RESOURCE_LOCKED on a node of the same cluster, and unknown (404 NOT_FOUND) to a separate
 * broker. The queue is server-named and goes with the probe's connection. A cluster behind one
 * address (a load balancer) shows as one node.
 */
export async function probeCluster(urls: readonly string[], options: ClusterProbeOptions = {}): Promise<ClusterProbe> {
  const timeout = options.handshakeTimeoutMs ?? 5000;
  const attempts = await Promise.all(
    urls.map(async (url) => {
      try {
        const model = await connect(url, { timeout, clientProperties: { connection_name: 'warren cluster probe' } });
        model.on('error', () => undefined);
        return { url, model };
      } catch (error) {
        return { url, reason: error instanceof Error ? error.message : String(error) };
      }
    }),
  );
  const open = attempts.filter((a): a is { url: string; model: ChannelModel } => 'model' in a);
  const unreachable = attempts.flatMap((a) => ('reason' in a && a.reason !== undefined ? [{ url: maskUrl(a.url), reason: a.reason }] : []));
  try {
    const [first, ...others] = open;
    if (first === undefined) return { nodes: [], separate: [], unreachable };
    const channel = await first.model.createChannel();
    const { queue } = await channel.assertQueue('', { exclusive: true, durable: false, autoDelete: true });
    const verdicts = await Promise.all(others.map(async ({ url, model }) => ({ url, sees: await seesQueue(model, queue) })));
    return {
      nodes: [first.url, ...verdicts.filter((v) => v.sees).map((v) => v.url)].map(maskUrl),
      separate: verdicts.filter((v) => !v.sees).map((v) => maskUrl(v.url)),
      unreachable,
    };
  } finally {
    await Promise.all(open.map(({ model }) => model.close().catch(() => undefined)));
  }
}

/** Whether the broker behind `model` knows `queue`, an exclusive queue of another connection. */
async function seesQueue(model: ChannelModel, queue: string): Promise<boolean> {
  const channel = await model.createChannel();
  channel.on('error', () => undefined);
  try {
    await channel.checkQueue(queue);
    return true;
  } catch (error) {
    // 405 RESOURCE_LOCKED: it exists, and belongs to the probe's other connection.
    return (error as { code?: unknown }).code === 405;
  }
}
