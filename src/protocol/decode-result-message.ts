import type { AmqpProperties } from './amqp-properties';
import { readJsonBody } from './json-body';
import { readResultMeta, type ResultMeta } from './result-meta';

/**
 * A result read from a reply queue: `task_id` from the body, else the correlation id; the
 * extended fields where the worker sent them.
 */
export type ResultMessage = ResultMeta;

/**
 * Decodes a result message that a Celery or warren worker sent to a reply queue. The body is
 * kombu JSON, so a Python task's datetime result arrives as a Date.
 *
 * @throws InvalidMessageError with the reason, e.g. `invalid result message: status must be a
 * non-empty string (found nothing)`.
 */
export function decodeResultMessage(content: Buffer, properties: AmqpProperties): ResultMessage {
  const correlationId = typeof properties.correlationId === 'string' ? properties.correlationId : '';
  const context = `invalid result message${correlationId ? ` (correlation id ${correlationId})` : ''}`;
  const body = readJsonBody(content, properties, context);
  return readResultMeta(body, context, correlationId, 'body');
}
