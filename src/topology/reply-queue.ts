import { queueArguments } from './arguments';
import type { QueueSpec } from './topology';

/** Celery's default `result_expires`: one day. */
const ONE_DAY_MS = 86_400_000;

/**
 * The `rpc://` reply queue, declared exactly as Celery 5.2 declares it
 * (`durable=False, auto_delete=True, expires=result_expires`, not exclusive), so a Python
 * client and warren can share one without a 406.
 */
export function replyQueueSpec(name: string, options: { readonly expiresMs?: number } = {}): QueueSpec {
  const definition = {
    name,
    durable: false,
    autoDelete: true,
    type: 'classic',
    expires: options.expiresMs ?? ONE_DAY_MS,
    arguments: {},
    bindings: [],
  } as const;
  return { name, options: { durable: false, autoDelete: true, arguments: queueArguments(definition) } };
}
