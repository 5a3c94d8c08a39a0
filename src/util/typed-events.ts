import { ListenerError } from '../errors';
import type { Logger } from '../logging/logger';

export interface TypedEventsOptions {
  /** Where a listener's exception is logged when nobody listens for `error`. */
  logger?: Logger;
  /**
   * Called instead of logging when a listener threw and nobody listens for `error` (or an
   * `error` listener threw itself). @defaultValue logs at error level through `logger`, else a
   * process warning
   */
  onListenerError?: (error: ListenerError) => void;
}

/**
 * Listeners of an event map `{ name: payload }`: typed `on`/`off`, and `emit` for the owner.
 *
 * `emit` never lets a listener's exception (or the rejection of an async listener) reach the
 * code that emitted, as amqplib's `safe_emit` and BullMQ's `QueueBase.emit`: the owner's own
 * work (acking a message, recording a fire) must not depend on what a user's listener does.
 * The exception is wrapped in a {@link ListenerError} and emitted as `error` when the map has
 * an `error` event with listeners; else, or when an `error` listener throws too, it goes to
 * `onListenerError` or the log. Unlike Node's EventEmitter, an `error` with no listener does
 * not throw: the owner logs its own errors.
 *
 * An event map that has `error` must give it an `Error` payload.
 */
export class TypedEvents<E extends object> {
  private readonly listeners: { [K in keyof E]?: Array<(payload: E[K]) => void> } = {};

  constructor(private readonly options: TypedEventsOptions = {}) {}

  on<K extends keyof E>(event: K, listener: (payload: E[K]) => void): void {
    (this.listeners[event] ??= []).push(listener);
  }

  /** Removes one registration of `listener` (the last one, if it was added twice). */
  off<K extends keyof E>(event: K, listener: (payload: E[K]) => void): void {
    const list = this.listeners[event];
    const index = list?.lastIndexOf(listener) ?? -1;
    if (list && index >= 0) list.splice(index, 1);
  }

  listenerCount(event: keyof E): number {
    return this.listeners[event]?.length ?? 0;
  }

  /** Calls every listener of `event` in the order they were added; never throws. */
  emit<K extends keyof E>(event: K, payload: E[K]): void {
    // A copy: a listener that adds or removes listeners changes the next emit, not this one.
    for (const listener of [...(this.listeners[event] ?? [])]) {
      this.call(listener, payload, (thrown) => this.listenerFailed(event, thrown));
    }
  }

  private call<P>(listener: (payload: P) => void, payload: P, onThrow: (thrown: unknown) => void): void {
    try {
      const returned: unknown = listener(payload);
      if (isPromiseLike(returned)) returned.then(undefined, onThrow);
    } catch (thrown) {
      onThrow(thrown);
    }
  }

  private listenerFailed(event: keyof E, thrown: unknown): void {
    const error = thrown instanceof ListenerError ? thrown : new ListenerError(String(event), thrown);
    const errorListeners = event === 'error' ? [] : [...(this.listeners['error' as keyof E] ?? [])];
    if (errorListeners.length === 0) {
      this.unhandled(error);
      return;
    }
    for (const listener of errorListeners) {
      this.call(listener as (payload: ListenerError) => void, error, (again) => this.unhandled(new ListenerError('error', again)));
    }
  }

  private unhandled(error: ListenerError): void {
    if (this.options.onListenerError) {
      try {
        this.options.onListenerError(error);
        return;
      } catch {
        // Falls through to the log: the handler of last resort must not throw either.
      }
    }
    if (this.options.logger) {
      this.options.logger.error({ event: error.event, err: describe(error.cause) }, `a listener of the "${error.event}" event threw; it was ignored`);
    } else {
      process.emitWarning(error);
    }
  }
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

function describe(thrown: unknown): string {
  return thrown instanceof Error ? (thrown.stack ?? `${thrown.name}: ${thrown.message}`) : String(thrown);
}
