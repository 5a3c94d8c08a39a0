/** pino's numeric level of `warn`: lines at it and above are written at once. */
const WARN = 40;

/** How long a line below `warn` may wait for others to share its write. */
export const LOG_BATCH_MS = 20;
/** Waiting text past this many characters is written at once. */
export const LOG_BATCH_CHARS = 64 * 1024;

/**
 * Where log lines go: a line below `warn` waits at most {@link LOG_BATCH_MS} and goes out with
 * the others of that time in one write; a `warn` or worse goes out at once, after whatever
 * waited, so the order holds. A worker at `info` logs a line per task, and a synchronous write
 * each (a system call on the loop) cost it about a sixth of its time; one write per turn of the
 * event loop still cost a busy worker a write per few tasks. The lines that say what went wrong
 * still reach the terminal before anything else happens, and `flush()` at exit writes what is left.
 */
export class BatchedOutput {
  private pending = '';
  private timer: NodeJS.Timeout | undefined;

  /** @param sink - writes a chunk of text at once (synchronously). */
  constructor(private readonly sink: (text: string) => void) {}

  /**
   * A pino destination that writes here: each JSON line through `format` (the `pretty` format),
   * at once when its level is `warn` or worse.
   */
  destination(format: (line: string) => string = (line) => line): { write(line: string): void } {
    return { write: (line: string) => this.write(format(line), levelOf(line) >= WARN) };
  }

  /** Writes `text` within {@link LOG_BATCH_MS}, or now (with what waits before it) when `urgent` or much waits. */
  write(text: string, urgent: boolean): void {
    this.pending += text;
    if (urgent || this.pending.length >= LOG_BATCH_CHARS) {
      this.flush();
      return;
    }
    if (this.timer) return;
    // unref: waiting lines never keep a process alive; the exit flush writes them.
    this.timer = setTimeout(() => this.flush(), LOG_BATCH_MS).unref();
  }

  /** Writes what waits, now. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending === '') return;
    const text = this.pending;
    this.pending = '';
    this.sink(text);
  }
}

/** The level of a pino JSON line (`{"level":30,...`); one that does not start so counts as urgent. */
function levelOf(line: string): number {
  if (!line.startsWith('{"level":')) return Infinity;
  const level = parseInt(line.slice(9, 12), 10);
  return Number.isNaN(level) ? Infinity : level;
}
