import type { ChainableCommander, Cluster } from 'ioredis';
import type { RedisBackendUrl } from '../config';
import { ClosedError, InvalidMessageError, ResultBackendError } from '../errors';
import type { Logger } from '../logging/logger';
import { decodeResultMeta, encodeChordPart, encodeResultMeta, loads, type JsonDates, type ResultMeta, type TaskStatus } from '../protocol';
import { Lazy } from '../util/lazy';
import type { ChordCount, ChordCounter, ChordPart } from '../canvas/chord-counter';
import type { EncodedResult, ResultRecord, ResultStore, StoreOutcome } from '../worker/result-store';
import { AsyncResult } from './async-result';
import { createRedisConnection, groupKey, taskKey, withinTime, type RedisConnection, type WarrenCommands } from './redis-connection';
import { ResultTracker, type ResultTrackerOptions } from './result-tracker';

export interface RedisResultBackendOptions extends ResultTrackerOptions {
  /** Seconds a stored state lives (Celery's `result_expires`). @defaultValue 86400 */
  resultExpires?: number;
  /** How Dates and Buffers are written. @defaultValue 'tagged' */
  jsonDates?: JsonDates;
  /**
   * How long one store (or chord count) may take, reconnects and a cluster failover included;
   * past it the worker hands the message back. @defaultValue 20000
   */
  storeTimeoutMs?: number;
  /** How often results someone waits for are read, besides their pub/sub messages. @defaultValue 1000 */
  pollIntervalMs?: number;
}

interface EncodedRedisResult extends EncodedResult {
  readonly value: string;
}

const CHUNK = 200;

/**
 * Celery's Redis result backend, both sides, so warren and Python read each other's results:
 *
 * - a worker stores each state under `celery-task-meta-<task id>` (Celery's JSON, extended
 *   fields included), expiring after `resultExpires`, and publishes it on the channel of the
 *   same name; a SUCCESS already there is never overwritten;
 * - a caller subscribes to the channel of each task it follows, reads the key once subscribed
 *   (for a state stored before), and reads again the keys of the results someone waits for once
 *   a second, and after its subscriber reconnected: a message lost with a connection (a cluster
 *   failover) costs at most that second, never a `get()` that hangs;
 * - chords are counted as Celery 5.2 counts them: each header task adds `[1, id, state,
 *   result]` to the sorted set `celery-taskset-meta-<group>.j` at its index, and the one whose
 *   add makes the count reach the size in `.s` (plus `.t`) completes the chord.
 *
 * With `?waitReplicas=N` in the URL, each store is followed by `WAIT N timeout` on the node that
 * took it; fewer replicas in time makes the store fail, so the worker hands the message back
 * and the state is stored again by a later run rather than lost with a master that dies.
 */
export class RedisResultBackend extends ResultTracker implements ResultStore, ChordCounter {
  readonly display: string;
  readonly countsChords = true;
  private readonly expires: number;
  private readonly jsonDates: JsonDates;
  private readonly storeTimeoutMs: number;
  private readonly pollIntervalMs: number;
  private readonly commands = new Lazy(async () => this.open('results'));
  private subscriber: (RedisConnection & WarrenCommands) | undefined;
  private readonly toSubscribe = new Set<string>();
  private readonly toUnsubscribe = new Set<string>();
  private flushScheduled = false;
  /** Results someone waits for: read once a second until ready, forgotten or timed out. */
  private readonly waited = new Set<string>();
  private poller: NodeJS.Timeout | undefined;
  private readonly connections: RedisConnection[] = [];

  constructor(
    private readonly url: RedisBackendUrl,
    logger: Logger,
    options: RedisResultBackendOptions = {},
  ) {
    super(logger.child({ component: 'result-backend', backend: url.display }), options);
    this.display = url.display;
    this.expires = options.resultExpires ?? 86_400;
    this.jsonDates = options.jsonDates ?? 'tagged';
    this.storeTimeoutMs = options.storeTimeoutMs ?? 20_000;
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
  }

  private async open(role: string): Promise<RedisConnection & WarrenCommands> {
    if (this.closed) throw new ClosedError('the result backend is closed');
    const connection = createRedisConnection(this.url, this.logger, role);
    this.connections.push(connection);
    return connection;
  }

