import { createHash } from 'node:crypto';
import { copiedProperties } from '../protocol';
import { isBrokerHeader } from '../topology';
import type { DeliveredMessage, Transport, TransportConfirmChannel } from '../transport';

/** One message of a dead-letter queue, as the page shows it. */
export interface DeadLetter {
  /** Names this message for `requeue` and `delete`: a digest of its body and headers. */
  key: string;
  taskId: string | null;
  task: string | null;
  /** `x-warren-reason`, else the broker's `x-death` reason (`rejected`, `expired`, `delivery_limit`). */
  reason: string | null;
  /** The queue it came from (`x-warren-queue`, else the broker's `x-death`): where requeue sends it. */
  queue: string | null;
  worker: string | null;
  deadLetteredAt: string | null;
  argsrepr: string | null;
  kwargsrepr: string | null;
  /** The start of the body, as text. */
  body: string;
}

const BODY_PREVIEW = 2000;
/** How long a look at a queue waits for the messages the broker said it holds. */
const COLLECT_MS = 1500;

const text = (value: unknown): string | null => (typeof value === 'string' ? value : Buffer.isBuffer(value) ? value.toString('utf8') : null);

/** The broker's first `x-death` entry (the latest dead-lettering). */
function death(headers: Record<string, unknown>): Record<string, unknown> | undefined {
  const list = headers['x-death'];
  return Array.isArray(list) && typeof list[0] === 'object' && list[0] !== null ? (list[0] as Record<string, unknown>) : undefined;
}

export function describeDeadLetter(message: Pick<DeliveredMessage, 'content' | 'properties'>): DeadLetter {
  const headers = (message.properties.headers ?? {}) as Record<string, unknown>;
  const died = death(headers);
  const key = createHash('sha256')
    .update(message.content)
    .update(JSON.stringify(headers, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v)))
    .digest('hex')
    .slice(0, 24);
  return {
    key,
    taskId: text(headers.id),
    task: text(headers.task),
    reason: text(headers['x-warren-reason']) ?? (died ? text(died.reason) : null),
    queue: text(headers['x-warren-queue']) ?? (died ? text(died.queue) : null),
    worker: text(headers['x-warren-worker']),
    deadLetteredAt: text(headers['x-warren-dead-lettered-at']),
    argsrepr: text(headers.argsrepr),
    kwargsrepr: text(headers.kwargsrepr),
    body: message.content.subarray(0, BODY_PREVIEW).toString('utf8'),
  };
}

/**
 * Takes up to `limit` messages of a queue without settling them, handing each to `visit`, which
 * may settle it (then it is gone) and may say to stop. Whatever is left unsettled goes back when
 * the channel closes, in its place. The queue's depth, asked first, says how many to wait for.
 */
async function visit(
  transport: Transport,
  queue: string,
  limit: number,
  onMessage: (message: DeliveredMessage, channel: TransportConfirmChannel) => Promise<'next' | 'stop'>,
): Promise<number> {
  const channel = await transport.openConfirmChannel();
  channel.on('error', () => undefined);
  try {
    const { messageCount } = await channel.checkQueue(queue);
    const want = Math.min(messageCount, limit);
    if (want === 0) return messageCount;
    await channel.prefetch(want);
    await new Promise<void>((resolve, reject) => {
      let seen = 0;
      let chain = Promise.resolve<'next' | 'stop'>('next');
      const timer = setTimeout(resolve, COLLECT_MS);
      const finish = (error?: unknown) => {
        clearTimeout(timer);
        if (error) reject(error);
        else resolve();
      };
      channel
        .consume(queue, (message) => {
          if (!message) return finish();
          chain = chain.then(async (last) => {
            if (last === 'stop') return 'stop';
            seen++;
            const next = await onMessage(message, channel);
            if (next === 'stop' || seen >= want) finish();
            return next;
          });
          chain.catch(finish);
        })
        .catch(finish);
    });
    return messageCount;
  } finally {
    await channel.close().catch(() => undefined);
  }
}

/** The first `limit` messages of a dead-letter queue, left where they are; and how many it holds. */
export async function browseDeadLetters(transport: Transport, queue: string, limit = 100): Promise<{ total: number; messages: DeadLetter[] }> {
  const messages: DeadLetter[] = [];
  const total = await visit(transport, queue, limit, async (message) => {
    messages.push(describeDeadLetter(message));
    return 'next';
  });
  return { total, messages };
}

/** Why a requeue or delete did nothing. */
export type SettleOutcome = { done: true; queue?: string } | { done: false; reason: string };

/**
 * Deletes a dead letter, or sends it back to the queue it came from (through the default
 * exchange, without the dead-lettering headers, confirmed by the broker before the dead letter
 * is acked: a requeue never loses it, at worst leaves a copy in both). Looks among the first
 * `limit` messages for the one with this key.
 */
export async function settleDeadLetter(transport: Transport, deadLetterQueue: string, key: string, action: 'requeue' | 'delete', limit = 1000): Promise<SettleOutcome> {
  let outcome: SettleOutcome = { done: false, reason: `no message with key ${key} among the first ${limit} of ${deadLetterQueue} (gone meanwhile?)` };
  await visit(transport, deadLetterQueue, limit, async (message, channel) => {
    const letter = describeDeadLetter(message);
    if (letter.key !== key) return 'next';
    if (action === 'delete') {
      channel.ack(message);
      outcome = { done: true };
      return 'stop';
    }
    if (letter.queue === null) {
      outcome = { done: false, reason: 'the message says no queue it came from (no x-warren-queue or x-death header)' };
      return 'stop';
    }
    const headers = Object.fromEntries(
      Object.entries((message.properties.headers ?? {}) as Record<string, unknown>).filter(([name]) => !isBrokerHeader(name) && !name.startsWith('x-warren-')),
    );
    const target = letter.queue;
    try {
      await transport.withTemporaryChannel((ch) => ch.checkQueue(target));
    } catch (error) {
      outcome = { done: false, reason: `queue ${target} is not on the broker (${(error as Error).message})` };
      return 'stop';
    }
    // Unroutable after all (deleted meanwhile): the broker returns it before the confirm, and the dead letter stays.
    let returned = false;
    const onReturn = () => (returned = true);
    channel.on('return', onReturn);
    try {
      await new Promise<void>((resolve, reject) => {
        channel.publish('', target, message.content, { ...copiedProperties(message.properties, headers), mandatory: true }, (error) => (error ? reject(error) : resolve()));
      });
    } finally {
      channel.removeListener('return', onReturn);
    }
    if (returned) {
      outcome = { done: false, reason: `queue ${target} took no message (returned unroutable)` };
      return 'stop';
    }
    channel.ack(message);
    outcome = { done: true, queue: letter.queue };
    return 'stop';
  });
  return outcome;
}
