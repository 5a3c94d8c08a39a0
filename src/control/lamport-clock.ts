/**
 * A Lamport clock, as kombu's `LamportClock`: every event and control message carries its
 * value (`clock`), and a process that receives one moves its own past it, so a monitor can
 * order what many processes did. One per app.
 */
export class LamportClock {
  private current = 0;

  get value(): number {
    return this.current;
  }

  /** The next value, for a message this process sends. */
  forward(): number {
    this.current += 1;
    return this.current;
  }

  /** Past a value another process sent (a number, or anything else, which is ignored). */
  adjust(other: unknown): number {
    if (typeof other === 'number' && Number.isFinite(other)) this.current = Math.max(this.current, Math.trunc(other));
    this.current += 1;
    return this.current;
  }
}