  /** Runs a command on the command connection, bounded by the store timeout. */
  private async run<T>(what: string, command: (redis: RedisConnection & WarrenCommands) => Promise<T>): Promise<T> {
    if (this.closed) throw new ClosedError(`the result backend is closed: ${what} refused`);
    const redis = await this.commands.get();
    try {
      return await withinTime(command(redis), this.storeTimeoutMs, () => `${what} on the Redis result backend ${this.display}`);
    } catch (err) {
      if (err instanceof ResultBackendError || err instanceof ClosedError) throw err;
      throw new ResultBackendError(`${what} on the Redis result backend ${this.display} failed: ${(err as Error).message}`, err);
    }
  }

  // --- worker side ---

  accepts(): boolean {
    return true;
  }

  encode(record: ResultRecord): EncodedRedisResult {
    const value = encodeResultMeta({
      taskId: record.taskId,
      status: record.status,
      result: record.result,
      traceback: record.traceback,
      children: record.children,
      groupId: record.groupId,
      parentId: record.parentId,
      extended: record.extended,
      jsonDates: this.jsonDates,
    });
    return { sizeBytes: Buffer.byteLength(value), taskId: record.taskId, status: record.status, value };
  }

  async store(encoded: EncodedResult): Promise<StoreOutcome> {
    const { taskId, value } = encoded as EncodedRedisResult;
    await this.put(taskKey(taskId), value, `storing the ${encoded.status} state of task ${taskId}`);
    return 'stored';
  }

  /** A store that failed stays failed: the worker hands its message back (the store waited its time already). */
  async recover(error: unknown): Promise<StoreOutcome> {
    throw error;
  }

  /** SETEX + PUBLISH (unless a SUCCESS is there), then WAIT for the replicas the URL asks for. */
  private async put(key: string, value: string, what: string): Promise<void> {
    const replicas = this.url.waitReplicas;
    await this.run(what, async (redis) => {
      if (replicas === 0) {
        await redis.warrenStore(key, value, this.expires);
        return;
      }
      // One pipeline, so WAIT goes to the node that took the write, right after it. ioredis does
      // not follow a MOVED in a pipeline that holds a write besides the moved command (WAIT
      // counts as one), nor a node lost under it: after a failover, learn the new owner and send
      // it again (the store is safe to repeat), within the store's time.
      for (;;) {
        const pipeline = redis.pipeline() as ChainableCommander & { warrenStore(key: string, value: string, expires: number): ChainableCommander };
        const replies = await pipeline.warrenStore(key, value, this.expires).wait(replicas, this.url.waitTimeoutMs).exec();
        const [stored, waited] = replies ?? [];
        const error = stored?.[0] ?? waited?.[0];
        if (error && /^(MOVED|ASK|CLUSTERDOWN|TRYAGAIN) |^Command aborted due to connection close|^Connection is closed/.test(error.message) && 'refreshSlotsCache' in redis) {
          await new Promise<void>((resolve) => (redis as Cluster).refreshSlotsCache(() => resolve()));
          await new Promise((resolve) => setTimeout(resolve, 100));
          continue;
        }
        if (error) throw error;
        const acknowledged = Number(waited?.[1] ?? 0);
        if (acknowledged < replicas) {
          throw new ResultBackendError(
            `${what} on the Redis result backend ${this.display}: ${acknowledged} of ${replicas} replicas acknowledged it within ${this.url.waitTimeoutMs} ms (waitReplicas)`,
          );
        }
        return;
      }
    });
  }

  /**
   * Records the size of a chord's header before its last task is sent, as Celery's
   * `set_chord_size` (`SETEX celery-taskset-meta-<group>.s`, published too).
   */
  async setChordSize(groupId: string, size: number): Promise<void> {
    await this.put(groupKey(groupId, '.s', this.url.cluster), String(size), `recording the size of chord ${groupId}`);
  }

