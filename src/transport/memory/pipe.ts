/**
 * One direction of a connection: frames run in the order they were sent, always in a later
 * turn of the event loop than the one that sent them, as bytes through a socket would arrive.
 * Each frame runs on its own, so a frame that throws (a consumer callback's bug) surfaces as an
 * uncaught exception, as it would from amqplib's socket handler, without stopping the rest.
 */
export class Pipe {
  private readonly frames: Array<() => void> = [];
  private scheduled = false;

  send(frame: () => void): void {
    this.frames.push(frame);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.run());
  }

  private run(): void {
    this.scheduled = false;
    // Frames sent while these run go out in the next turn, after everything sent before them.
    for (const frame of this.frames.splice(0)) {
      try {
        frame();
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}
