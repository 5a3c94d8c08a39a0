/**
 * A value made once, on first `get()`, by an async factory. Concurrent callers share the one
 * attempt; an attempt that fails is forgotten, so the next `get()` tries again.
 */
export class Lazy<T> {
  private attempt: Promise<T> | undefined;

  constructor(private readonly factory: () => Promise<T>) {}

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
