import { BrokerUnavailableError, ClosedError, PublishRejectedError, UnroutableError } from '../errors';
import type { Logger } from '../logging/logger';
import { RateLimitedLog } from '../logging/rate-limited-log';
import type { AmqpProperties } from '../protocol';
import type { ReturnedMessage, Transport, TransportConfirmChannel } from './transport';

/** AMQP basic properties of a publish: the protocol layer's, camelCase as amqplib names them. */
export type PublishProperties = AmqpProperties;

export interface PublisherOptions {
  name: string;
  logger: Logger;
  /** A publish not confirmed within this time rejects with BrokerUnavailableError. @defaultValue 10000 */
  publishTimeoutMs?: number;
  /** Publishes waiting for the broker at once; one more rejects at once. @defaultValue 10000 */
  maxPending?: number;
  /**
   * Whether a publish may outlive the connection it started on. `true` (the default): while
   * disconnected, publishes wait (at most `publishTimeoutMs`) and go out after the reconnect.
   * `false`: a publish while disconnected rejects at once, and when the connection goes, every
   * publish not yet confirmed rejects at once and is never sent again (beat: its lock went with
   * the connection, so a buffered fire must not go out after the reconnect).
   * @defaultValue true
   */
  survivesReconnect?: boolean;
}

export interface PublishRequest {
  exchange: string;
  routingKey: string;
  body: Buffer;
  properties: PublishProperties;
  /** Ask the broker to return the message when no queue is bound for it. @defaultValue true */
  mandatory?: boolean;
}

/** One publish, from the call until it settles. */
interface Pending {
  readonly request: PublishRequest;
  readonly mandatory: boolean;
  /** Exchange and routing key: what the broker routes by, so what a nack is about. */
  readonly route: string;
  /** Call order. */
  readonly seq: number;
  readonly began: number;
  /** When it times out, on the monotonic clock (`performance.now()`). */
  readonly deadline: number;
  /** The unsettled publishes in call order, a list through the entries themselves: see `sweep`. */
  older: Pending | undefined;
  newer: Pending | undefined;
  /**
   * `queued`: not written yet; `held`: not written yet, waiting for its route's backoff after a
   * nack; `sent`: written, waiting for its confirm; `refused`: the channel would not write it,
   * and the publisher waits to see whether that channel is closing.
   */
  state: 'queued' | 'held' | 'sent' | 'refused' | 'settled';
  /** The channel it was written to (or refused by). */
  channel: OpenChannel | undefined;
  /** The broker's nacks of this publish so far. */
  nacks: number;
  /** The channels that nacked it, by id (made at the first nack). */
  nackedOn: Set<number> | undefined;
  /** The node of the last nack. */
  nackNode: string | undefined;
  resolve(): void;
  reject(error: Error): void;
}

/** The publisher's confirm channel and what was sent on it. */
interface OpenChannel {
  readonly id: number;
  readonly channel: TransportConfirmChannel;
  /** The node the channel is on (`Transport.connectedTo()` when it opened). */
  readonly node: string | undefined;
  /** Written and not yet confirmed, in order. */
  readonly unconfirmed: Set<Pending>;
  /** Routes the broker acked a publish to on this channel. */
  readonly acked: Set<string>;
  /**
   * A nack retired it: nothing more is written on it, and it closes once what was written on it
   * is confirmed or nacked.
   */
  retired: boolean;
  /** The channel emitted `close`. */
  closed: boolean;
  /** publish() returned false: the buffers are full until `drain`. */
  full: boolean;
  /** The broker's reason when it closed this channel by itself (a 404 for a deleted exchange). */
  closeReason: string | undefined;
  /** Publishes the channel refused to write, in order, waiting for REFUSAL_GRACE_MS. */
  readonly refused: Array<{ entry: Pending; error: unknown }>;
  refusalTimer: NodeJS.Timeout | undefined;
}

/** How long a channel that refused a write has to show that it is closing. */
const REFUSAL_GRACE_MS = 500;

/** The wait before a nacked route is written again: 100 ms, doubling with each nack in a row, at most 1 s. */
const NACK_BACKOFF_MS = 100;
const MAX_NACK_BACKOFF_MS = 1000;
/** A route nacked again longer than this after its last backoff starts its backoff afresh. */
const NACK_STREAK_MS = 30_000;
/** Routes remembered as acked per channel; past it the set starts again (a worker replies to many queues). */
const MAX_ACKED_ROUTES = 1000;

