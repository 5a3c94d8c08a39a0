import { UsageError } from '../errors';

/**
 * The default maximum message size, 1 MiB of body. A task message carries arguments, not data
 * sets: well below RabbitMQ's own limit (128 MiB), and small enough that a worker holding a
 * full prefetch of them stays small.
 */
export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024;

/**
 * The maximum message size an option asks for, or the default when it is not given.
 *
 * @param name - the option as the user wrote it, for the error: `maxMessageBytes`.
 * @throws UsageError unless it is a whole number of bytes of at least 1.
 */
export function maxMessageBytes(value: number | undefined, name: string): number {
  if (value === undefined) return DEFAULT_MAX_MESSAGE_BYTES;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new UsageError(`${name} must be a whole number of bytes of at least 1 (got ${String(value)})`);
  }
  return value;
}
