/**
 * The root of warren's error catalogue. Every error warren raises extends this class and
 * carries a stable `code` that programs can switch on; the README lists every code.
 */
export class WarrenError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}
