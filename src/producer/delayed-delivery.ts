import type { Logger } from '../logging/logger';
import {
  declareOnOwnChannel,
  delayedRoute,
  delayTargetBinding,
  delayTopology,
  isBrokerHeader,
  isDelayHeader,
  type DelayTarget,
  type DelayTopologyOptions,
  type Topology,
} from '../topology';
import type { Publisher, PublishRequest, Transport } from '../transport';

/**
 * Publishes messages that the broker holds back for a while (countdown, eta, retry backoff),
 * through the delay levels of `topology/delay-topology.ts`. Nothing waits in process memory:
 * once `publish` resolved, the broker has the message, persistent, in a durable queue.
 *
 * The levels are declared once per connection, on first use; the final hop to each
 * destination (a binding on the deliver exchange) once per destination. Both are idempotent,
 * so several processes declaring them at once do no harm.
 */
export class DelayedDelivery {
  private levels: Promise<void> | undefined;
  private readonly targets = new Map<string, Promise<void>>();
  private readonly logger: Logger;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly connection: Transport,
    private readonly publisher: Publisher,
    logger: Logger,
    private readonly options: DelayTopologyOptions = {},
  ) {
    this.logger = logger.child({ component: 'delays' });
  }

  /**
   * Declares the delay levels and the final hop to each of `targets`. A worker calls it on
   * start for its queues, so that retries and re-delays need no declare on the way.
   */
  async prepare(targets: readonly DelayTarget[]): Promise<void> {
    await this.declareLevels();
    await Promise.all(targets.map((target) => this.declareTarget(target)));
  }

  /**
   * Publishes `request` so that it is routed, as `request` says, after `delayMs` (rounded up to
   * whole seconds); with `delayMs <= 0`, now. Resolves once the broker confirmed it.
   * Broker headers (`x-death`, ...) and old delay headers are dropped, and so is `expiration`:
   * a per-message TTL would let the message out of a delay level early.
   */
  publish(request: PublishRequest, delayMs: number): Promise<void> {
    // Not async: a task sent now is the publisher's promise, nothing around it.
    return delayMs <= 0 ? this.publisher.publish(request) : this.publishDelayed(request, delayMs);
  }

  private async publishDelayed(request: PublishRequest, delayMs: number): Promise<void> {
    const target: DelayTarget = { exchange: request.exchange, routingKey: request.routingKey };
    await this.prepare([target]);
    const route = delayedRoute(target, delayMs, this.options);
    const headers = Object.fromEntries(
      Object.entries(request.properties.headers ?? {}).filter(([name]) => !isBrokerHeader(name) && !isDelayHeader(name)),
    );
    const { expiration: _ignored, ...properties } = request.properties;
    await this.publisher.publish({
      exchange: route.exchange,
      routingKey: route.routingKey,
      body: request.body,
      properties: { ...properties, deliveryMode: 2, headers: { ...headers, ...route.headers } },
    });
    this.logger.debug({ exchange: request.exchange, routingKey: request.routingKey, seconds: route.seconds }, 'message delayed');
  }

  private declareLevels(): Promise<void> {
    // A broker restart keeps durable objects, but someone may delete them: declare again after
    // every reconnect, on first use.
    this.unsubscribe ??= this.connection.onConnect(() => {
      this.levels = undefined;
      this.targets.clear();
    });
    this.levels ??= this.declare(delayTopology(this.options), 'delay levels declared').catch((err: unknown) => {
      this.levels = undefined;
      throw err;
    });
    return this.levels;
  }

  private declareTarget(target: DelayTarget): Promise<void> {
    const key = `${target.exchange}\u0000${target.routingKey}`;
    let declared = this.targets.get(key);
    if (!declared) {
      const binding = delayTargetBinding(target, this.options);
      const topology: Topology =
        'queue' in binding
          ? { exchanges: [], queues: [], bindings: [binding] }
          : { exchanges: [], queues: [], bindings: [], exchangeBindings: [binding] };
      declared = this.declare(topology).catch((err: unknown) => {
        this.targets.delete(key);
        throw err;
      });
      this.targets.set(key, declared);
    }
    return declared;
  }

  private async declare(topology: Topology, message?: string): Promise<void> {
    await declareOnOwnChannel(this.connection, topology);
    if (message) this.logger.debug(message);
  }

  /** Stops following reconnects. */
  close(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }
}
