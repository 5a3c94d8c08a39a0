/**
 * Notices when the event loop was blocked: a timer that should fire every `tickMs` and
 * measures how late it came. A task that computes for seconds without awaiting stops
 * everything else in the process meanwhile: heartbeats, acks, results, the other tasks.
 */
export class StallMonitor {
  private timer: NodeJS.Timeout | undefined;
  private last = 0;

  constructor(
    private readonly thresholdMs: number,
    /** Called each tick, after a stall check. */
    private readonly onTick: () => void,
    /** Called when a tick came at least `thresholdMs` late, with how long the loop was blocked. */
    private readonly onStall: (blockedMs: number) => void,
    private readonly tickMs = Math.max(50, Math.min(500, thresholdMs / 4)),
  ) {}

  start(): void {
    if (this.timer) return;
    this.last = performance.now();
    this.timer = setInterval(() => this.tick(), this.tickMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    const now = performance.now();
    const blockedMs = now - this.last - this.tickMs;
    this.last = now;
    if (blockedMs >= this.thresholdMs) this.onStall(blockedMs);
    this.onTick();
  }
}