/**
 * Publishes to one route (exchange and routing key) that wait for its backoff after a nack:
 * while `timer` runs, the route's publishes are held here, the nacked ones and new ones alike,
 * in call order, so that a route the broker refuses costs one write per backoff, not one per call.
 */
interface Hold {
  readonly entries: Pending[];
  timer: NodeJS.Timeout | undefined;
  /** Nacks in a row (backoffs begun) without an ack to the route. */
  streak: number;
  releasedAt: number;
}

/**
 * Publishes with confirms on a confirm channel of its own, opened through the transport and
 * again after every reconnect (`onConnect`), or at once when the broker closes it while the
 * connection stays.
 *
 * - Confirms are pipelined: each publish is written as soon as a channel is there (and its
 *   buffers have room: after publish() returned false, the next wait for `drain`), and resolves
 *   when its own confirm arrives; nothing waits for another's confirm.
 * - Publishes go out in call order. While there is no channel (disconnected, or being opened)
 *   they wait in that order, each at most `publishTimeoutMs` from its call, at most `maxPending`
 *   of them in all (written-and-unconfirmed ones count too). The exception is a route the broker
 *   nacked: see below.
 * - A nack (basic.nack) is retried, not reported, until `publishTimeoutMs` from the call. On a
 *   cluster on RabbitMQ 3.10 a channel whose first publish to a quorum queue comes while the
 *   queue's leader is gone and not yet replaced nacks every publish to that queue for as long as
 *   the old leader's node stays down (its queue client asks the dead node once and keeps the
 *   answer). So a nack on a channel that never had a publish to that route acked retires the
 *   channel: nothing more is written on it, a new channel takes what follows, and the old one
 *   closes once its own confirms are in. The nacked publish, and every later one to the same
 *   route, waits 100 ms (doubling with each nack in a row, at most 1 s), then goes out on the
 *   current channel, after publishes to other routes that were called later. When the deadline
 *   passes for a publish whose every write was nacked, it rejects with PublishRejectedError
 *   naming the node, the route, the nacks and the likely reasons. A message is routed by exchange
 *   and key, so a retry can duplicate it only in the other queues of a route to several queues
 *   (a fanout) that took it the first time.
 * - A nack on a channel that had delivered to that route before cannot be such a queue client
 *   (it follows the queue's leader from then on): the queue itself refused the message, most
 *   likely full with overflow reject-publish. That is final: PublishRejectedError at once, and
 *   the channel stays.
 * - Unroutable messages: the broker sends basic.return before the basic.ack of the same message
 *   on the same channel, and the channel emits them in that order, so by the time a publish's
 *   confirm resolves its return (if any) has been recorded.
 * - What a failure is comes from what the publisher saw, never from an error's text: a confirm
 *   that fails while its channel stays open is a nack (tried again, or PublishRejectedError as
 *   above); one whose channel
 *   closed first (the channel tells `close` in the same turn as it fails its confirms) was cut
 *   off (BrokerUnavailableError: the broker may or may not have it); a deadline that passes is
 *   a timeout (BrokerUnavailableError).
 */
export class Publisher {
  private current: OpenChannel | undefined;
  /** The channel being opened; one at a time. */
  private opening: Promise<void> | undefined;
  private unsubscribe: (() => void) | undefined;
  private started = false;
  private closed = false;
  /** Not yet written, in call order (save retried ones, which go first). */
  private readonly queue: Pending[] = [];
  /** The oldest and newest unsettled publishes: their deadlines come in the same order. */
  private oldest: Pending | undefined;
  private newest: Pending | undefined;
  /** One timer for every deadline, due at the oldest one's: see `sweep`. */
  private deadlineTimer: NodeJS.Timeout | undefined;
  /** Routes waiting out their backoff after a nack, with their held publishes. */
  private readonly holds = new Map<string, Hold>();
  private pending = 0;
  private seq = 0;
  private channelIds = 0;
  /** The node of the last channel opened: a change is logged. */
  private lastNode: string | undefined;
  private lastRetiredLog = 0;
  /** Returned messages not yet matched to their confirm, by return key, with a count. */
  private readonly returned = new Map<string, { count: number; reply: string }>();
  private readonly logger: Logger;
  private readonly openFailures: RateLimitedLog;
  private readonly timeoutMs: number;
  private readonly maxPending: number;
  private readonly survivesReconnect: boolean;
  private readonly observers = new Set<(latencyMs: number, confirmed: boolean) => void>();

