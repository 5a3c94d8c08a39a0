import type { ChannelModel } from 'amqplib';

/** What of amqplib's connection this reaches: its Mux (channels to socket) and the socket. */
interface MuxLike {
  out?: { cork?: () => void; uncork?: () => void };
  _readIncoming?: () => void;
  coalesced?: boolean;
}

/**
 * Makes each of amqplib's passes from its channels to the socket one socket write.
 *
 * amqplib queues every frame a channel writes (a publish, an ack) and, once per turn of the
 * event loop, moves them from the channels to the socket one `write()` each: a worker that
 * publishes the results of ten tasks and acks them in one turn makes eleven system calls, and
 * the broker reads eleven TCP segments. Corked for the length of that pass, the socket sends
 * them in one `writev`. Nothing waits longer: the socket is uncorked before the pass returns.
 *
 * Reaches into amqplib's connection (its `muxer`, not a public API); returns false and changes
 * nothing when that is not there as expected, and writes then go out as amqplib makes them.
 */
export function coalesceWrites(model: ChannelModel): boolean {
  const mux = (model as unknown as { connection?: { muxer?: MuxLike } }).connection?.muxer;
  const out = mux?.out;
  const pass = mux?._readIncoming;
  if (!mux || typeof pass !== 'function' || typeof out?.cork !== 'function' || typeof out.uncork !== 'function') return false;
  if (mux.coalesced) return true;
  const cork = out.cork.bind(out);
  const uncork = out.uncork.bind(out);
  mux._readIncoming = function readIncomingCorked(this: MuxLike): void {
    cork();
    try {
      pass.call(this);
    } finally {
      uncork();
    }
  };
  mux.coalesced = true;
  return true;
}
