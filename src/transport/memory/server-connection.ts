import { Pipe } from './pipe';
import type { ServerChannel } from './server-channel';

/** What the broker tells the client side of a connection. */
export interface ConnectionPeer {
  /** The broker closed the connection: dropped, stopped, or a hard error (`error` says which). */
  lost(error: Error): void;
}

/**
 * The broker's side of one connection: its channels, and the two directions of its "socket".
 * Exclusive queues belong to it and go when it closes.
 */
export class ServerConnection {
  open = true;
  readonly channels = new Set<ServerChannel>();
  private readonly inbound = new Pipe();
  private readonly outbound = new Pipe();

  constructor(
    readonly id: number,
    /** The client's name for it (amqplib's `connection_name`), for tests that pick one. */
    readonly name: string,
    readonly peer: ConnectionPeer,
  ) {}

  /** A frame from the client, handled by the broker after those sent before it. */
  toBroker(frame: () => void): void {
    this.inbound.send(() => {
      if (this.open) frame();
    });
  }

  /** A frame to the client, after those sent before it. */
  toClient(frame: () => void): void {
    this.outbound.send(frame);
  }
}