  constructor(
    private readonly transport: Transport,
    private readonly options: PublisherOptions,
  ) {
    this.logger = options.logger.child({ component: 'publisher', publisher: options.name });
    this.openFailures = new RateLimitedLog(this.logger);
    this.timeoutMs = options.publishTimeoutMs ?? 10_000;
    this.maxPending = options.maxPending ?? 10_000;
    this.survivesReconnect = options.survivesReconnect ?? true;
  }

  /** Opens the confirm channel on the current connection, and after every reconnect. */
  async start(): Promise<void> {
    if (this.closed) throw new ClosedError('the publisher is closed');
    if (this.started) return;
    this.started = true;
    this.unsubscribe = this.transport.onConnect(() => this.onReconnect());
    try {
      if (this.transport.isConnected()) await this.open();
    } catch (error) {
      // Disconnected meanwhile: the reconnect opens it, and publishes wait for that.
      if (!this.transport.isConnected()) return;
      this.started = false;
      this.unsubscribe();
      this.unsubscribe = undefined;
      throw error;
    }
  }

  /**
   * Resolves once the broker confirmed the message; rejects when it was returned, refused or
   * timed out. While disconnected the publish waits for the reconnect, at most
   * `publishTimeoutMs` in all, among at most `maxPending` others; then it rejects with
   * BrokerUnavailableError, naming the broker and how long it waited. A rejected publish may
   * still have reached the broker (the connection went before its confirm came). A nack is
   * retried within the same `publishTimeoutMs`; one that stays nacked rejects with
   * PublishRejectedError at the deadline.
   */
  publish(request: PublishRequest): Promise<void> {
    // Not async: the promise below is the only one a publish makes (this runs once per task).
    if (this.closed) return Promise.reject(new ClosedError('the publisher is closed'));
    if (!this.started) return Promise.reject(new BrokerUnavailableError('the publisher is not started'));
    const broker = this.transport.broker;
    if (this.pending >= this.maxPending) {
      return Promise.reject(
        new BrokerUnavailableError(
          `${this.pending} publishes are already waiting for the broker at ${broker} (limit ${this.maxPending}); ` +
            (this.transport.isConnected() ? 'it is slow to confirm' : 'it is not connected'),
        ),
      );
    }
    if (!this.survivesReconnect && !this.transport.isConnected()) {
      return Promise.reject(new BrokerUnavailableError(`not connected to the broker at ${broker}`));
    }
    return new Promise<void>((resolve, reject) => {
      const entry: Pending = {
        request,
        mandatory: request.mandatory ?? true,
        route: routeKey(request.exchange, request.routingKey),
        seq: this.seq++,
        began: Date.now(),
        deadline: performance.now() + this.timeoutMs,
        older: this.newest,
        newer: undefined,
        state: 'queued',
        channel: undefined,
        nacks: 0,
        nackedOn: undefined,
        nackNode: undefined,
        resolve,
        reject,
      };
      if (this.newest) this.newest.newer = entry;
      else this.oldest = entry;
      this.newest = entry;
      this.deadlineTimer ??= setTimeout(() => this.sweep(), this.timeoutMs);
      this.pending += 1;
      const hold = this.holds.size > 0 ? this.holds.get(entry.route) : undefined;
      if (hold?.timer !== undefined) {
        entry.state = 'held';
        hold.entries.push(entry);
        return;
      }
      this.queue.push(entry);
      this.flush();
    });
  }

  /**
   * Times out every publish whose deadline passed, then waits for the next deadline. Every
   * publish has the same timeout, so deadlines come in call order: one timer, due at the oldest
   * unsettled publish's deadline, serves them all, where a timer per publish was an object
   * and a timer-list entry kept alive until its confirm. It stops when nothing is left to settle.
   */
  private sweep(): void {
    this.deadlineTimer = undefined;
    const now = performance.now();
    while (this.oldest !== undefined && this.oldest.deadline <= now) this.timedOut(this.oldest);
    if (this.oldest !== undefined) this.deadlineTimer = setTimeout(() => this.sweep(), Math.max(1, this.oldest.deadline - now));
  }