  /**
   * Counts one header task's part, as Celery 5.2's `on_chord_part_return`: in one transaction
   * `ZADD .j <index> [1, id, state, result]`, `ZCOUNT .j`, `GET .t`, `GET .s`, each key's expiry
   * renewed. When the count reaches the size, reads the parts in header order: this caller
   * completes the chord, and deletes its counters with {@link forgetChord} once it did.
   */
  async countChordPart(part: ChordPart): Promise<ChordCount> {
    const cluster = this.url.cluster;
    const [jkey, tkey, skey] = (['.j', '.t', '.s'] as const).map((suffix) => groupKey(part.groupId, suffix, cluster));
    const member = encodeChordPart(part.taskId, part.status, part.result, this.jsonDates);
    const what = `counting task ${part.taskId} in chord ${part.groupId}`;
    const replies = await this.run(what, async (redis) => {
      const transaction = redis
        .multi()
        .zadd(jkey, part.groupIndex === null ? '+inf' : String(part.groupIndex), member)
        .zcount(jkey, '-inf', '+inf')
        .get(tkey)
        .get(skey);
      if (this.expires > 0) transaction.expire(jkey, this.expires).expire(tkey, this.expires).expire(skey, this.expires);
      return transaction.exec();
    });
    const value = (index: number): unknown => {
      const reply = replies?.[index];
      if (reply?.[0]) throw new ResultBackendError(`${what} on the Redis result backend ${this.display} failed: ${reply[0].message}`, reply[0]);
      return reply?.[1];
    };
    const ready = Number(value(1));
    const extra = Number(value(2) ?? 0);
    const size = value(3);
    if (size === null || size === undefined) return { complete: false };
    if (ready !== Number(size) + extra) return { complete: false };
    const members = await this.run(`reading the parts of chord ${part.groupId}`, (redis) => redis.zrange(jkey, 0, -1));
    return { complete: true, parts: members.map((text) => readPart(text, part.groupId)) };
  }

  /** Deletes a completed chord's counters (`.j`, `.t`, `.s`). */
  async forgetChord(groupId: string): Promise<void> {
    const [jkey, tkey, skey] = (['.j', '.t', '.s'] as const).map((suffix) => groupKey(groupId, suffix, this.url.cluster));
    await this.run(`deleting the counters of chord ${groupId}`, (redis) => redis.multi().del(jkey).del(tkey).del(skey).exec());
  }

  // --- caller side ---

  protected followed(result: AsyncResult): void {
    const channel = taskKey(result.id);
    this.toUnsubscribe.delete(channel);
    this.toSubscribe.add(channel);
    this.scheduleFlush();
  }

  protected unfollowed(taskId: string): void {
    const channel = taskKey(taskId);
    this.waited.delete(taskId);
    if (this.toSubscribe.delete(channel)) return;
    this.toUnsubscribe.add(channel);
    this.scheduleFlush();
  }

  /** @internal A `get()` waits: the result is read once a second besides its messages. */
  override waiting(result: AsyncResult): void {
    super.waiting(result);
    if (result.ready) return;
    this.waited.add(result.id);
    this.poller ??= setInterval(() => void this.poll(), this.pollIntervalMs);
    this.poller.unref();
  }

  /** @internal */
  override timedOut(result: AsyncResult): void {
    this.waited.delete(result.id);
    super.timedOut(result);
  }

  /** @internal Reads the stored state of `result` now. */
  async refresh(result: AsyncResult): Promise<void> {
    await this.readStates([result.id]);
  }

  /** @internal `forget()`: deletes the stored state, as Celery's `forget()`. */
  async remove(result: AsyncResult): Promise<void> {
    await this.run(`deleting the state of task ${result.id}`, (redis) => redis.del(taskKey(result.id)));
  }

