import { copiedProperties, type AmqpProperties, type IncomingMessage } from './amqp-properties';
import { encodeTaskMessage } from './encode-task-message';
import { formatIsoDatetime } from './iso-datetime';
import type { TaskMessage } from './task-message';

/** What changes when a task message is published again. */
export interface RepublishChanges {
  /** The new `retries`. @defaultValue unchanged */
  retries?: number;
  /** The new `eta`; null for none. @defaultValue unchanged */
  eta?: Date | null;
  /** Headers of the received message to leave out (the broker's, the delay levels'). */
  dropHeader?: (name: string) => boolean;
  /** Headers to add or replace. */
  headers?: Readonly<Record<string, unknown>>;
}

/** A task message ready to publish again. */
export interface RepublishedTaskMessage {
  body: Buffer;
  properties: AmqpProperties;
}

/**
 * The message to publish for a task that runs again later: a retry (`retries` + 1, a new
 * `eta`) or a task moved into the delay levels. A protocol 2 message keeps its body byte for
 * byte and every property but `expiration` (the worker checks `expires` itself), so links,
 * chains, stamps and a Python sender's types all survive; only the changed headers differ.
 * A protocol 1 message is sent on as protocol 2, as Celery's retry does.
 */
export function republishTaskMessage(received: IncomingMessage, task: TaskMessage, changes: RepublishChanges = {}): RepublishedTaskMessage {
  const keep = (name: string): boolean => !(changes.dropHeader?.(name) ?? false);
  const kept = Object.fromEntries(Object.entries(task.headers).filter(([name]) => keep(name)));
  const retries = changes.retries ?? task.retries;
  const eta = changes.eta === undefined ? task.eta : changes.eta;
  if (task.protocol === 1) {
    const encoded = encodeTaskMessage({
      id: task.id,
      task: task.task,
      args: task.args,
      kwargs: task.kwargs,
      embed: task.embed,
      retries,
      eta,
      expires: task.expires,
      rootId: task.rootId,
      parentId: task.parentId,
      group: task.group,
      groupIndex: task.groupIndex,
      timelimit: task.timelimit,
      replyTo: task.replyTo ?? '',
      priority: task.priority ?? 0,
      ignoreResult: task.ignoreResult,
      shadow: task.shadow,
      origin: task.origin ?? undefined,
      headers: { ...kept, ...changes.headers },
    });
    const { expiration: _dropped, ...properties } = encoded.properties;
    return { body: encoded.body, properties: { ...properties, correlationId: task.correlationId } };
  }
  const headers: Record<string, unknown> = {
    ...kept,
    retries,
    eta: eta === null ? null : formatIsoDatetime(eta, 'eta'),
    ...changes.headers,
  };
  return { body: received.content, properties: copiedProperties(received.properties, headers) };
}