  /** Writes queued publishes, in order, while the channel is open and its buffers have room. */
  private flush(): void {
    const open = this.current;
    if (!open) {
      if (this.queue.length > 0 && this.transport.isConnected()) this.reopen();
      return;
    }
    while (this.queue.length > 0 && !open.closed && !open.full) {
      const entry = this.queue.shift()!;
      const { exchange, routingKey, body, properties } = entry.request;
      entry.state = 'sent';
      entry.channel = open;
      open.unconfirmed.add(entry);
      let room: boolean;
      try {
        room = open.channel.publish(exchange, routingKey, body, { ...properties, mandatory: entry.mandatory }, (error) =>
          this.confirmed(open, entry, error),
        );
      } catch (error) {
        // Nothing was written: the channel is closing (it refuses writes a round trip before it
        // tells `close`), or it cannot encode this message. Which one shows when the channel
        // closes, or does not, within REFUSAL_GRACE_MS.
        open.unconfirmed.delete(entry);
        entry.state = 'refused';
        open.refused.push({ entry, error });
        open.refusalTimer ??= setTimeout(() => this.judgeRefusals(open), REFUSAL_GRACE_MS);
        continue;
      }
      if (!room) open.full = true;
    }
  }

  /** The channel's callback: `null` once the broker acked, an error when it nacked or the channel closed first. */
  private confirmed(open: OpenChannel, entry: Pending, error: Error | null): void {
    if (entry.state !== 'sent' || entry.channel !== open) return;
    if (error === null) {
      open.unconfirmed.delete(entry);
      if (open.acked.size >= MAX_ACKED_ROUTES) open.acked.clear();
      open.acked.add(entry.route);
      this.routeWorks(entry.route);
      // The broker sends basic.return before the basic.ack of the same message: a return of
      // this one has been recorded by now. Confirmed all the same, for the observers.
      const reply = entry.mandatory && this.returned.size > 0 ? this.takeReturn(returnKey(entry.request)) : undefined;
      if (reply === undefined) this.settle(entry);
      else this.settle(entry, new UnroutableError(entry.request.exchange, entry.request.routingKey, reply), true);
      this.closeIfDone(open);
      return;
    }
    // A channel closing fails its unconfirmed publishes and tells `close` in the same turn, in
    // either order: decide once that turn is over.
    setImmediate(() => {
      if (entry.state !== 'sent' || entry.channel !== open) return;
      open.unconfirmed.delete(entry);
      if (open.closed) this.settle(entry, this.cutOff(open, entry, error));
      else this.nacked(open, entry);
    });
  }

  /**
   * The broker nacked `entry` on `open`, which stays open. On a channel that had delivered to
   * this route before, the queue itself refused it (a queue full with overflow reject-publish):
   * final. On one that had not, it may be a queue client that will nack the route for good: the
   * channel is retired, and the publish waits for its route's backoff, then goes out again on
   * the current channel.
   */
  private nacked(open: OpenChannel, entry: Pending): void {
    entry.nacks += 1;
    (entry.nackedOn ??= new Set()).add(open.id);
    entry.nackNode = open.node;
    if (open.acked.has(entry.route)) {
      this.settle(entry, this.rejected(entry, 'refused'));
      this.closeIfDone(open);
      return;
    }
    this.retire(open, entry);
    this.closeIfDone(open);
    entry.channel = undefined;
    entry.state = 'held';
    this.holdRoute(entry.route).entries.push(entry);
  }

  /** The route's hold, begun (or begun again, with a longer backoff) unless it is running. */
  private holdRoute(route: string): Hold {
    let hold = this.holds.get(route);
    if (hold?.timer !== undefined) return hold;
    if (hold === undefined || Date.now() - hold.releasedAt > NACK_STREAK_MS) {
      hold = { entries: hold?.entries ?? [], timer: undefined, streak: 0, releasedAt: 0 };
      this.holds.set(route, hold);
    }
    const delayMs = Math.min(MAX_NACK_BACKOFF_MS, NACK_BACKOFF_MS * 2 ** hold.streak);
    hold.streak += 1;
    const begun = hold;
    hold.timer = setTimeout(() => this.release(route, begun), delayMs);
    return hold;
  }

