import { regexBody } from '../config/route-pattern';
import type { Definitions, RouteDefinition } from '../config/types';
import { RouteNotFoundError, UnknownQueueError } from '../errors';
import { globToRegExp } from './glob-to-regexp';

/** Where a task message goes: the exchange and routing key to publish with. */
export interface Route {
  /** `""` is the default exchange, which delivers to the queue named by the routing key. */
  readonly exchange: string;
  readonly routingKey: string;
  /** The queue the route names, when it names one; `exchange`/`routingKey` overrides leave it as it is. */
  readonly queue?: string;
}

/** Per-call routing options, as `sendTask` and schedule entries give them. */
export interface RouteOverrides {
  /** A declared queue that replaces the routed target; its first binding gives exchange and key. */
  readonly queue?: string;
  /** A declared exchange, or `""` for the default exchange. */
  readonly exchange?: string;
  readonly routingKey?: string;
}

/** Resolves task names to places. Pure: no I/O, and the same answer for the same input. */
export interface Router {
  /**
   * The route for `taskName`: an exact route first, then glob and regex routes in file
   * order (the first that matches wins), else the default queue; then the overrides.
   * @throws UnknownQueueError when `overrides.queue` is not declared.
   * @throws RouteNotFoundError when `overrides.exchange` is not declared.
   */
  route(taskName: string, overrides?: RouteOverrides): Route;
}

/**
 * Builds the router for `defs`. Every route's target is resolved and every pattern compiled
 * here, once, so a route naming an undeclared queue or exchange fails at start-up.
 * @throws UnknownQueueError when a route or `defaultQueue` names an undeclared queue.
 * @throws RouteNotFoundError when a route names an undeclared exchange.
 */
export function createRouter(defs: Definitions): Router {
  const queues = new Map(defs.queues.map((q) => [q.name, q]));
  const declaredQueues = defs.queues.map((q) => q.name);
  const exchanges = new Set(defs.exchanges.map((x) => x.name));

  function toQueue(name: string): Route {
    const queue = queues.get(name);
    if (!queue) throw new UnknownQueueError(name, declaredQueues);
    const binding = queue.bindings[0];
    return binding
      ? { exchange: binding.exchange, routingKey: binding.routingKey, queue: name }
      : { exchange: '', routingKey: name, queue: name };
  }

  function checkExchange(name: string, where: string): void {
    if (name === '' || exchanges.has(name)) return;
    const declared = [...exchanges].map((x) => `"${x}"`).join(', ') || 'none';
    throw new RouteNotFoundError(
      `${where} names exchange "${name}", which is not declared ` +
        `(declared exchanges: ${declared}; "" is the default exchange)`,
    );
  }

  function withParts(base: Route, exchange: string | undefined, routingKey: string | undefined): Route {
    if (exchange === undefined && routingKey === undefined) return base;
    return {
      ...base,
      exchange: exchange ?? base.exchange,
      routingKey: routingKey ?? base.routingKey,
    };
  }

  function target(route: RouteDefinition): Route {
    if (route.exchange !== undefined) checkExchange(route.exchange, `route "${route.pattern}"`);
    const base = route.queue !== undefined ? toQueue(route.queue) : { exchange: '', routingKey: '' };
    return Object.freeze(withParts(base, route.exchange, route.routingKey));
  }

  const exact = new Map<string, Route>();
  const patterns: { readonly matcher: RegExp; readonly route: Route }[] = [];
  for (const definition of defs.routes) {
    const route = target(definition);
    if (definition.kind === 'exact') {
      if (!exact.has(definition.pattern)) exact.set(definition.pattern, route);
    } else {
      const matcher =
        definition.kind === 'glob' ? globToRegExp(definition.pattern) : new RegExp(regexBody(definition.pattern));
      patterns.push({ matcher, route });
    }
  }
  const fallback = Object.freeze(toQueue(defs.defaultQueue));

  function routed(taskName: string): Route {
    const found = exact.get(taskName);
    if (found) return found;
    for (const { matcher, route } of patterns) {
      if (matcher.test(taskName)) return route;
    }
    return fallback;
  }

  return {
    route(taskName, overrides = {}) {
      const base = overrides.queue !== undefined ? toQueue(overrides.queue) : routed(taskName);
      if (overrides.exchange !== undefined) {
        checkExchange(overrides.exchange, `the exchange override for task "${taskName}"`);
      }
      return withParts(base, overrides.exchange, overrides.routingKey);
    },
  };
}
