import { randomBytes } from 'node:crypto';
import { createApp, type App, type AppOptions } from '../../src';
import { resolveDefinitions } from '../../src/config';
import type { Definitions } from '../../src/config/types';
import { encodeTaskMessage, type EncodeTaskMessageInput } from '../../src/protocol';
import { memoryBroker, resetMemoryBroker, type MemoryBroker, type MemoryBrokerEvent } from '../../src/transport/memory';
import { silent } from './memory';

export interface MemoryDefinitionsOptions {
  /** Settings of the queue `jobs` on top of `{ name: 'jobs', exchange: 'jobs', routingKey: 'jobs' }`. */
  jobs?: Record<string, unknown>;
  /** Top-level sections on top of the defaults (exchanges, queues, routes, schedule...). */
  extra?: Record<string, unknown>;
}

/** Definitions of one direct exchange and queue `jobs` (routing key `jobs`), the default queue. */
export function memoryDefinitions(brokerUrl: string, options: MemoryDefinitionsOptions = {}): Definitions {
  return resolveDefinitions(
    [
      {
        file: 'memory-test.yaml',
        content: {
          broker: { url: brokerUrl },
          exchanges: [{ name: 'jobs', type: 'direct' }],
          queues: [{ name: 'jobs', exchange: 'jobs', routingKey: 'jobs', ...options.jobs }],
          defaultQueue: 'jobs',
          ...options.extra,
        },
      },
    ],
    { env: {} },
  );
}

export interface MemoryApp {
  app: App;
  /** The app's broker: what reached which queue. */
  broker: MemoryBroker;
  url: string;
  /**
   * Everything that happened on the broker since the app was made, described in a line each (see
   * `describeEvent`), without the control plane: Celery events (`celeryev`) and remote control
   * (`celery.pidbox`, `reply.celery.pidbox`: mingle's `hello` on start-up) are no part of a message's fate.
   */
  trace: () => string[];
  events: MemoryBrokerEvent[];
  /** Closes the app and empties its broker. */
  close: () => Promise<void>;
}

/** An app on a memory broker of its own (`memory://test-<random>`), with a record of what happened there. */
export function memoryApp(definitions: MemoryDefinitionsOptions = {}, options: Omit<AppOptions, 'definitions'> = {}): MemoryApp {
  const name = `test-${randomBytes(4).toString('hex')}`;
  const url = `memory://${name}`;
  const app = createApp({ logger: silent, ...options, definitions: memoryDefinitions(url, definitions) });
  const broker = memoryBroker(name);
  const events: MemoryBrokerEvent[] = [];
  const stop = broker.observe((event) => events.push(event));
  return {
    app,
    broker,
    url,
    events,
    trace: () => events.filter((event) => !isControlPlane(event)).map(describeEvent),
    close: async () => {
      await app.close();
      stop();
      resetMemoryBroker(name);
    },
  };
}

/** Exchanges of Celery events and remote control. */
const CONTROL_PLANE = new Set(['celeryev', 'celery.pidbox', 'reply.celery.pidbox']);

export function isControlPlane(event: MemoryBrokerEvent): boolean {
  return event.type === 'published' && CONTROL_PLANE.has(event.exchange);
}

function jsonBody(content: Buffer): unknown {
  try {
    return JSON.parse(content.toString());
  } catch {
    return undefined;
  }
}

/**
 * One line for a broker event, naming what a test asserts on:
 * `task math.add#0 -> jobs` (a task message, with its retries, and the queues it reached),
 * `result SUCCESS` (a result message), `dead letter -> jobs.dlq` (a copy carrying x-warren-reason),
 * `message -> jobs` (anything else), `ack jobs`, `requeue jobs (nack)`, `reject jobs`,
 * `dead-letter jobs (expired) -> jobs.dlq`, `refused by jobs (full)` (a publish nacked),
 * `refused 406 PRECONDITION_FAILED - ...` (a channel closed by the broker).
 */
export function describeEvent(event: MemoryBrokerEvent): string {
  switch (event.type) {
    case 'published': {
      const where = event.queues.join(',') || 'nowhere';
      const body = jsonBody(event.message.content);
      if (typeof body === 'object' && body !== null && 'status' in body) return `result ${String(body.status)}`;
      const headers = event.message.properties.headers ?? {};
      if (headers['x-warren-reason'] !== undefined) return `dead letter -> ${where}`;
      if (typeof headers.task === 'string') return `task ${headers.task}${typeof headers.retries === 'number' ? `#${headers.retries}` : ''} -> ${where}`;
      return `message -> ${where}`;
    }
    case 'publish-refused':
      return `refused by ${event.queue} (full)`;
    case 'acked':
      return `ack ${event.queue}`;
    case 'requeued':
      return `requeue ${event.queue} (${event.cause})`;
    case 'rejected':
      return `reject ${event.queue}`;
    case 'dead-lettered':
      return `dead-letter ${event.queue} (${event.reason}) -> ${event.queues.join(',') || 'dropped'}`;
    case 'refused':
      return `refused ${event.code} ${event.text}`;
  }
}

/** Publishes a Celery task message straight to `queue`, as another client would. */
export function publishTask(broker: MemoryBroker, queue: string, input: Partial<EncodeTaskMessageInput> & { task: string }): string {
  const id = input.id ?? randomBytes(8).toString('hex');
  const { body, properties } = encodeTaskMessage({ replyTo: '', ...input, id });
  broker.publish('', queue, body, properties);
  return id;
}

/** A promise and the function that resolves it: a task waits on it until the test lets it go. */
export function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { wait, open };
}