  /** The route's backoff is over: its publishes go out first, in call order. */
  private release(route: string, hold: Hold): void {
    clearTimeout(hold.timer);
    hold.timer = undefined;
    hold.releasedAt = Date.now();
    const entries = hold.entries.splice(0).sort((a, b) => a.seq - b.seq);
    for (const entry of entries) entry.state = 'queued';
    this.queue.unshift(...entries);
    if (entries.length > 0) this.flush();
  }

  /** An ack to `route`: the broker takes it now; what waits for its backoff goes out at once. */
  private routeWorks(route: string): void {
    const hold = this.holds.get(route);
    if (hold === undefined) return;
    this.holds.delete(route);
    if (hold.timer !== undefined) this.release(route, hold);
  }

  /** Writes nothing more on `open`; a new channel takes what follows. */
  private retire(open: OpenChannel, entry: Pending): void {
    if (open.retired) return;
    open.retired = true;
    const fields = { node: open.node, exchange: entry.request.exchange, routingKey: entry.request.routingKey };
    const message = 'the broker nacked a publish on a channel that had not delivered to its route before; publishing on a new channel';
    if (Date.now() - this.lastRetiredLog >= 60_000) {
      this.lastRetiredLog = Date.now();
      this.logger.warn(fields, message);
    } else {
      this.logger.debug(fields, message);
    }
    if (this.current !== open) return;
    this.current = undefined;
    if (this.transport.isConnected() && !this.closed) this.reopen();
  }

  /** Closes a retired channel once nothing written on it waits for its confirm. */
  private closeIfDone(open: OpenChannel): void {
    if (!open.retired || open.closed || open.unconfirmed.size > 0 || open.refused.length > 0) return;
    open.closed = true;
    void open.channel.close().catch(() => undefined);
  }

  /**
   * What a nacked publish rejects with: at once when a channel that had delivered to its route
   * before nacked it (`refused`), or at its deadline when every write of it was nacked.
   */
  private rejected(entry: Pending, why: 'refused' | 'deadline'): PublishRejectedError {
    const { exchange, routingKey } = entry.request;
    const channels = entry.nackedOn?.size ?? 0;
    const counts =
      `${entry.nacks === 1 ? 'once' : `${entry.nacks} times`} on ${channels === 1 ? '1 channel' : `${channels} channels`} ` +
      `over ${Date.now() - entry.began} ms`;
    const reason =
      why === 'refused'
        ? '(basic.nack, on a channel that had delivered there before): a queue it routes to is most likely full (maxLength with overflow reject-publish)'
        : `(basic.nack; retried until publishTimeoutMs, ${this.timeoutMs} ms): a quorum queue it routes to has no reachable leader ` +
          "(the leader's node is down or an election is under way), or a queue it routes to is full (maxLength with overflow reject-publish)";
    return new PublishRejectedError(
      `the broker at ${entry.nackNode ?? this.transport.broker} refused the message to ${targetOf(entry)} with routing key "${routingKey}" ${counts} ${reason}`,
      undefined,
      { node: entry.nackNode, exchange, routingKey, nacks: entry.nacks, channels },
    );
  }

  /**
   * The channel did not tell `close`: with the connection up, it refused those messages
   * themselves; with the connection gone, it died without a word, and counts as closed.
   */
  private judgeRefusals(open: OpenChannel): void {
    open.refusalTimer = undefined;
    if (open.closed) return;
    if (!this.transport.isConnected()) {
      this.onChannelClosed(open);
      return;
    }
    for (const { entry, error } of open.refused.splice(0)) {
      this.settle(entry, new PublishRejectedError(`the message to ${targetOf(entry)} could not be published: ${describe(error)}`, error));
    }
  }

  private cutOff(open: OpenChannel, entry: Pending, cause?: unknown): BrokerUnavailableError {
    const reason = open.closeReason ? `: ${open.closeReason}` : '';
    return new BrokerUnavailableError(
      `the channel to the broker at ${open.node ?? this.transport.broker} closed before it confirmed the message to ${targetOf(entry)} ` +
        `(waited ${Date.now() - entry.began} ms); it may or may not have it${reason}`,
      cause,
    );
  }

