import { createLogger } from '../../src/logging/logger';
import { MemoryBroker, MemoryTransport } from '../../src/transport/memory';
import type { DeliveredMessage, TransportChannel } from '../../src/transport';

export const silent = createLogger({ level: 'silent' });

/** A started transport on `broker` (a fresh broker when none is given). */
export async function memoryConnection(broker: MemoryBroker = new MemoryBroker()): Promise<MemoryTransport> {
  const transport = new MemoryTransport({ broker, logger: silent, reconnectDelayMs: 1 });
  await transport.start();
  return transport;
}

/** One turn of the event loop: a frame sent before it has been handled. */
export function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Enough turns for every frame in flight, and every frame they cause, to be handled. */
export async function settle(turns = 20): Promise<void> {
  for (let i = 0; i < turns; i += 1) await turn();
}

/** Resolves once `predicate` holds; rejects with `what` after `timeoutMs`. */
export async function until(predicate: () => boolean, what = 'the condition', timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** Consumes `queue` on `channel`, collecting every delivery (and `null` for a cancel) in arrival order. */
export async function collect(
  channel: TransportChannel,
  queue: string,
  options: { noAck?: boolean; exclusive?: boolean } = {},
): Promise<{ messages: Array<DeliveredMessage | null>; consumerTag: string; bodies: () => string[] }> {
  const messages: Array<DeliveredMessage | null> = [];
  const { consumerTag } = await channel.consume(queue, (message) => messages.push(message), options);
  return { messages, consumerTag, bodies: () => messages.map((m) => (m === null ? '<cancelled>' : m.content.toString())) };
}

/** The error a promise rejects with (fails when it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<Error & { code?: unknown }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: unknown };
  }
  throw new Error('expected a rejection, but it resolved');
}
