import type { DeliveredMessage, TransportChannel } from '../transport';

/**
 * The acks of one consumer channel, sent together at the end of the event loop's turn: one
 * `basic.ack` with `multiple` for every ack below the oldest delivery still in hand, and one each
 * for those above it. A write to the broker's socket per ack was about a third of what a no-op
 * task cost the worker.
 *
 * The delivery contract holds: a message is acked only once its task is done and its result
 * confirmed, as before; the ack waits at most the rest of the turn, and `multiple` covers no
 * delivery that is still in hand, since every delivery of the channel is registered here as it
 * arrives (`received`) and leaves only when settled. An ack whose tag was never registered goes
 * out alone. Rejects and requeues go out at once, each on its own.
 */
export class AckBatch {
  /** Delivered on this channel and not settled, in delivery (tag) order. */
  private readonly inHand = new Set<number>();
  /** Acked, not yet sent. */
  private pending: DeliveredMessage[] = [];
  private scheduled = false;
  /** The channel closed: nothing can be settled on it any more (the broker requeued what it held). */
  private closed = false;

  constructor(private readonly channel: TransportChannel) {}

  /** A delivery arrived on the channel. */
  received(message: DeliveredMessage): void {
    this.inHand.add(message.fields.deliveryTag);
  }

  /** Acks at the end of this turn; false when the channel is closed. */
  ack(message: DeliveredMessage): boolean {
    if (this.closed) return false;
    this.pending.push(message);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
    return true;
  }

  /** Rejects (with or without requeue) at once. @throws what the channel throws when it is closing */
  nack(message: DeliveredMessage, requeue: boolean): void {
    this.channel.nack(message, false, requeue);
    this.inHand.delete(message.fields.deliveryTag);
  }

  /** Sends the waiting acks now (before the channel is closed on purpose, say). */
  flush(): void {
    this.scheduled = false;
    const acks = this.pending;
    if (acks.length === 0 || this.closed) return;
    this.pending = [];
    // Each ack's tag leaves `inHand` here, not when it was asked for: until it is on the wire its
    // delivery still holds back the `multiple` of the others, which keeps that from covering a tag
    // too early.
    const registered: DeliveredMessage[] = [];
    const alone: DeliveredMessage[] = [];
    for (const m of acks) (this.inHand.delete(m.fields.deliveryTag) ? registered : alone).push(m);
    const oldest = this.inHand.values().next();
    const below = oldest.done ? Infinity : oldest.value;
    let highest: DeliveredMessage | undefined;
    for (const m of registered) {
      if (m.fields.deliveryTag > below) alone.push(m);
      else if (!highest || m.fields.deliveryTag > highest.fields.deliveryTag) highest = m;
    }
    try {
      if (highest) this.channel.ack(highest, true);
      for (const m of alone) this.channel.ack(m);
    } catch {
      // The channel closed meanwhile: the broker requeued what it held.
    }
  }

  /** The channel closed: acks asked for from now on report false, and waiting ones are dropped. */
  close(): void {
    this.closed = true;
    this.pending = [];
    this.inHand.clear();
  }
}

const batches = new WeakMap<TransportChannel, AckBatch>();

/** The ack batch of a consumer channel. */
export function acksOf(channel: TransportChannel): AckBatch {
  let batch = batches.get(channel);
  if (!batch) {
    batch = new AckBatch(channel);
    batches.set(channel, batch);
  }
  return batch;
}