  private timedOut(entry: Pending): void {
    const { state, channel } = entry;
    if (state === 'settled') return;
    if (state === 'queued') this.queue.splice(this.queue.indexOf(entry), 1);
    else if (state === 'held') removeFrom(this.holds.get(entry.route)?.entries, entry);
    else if (state === 'refused') channel?.refused.splice(channel.refused.findIndex((r) => r.entry === entry), 1);
    else channel?.unconfirmed.delete(entry);
    // Nacked each time it was written, and not written now: the broker does not have it.
    if (entry.nacks > 0 && state !== 'sent') {
      this.settle(entry, this.rejected(entry, 'deadline'));
    } else {
      const nacked = entry.nacks > 0 ? `; nacked ${entry.nacks === 1 ? 'once' : `${entry.nacks} times`} before` : '';
      this.settle(
        entry,
        new BrokerUnavailableError(
          `the broker at ${this.transport.connectedTo() ?? this.transport.broker} did not confirm the message to ${targetOf(entry)} within ${this.timeoutMs} ms ` +
            `(waited ${Date.now() - entry.began} ms, ${this.transport.isConnected() ? 'connected' : 'disconnected'}${nacked})`,
        ),
      );
    }
    if (channel) this.closeIfDone(channel);
  }

  /** Resolves or rejects `entry`; `confirmed`: the broker confirmed it (an unroutable message is). */
  private settle(entry: Pending, error?: Error, confirmed = error === undefined): void {
    if (entry.state === 'settled') return;
    entry.state = 'settled';
    this.unlink(entry);
    this.pending -= 1;
    if (error) entry.reject(error);
    else entry.resolve();
    if (this.observers.size === 0) return;
    const ms = Date.now() - entry.began;
    for (const observer of [...this.observers]) {
      try {
        observer(ms, confirmed);
      } catch {
        // An observer (metrics) changes nothing about a publish.
      }
    }
  }

  /** Takes a settled publish out of the deadline list; the timer stops when the list is empty. */
  private unlink(entry: Pending): void {
    const { older, newer } = entry;
    if (older) older.newer = newer;
    else this.oldest = newer;
    if (newer) newer.older = older;
    else this.newest = older;
    entry.older = undefined;
    entry.newer = undefined;
    if (this.oldest === undefined && this.deadlineTimer !== undefined) {
      clearTimeout(this.deadlineTimer);
      this.deadlineTimer = undefined;
    }
  }

  /**
   * Calls `observer` as each publish settles, with the milliseconds from the call to the
   * broker's confirm (or to the failure) and whether it was confirmed: for metrics. Returns a
   * function that removes it. An observer that throws changes nothing.
   */
  observe(observer: (latencyMs: number, confirmed: boolean) => void): () => void {
    this.observers.add(observer);
    return () => this.observers.delete(observer);
  }

  /** Opens a confirm channel, once at a time; what is queued goes out on it. */
  private open(): Promise<void> {
    this.opening ??= (async () => {
      try {
        const channel = await this.transport.openConfirmChannel();
        if (this.closed) {
          await channel.close().catch(() => undefined);
          return;
        }
        this.attach(channel);
      } finally {
        this.opening = undefined;
      }
    })();
    return this.opening.then(() => this.flush());
  }

  /**
   * Opens a channel in the background. A failure while connected is logged (at most once a
   * minute while it repeats); what is queued waits for the next try (the next publish, the next
   * reconnect) or its deadline. One while disconnected is the reconnect's to mend.
   */
  private reopen(): void {
    this.open().catch((error: unknown) => {
      if (this.transport.isConnected() && !this.closed) this.openFailures.error({ err: describe(error) }, 'could not open a publish channel');
    });
  }

  private attach(channel: TransportConfirmChannel): void {
    const open: OpenChannel = {
      id: this.channelIds++,
      channel,
      node: this.transport.connectedTo(),
      unconfirmed: new Set(),
      acked: new Set(),
      retired: false,
      closed: false,
      full: false,
      closeReason: undefined,
      refused: [],
      refusalTimer: undefined,
    };
    channel.on('return', (message: ReturnedMessage) => this.recordReturn(message));
    channel.on('error', (error: Error) => {
      open.closeReason = error.message;
    });
    channel.on('drain', () => {
      open.full = false;
      if (this.current === open) this.flush();
    });
    channel.on('close', () => this.onChannelClosed(open));
    this.current = open;
    if (open.node !== this.lastNode) {
      this.lastNode = open.node;
      this.logger.info({ node: open.node }, 'publishing on this node');
    }
  }

