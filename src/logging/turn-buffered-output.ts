/** pino's numeric level of `warn`: lines at it and above are written at once. */
const WARN = 40;

/**
 * Where log lines go: a line below `warn` waits until the end of the event loop's turn and goes
 * out with the others of that turn in one write; a `warn` or worse goes out at once, after
 * whatever waited, so the order holds. A worker at `info` logs a line per task, and a
 * synchronous write each (a system call on the loop) cost it about a sixth of its time; the
 * lines that say what went wrong still reach the terminal before anything else happens, and
 * `flush()` at exit writes what is left.
 */
export class TurnBufferedOutput {
  private pending = '';
  private scheduled = false;

  /** @param sink - writes a chunk of text at once (synchronously). */
  constructor(private readonly sink: (text: string) => void) {}

  /**
   * A pino destination that writes here: each JSON line through `format` (the `pretty` format),
   * at once when its level is `warn` or worse.
   */
  destination(format: (line: string) => string = (line) => line): { write(line: string): void } {
    return { write: (line: string) => this.write(format(line), levelOf(line) >= WARN) };
  }

  /** Writes `text` at the end of this turn, or now (with what waits before it) when `urgent`. */
  write(text: string, urgent: boolean): void {
    this.pending += text;
    if (urgent) {
      this.flush();
      return;
    }
    if (this.scheduled) return;
    this.scheduled = true;
    // unref: waiting lines never keep a process alive; the exit flush writes them.
    setImmediate(() => this.flush()).unref();
  }

  /** Writes what waits, now. */
  flush(): void {
    this.scheduled = false;
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
