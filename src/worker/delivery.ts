import type { DeliveredMessage, TransportChannel } from '../transport';
import { acksOf } from './ack-batch';

/** One message handed to this worker, and the channel it must be settled on. */
export interface Delivery {
  channel: TransportChannel;
  message: DeliveredMessage;
  queue: string;
  /** Acked, rejected or handed back already: a delivery is settled exactly once. */
  settled: boolean;
}

/**
 * Acks, requeues or rejects on the channel the message came from, once. False when it was
 * settled before or that channel is gone (the broker has then requeued it by itself). An ack
 * goes out at the end of the turn, with the others of that turn (see `AckBatch`).
 */
export function settle(delivery: Delivery, how: 'ack' | 'requeue' | 'reject'): boolean {
  if (delivery.settled) return false;
  delivery.settled = true;
  const acks = acksOf(delivery.channel);
  try {
    if (how === 'ack') return acks.ack(delivery.message);
    acks.nack(delivery.message, how === 'requeue');
    return true;
  } catch {
    return false;
  }
}