  /**
   * The AsyncResult of any task by id, followed from now on, its stored state read first: a
   * result sent by another process (a web request that handed its task id on) is read here.
   */
  async asyncResult<T>(taskId: string): Promise<AsyncResult<T>> {
    const result = (this.lookUp(taskId) as AsyncResult<T> | undefined) ?? this.track<T>(taskId);
    await this.refresh(result as AsyncResult);
    return result;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.closed) return;
    this.flushScheduled = true;
    setImmediate(() => void this.flush());
  }

  /** Subscribes and unsubscribes in batches; a task subscribed to has its key read right after. */
  private async flush(): Promise<void> {
    this.flushScheduled = false;
    const subscribe = [...this.toSubscribe];
    const unsubscribe = [...this.toUnsubscribe];
    this.toSubscribe.clear();
    this.toUnsubscribe.clear();
    try {
      const subscriber = await this.subscriberConnection();
      for (let i = 0; i < unsubscribe.length; i += CHUNK) await subscriber.unsubscribe(...unsubscribe.slice(i, i + CHUNK));
      for (let i = 0; i < subscribe.length; i += CHUNK) await subscriber.subscribe(...subscribe.slice(i, i + CHUNK));
    } catch (err) {
      if (this.closed) return;
      // The once-a-second reads of the results waited for still find their states.
      this.logger.warn({ err: (err as Error).message }, 'could not subscribe to the channels of the results followed; reading their keys instead');
    }
    await this.readStates(subscribe.map((channel) => channel.slice(taskKey('').length))).catch(() => undefined);
  }

  private async subscriberConnection(): Promise<RedisConnection & WarrenCommands> {
    if (this.subscriber) return this.subscriber;
    const subscriber = await this.open('subscriber');
    this.subscriber = subscriber;
    subscriber.on('message', (channel: string, message: string) => this.onMessage(channel, message));
    let connectedBefore = false;
    subscriber.on('ready', () => {
      // Messages published while it was away are lost: read every followed key again (as Celery's _reconnect_pubsub).
      if (connectedBefore) void this.readStates(this.all().map((result) => result.id)).catch(() => undefined);
      connectedBefore = true;
    });
    return subscriber;
  }

  private onMessage(channel: string, message: string): void {
    const prefix = taskKey('');
    if (!channel.startsWith(prefix)) return;
    this.take(channel.slice(prefix.length), message);
  }

  /** Once a second: the keys of the results waited for, in case a message was lost. */
  private async poll(): Promise<void> {
    if (this.waited.size === 0 || this.closed) {
      if (this.poller) clearInterval(this.poller);
      this.poller = undefined;
      return;
    }
    await this.readStates([...this.waited]).catch(() => undefined);
  }

  /** Reads the keys of these tasks (one GET each, so a cluster routes each to its node) and delivers what is there. */
  private async readStates(taskIds: readonly string[]): Promise<void> {
    for (let i = 0; i < taskIds.length; i += CHUNK) {
      const chunk = taskIds.slice(i, i + CHUNK);
      const values = await this.run(`reading ${chunk.length} result states`, (redis) => Promise.all(chunk.map((id) => redis.get(taskKey(id)))));
      chunk.forEach((id, index) => {
        const value = values[index];
        if (value !== null && value !== undefined) this.take(id, value);
      });
    }
  }

  /** A stored state of `taskId`: delivered; a value that cannot be read fails the result's `get()` with why. */
  private take(taskId: string, value: string): void {
    const result = this.lookUp(taskId);
    if (!result) return;
    let meta: ResultMeta;
    try {
      meta = decodeResultMeta(value, `the result of task ${taskId} in Redis (key ${taskKey(taskId)})`, taskId);
    } catch (err) {
      const error = err instanceof InvalidMessageError ? err : new InvalidMessageError(String(err), err);
      this.logger.warn({ taskId, err: error.message }, 'a stored result cannot be read');
      this.untrack(taskId);
      result.detach(error);
      return;
    }
    this.deliver({ ...meta, taskId });
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.poller) clearInterval(this.poller);
    this.poller = undefined;
    this.detachAll();
    this.commands.reset();
    const connections = this.connections.splice(0);
    this.subscriber = undefined;
    await Promise.all(
      connections.map(async (connection) => {
        try {
          await withinTime(connection.quit(), 1000, () => 'closing');
        } catch {
          connection.disconnect();
        }
      }),
    );
  }
}

/** One member of a chord's `.j` set: `[1, id, state, result]`. */
function readPart(text: string, groupId: string): { taskId: string; status: TaskStatus; result: unknown } {
  let value: unknown;
  try {
    value = loads(text);
  } catch (err) {
    throw new InvalidMessageError(`a part of chord ${groupId} in Redis cannot be read: ${(err as Error).message}`, err);
  }
  if (!Array.isArray(value) || value.length !== 4 || typeof value[1] !== 'string' || typeof value[2] !== 'string') {
    throw new InvalidMessageError(`a part of chord ${groupId} in Redis is not [1, task id, state, result] (found ${text.slice(0, 100)})`);
  }
  return { taskId: value[1], status: value[2], result: value[3] };
}
