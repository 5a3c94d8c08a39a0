import { AsyncResource } from 'node:async_hooks';

/**
 * A value made once, on first `get()`, by an async factory. Concurrent callers share the one
 * attempt; an attempt that fails is forgotten, so the next `get()` tries again.
 *
 * The factory runs in the async context the Lazy was created in, not in its first caller's: the
 * value is shared, so the timers and callbacks it sets up must not belong to whichever task
 * happened to ask first (a worker traces escaped errors to the task whose context they ran in).
 */
export class Lazy<T> {
  private attempt: Promise<T> | undefined;
  private readonly factory: () => Promise<T>;

  constructor(factory: () => Promise<T>) {
    this.factory = AsyncResource.bind(factory);
  }

  get(): Promise<T> {
    this.attempt ??= this.factory().catch((error: unknown) => {
      this.attempt = undefined;
      throw error;
    });
    return this.attempt;
  }

  /** The value if it was made (or is being made); nothing is started. */
  peek(): Promise<T> | undefined {
    return this.attempt;
  }

  /** Forgets the value: the next `get()` makes a new one. */
  reset(): void {
    this.attempt = undefined;
  }
}