  /**
   * What was written and not confirmed is cut off: the broker may or may not have it. What is
   * queued waits for the next channel: at once when the broker closed this one while the
   * connection stays (a 404 for a deleted exchange: every later publish would otherwise wait
   * out its timeout), after the reconnect when the connection went (the connection reports its
   * own close just after its channels'), except without `survivesReconnect`.
   */
  private onChannelClosed(open: OpenChannel): void {
    open.closed = true;
    for (const entry of open.unconfirmed) this.settle(entry, this.cutOff(open, entry));
    open.unconfirmed.clear();
    // Refused while closing: never written, so they wait for the next channel, first in line.
    clearTimeout(open.refusalTimer);
    const refused = open.refused.splice(0).map(({ entry }) => entry);
    for (const entry of refused) entry.state = 'queued';
    this.queue.unshift(...refused);
    const wasCurrent = this.current === open;
    if (wasCurrent) this.current = undefined;
    else if (open.retired) return; // closed by closeIfDone, or with the connection (the current channel tells that)
    setImmediate(() => {
      if (!this.started || this.closed) return;
      if (!this.transport.isConnected()) {
        if (!this.survivesReconnect) this.dropQueued('the connection went before it was sent; it is not sent after the reconnect');
      } else if (wasCurrent && !this.current) {
        this.logger.warn({ reason: open.closeReason }, 'the broker closed the publish channel; opening a new one');
        this.reopen();
      }
    });
  }

  private onReconnect(): void {
    if (!this.started || this.closed) return;
    // Without survivesReconnect nothing of an older connection goes out on this one.
    if (!this.survivesReconnect) this.dropQueued('the connection went before it was sent; it is not sent after the reconnect');
    this.reopen();
  }

  private dropQueued(why: string): void {
    for (const entry of [...this.queue.splice(0), ...this.takeHeld()]) {
      this.settle(entry, new BrokerUnavailableError(`the message to ${targetOf(entry)} was not sent to the broker at ${this.transport.broker}: ${why}`));
    }
  }

  private recordReturn(message: ReturnedMessage): void {
    const { exchange, routingKey } = message.fields;
    const key = returnKey({ exchange, routingKey, properties: message.properties });
    const entry = this.returned.get(key);
    const { fields } = message;
    const reply = `${fields.replyCode ?? 312} ${fields.replyText ?? 'NO_ROUTE'}`;
    this.returned.set(key, { count: (entry?.count ?? 0) + 1, reply });
  }

  private takeReturn(key: string): string | undefined {
    const entry = this.returned.get(key);
    if (!entry) return undefined;
    if (entry.count <= 1) this.returned.delete(key);
    else entry.count -= 1;
    return entry.reply;
  }

  /**
   * Stops publishing: what is queued rejects with ClosedError, and the channel closes (the broker
   * confirms what was written before it answers the close).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.started = false;
    this.unsubscribe?.();
    const open = this.current;
    const refused = open?.refused.splice(0).map(({ entry }) => entry) ?? [];
    clearTimeout(open?.refusalTimer);
    for (const entry of [...refused, ...this.queue.splice(0), ...this.takeHeld()]) this.settle(entry, new ClosedError('the publisher is closed'));
    await this.opening?.catch(() => undefined);
    this.current = undefined;
    if (open && !open.closed) await open.channel.close().catch(() => undefined);
  }

  /** Every publish waiting for a route's backoff, in call order; the backoffs stop. */
  private takeHeld(): Pending[] {
    const held: Pending[] = [];
    for (const hold of this.holds.values()) {
      clearTimeout(hold.timer);
      hold.timer = undefined;
      held.push(...hold.entries.splice(0));
    }
    this.holds.clear();
    return held.sort((a, b) => a.seq - b.seq);
  }
}

/** `exchange "name"`, for messages. */
function targetOf(entry: Pending): string {
  return `exchange "${entry.request.exchange || '(default)'}"`;
}

function routeKey(exchange: string, routingKey: string): string {
  return `${exchange}\u0000${routingKey}`;
}

function removeFrom<T>(list: T[] | undefined, item: T): void {
  const index = list?.indexOf(item) ?? -1;
  if (index >= 0) list!.splice(index, 1);
}

/** What matches a returned message to its publish: exchange, routing key and correlation id. */
function returnKey({ exchange, routingKey, properties }: { exchange: string; routingKey: string; properties: { correlationId?: unknown } }): string {
  const { correlationId } = properties;
  return `${exchange}\u0000${routingKey}\u0000${typeof correlationId === 'string' ? correlationId : ''}`;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
