import { clip, decodeTaskMessage, formatIsoDatetime, pythonRepr } from '../protocol';
import type { DeliveredMessage } from '../transport';
import type { TaskReceived } from './worker-events';

/** Celery's `argsrepr` limit. */
const REPR_LIMIT = 1024;

/**
 * What `task-received` says about a delivery, read as cheaply as it can be: from the v2 headers
 * (a Celery or warren sender fills `argsrepr`, `kwargsrepr`, `eta`, ...), decoding the body only
 * for what the headers lack (a v1 message, a sender that sets no `argsrepr`). Undefined for a
 * message that is no task: the worker dead-letters it, and `message-rejected` says so.
 */
export function taskReceived(queue: string, message: DeliveredMessage): TaskReceived | undefined {
  const headers = message.properties.headers ?? {};
  const { id, task } = headers;
  const redelivered = message.fields.redelivered;
  if (typeof id === 'string' && typeof task === 'string' && typeof headers.argsrepr === 'string' && typeof headers.kwargsrepr === 'string') {
    return {
      taskId: clip(id, 200),
      taskName: clip(task, 200),
      queue,
      argsRepr: clip(headers.argsrepr, REPR_LIMIT),
      kwargsRepr: clip(headers.kwargsrepr, REPR_LIMIT),
      retries: typeof headers.retries === 'number' ? headers.retries : 0,
      eta: typeof headers.eta === 'string' ? headers.eta : null,
      expires: typeof headers.expires === 'string' ? headers.expires : null,
      rootId: typeof headers.root_id === 'string' ? headers.root_id : null,
      parentId: typeof headers.parent_id === 'string' ? headers.parent_id : null,
      redelivered,
    };
  }
  try {
    const decoded = decodeTaskMessage({ content: message.content, properties: message.properties });
    return {
      taskId: decoded.id,
      taskName: decoded.task,
      queue,
      argsRepr: safeRepr(decoded.args),
      kwargsRepr: safeRepr(decoded.kwargs),
      retries: decoded.retries,
      eta: decoded.eta ? formatIsoDatetime(decoded.eta) : null,
      expires: decoded.expires ? formatIsoDatetime(decoded.expires) : null,
      rootId: decoded.rootId,
      parentId: decoded.parentId,
      redelivered,
    };
  } catch {
    return undefined;
  }
}

function safeRepr(value: unknown): string {
  try {
    return pythonRepr(value, REPR_LIMIT);
  } catch {
    return '<unrepresentable>';
  }
}
