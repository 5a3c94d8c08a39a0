import type { DeliveredMessage, TransportChannel } from '../transport';

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
 * settled before or that channel is gone (the broker has then requeued it by itself).
 */
export function settle(delivery: Delivery, how: 'ack' | 'requeue' | 'reject'): boolean {
  if (delivery.settled) return false;
  delivery.settled = true;
  try {
    if (how === 'ack') delivery.channel.ack(delivery.message);
    else delivery.channel.nack(delivery.message, false, how === 'requeue');
    return true;
  } catch {
    return false;
  }
}
