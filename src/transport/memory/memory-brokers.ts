import { MemoryBroker } from './memory-broker';

/*
 * The brokers `memory://` URLs name, one per name in this process: `memory://` is the default
 * broker (name ''), `memory://orders` another, separate one. A broker lives as long as the
 * process (or until `resetMemoryBroker`), so an app, its workers and a test's assertions that
 * name the same URL meet on the same queues.
 */
const brokers = new Map<string, MemoryBroker>();

/** The broker that `memory://<name>` names, made on first use. `memoryBroker()` is `memory://`'s. */
export function memoryBroker(name = ''): MemoryBroker {
  let broker = brokers.get(name);
  if (!broker) {
    broker = new MemoryBroker({ name });
    brokers.set(name, broker);
  }
  return broker;
}

/**
 * Empties the broker that `memory://<name>` names: every queue, exchange and message gone,
 * every connection cut (clients still open reconnect to the empty broker). For a test's
 * `beforeEach`, so that no test sees another's messages.
 */
export function resetMemoryBroker(name = ''): void {
  brokers.get(name)?.reset();
}

/** The broker name in a `memory://` URL: its host (`memory://orders` is `orders`, `memory://` is `''`). */
export function memoryBrokerName(url: string): string {
  return new URL(url).hostname;
}
