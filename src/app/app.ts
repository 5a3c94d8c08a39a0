import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join, resolve as resolvePath } from 'node:path';
import { Chain, Chord, Group, Signature, WorkerWorkflow, type AnySignature, type ClientRuntime, type Frozen, type OutgoingTask, type SignatureOptions } from '../canvas';
import { checkQueueNames, DEFAULT_RESULT_BACKEND, loadDefinitions, resolveDefinitions, parseResultBackendUrl, type ResultBackendUrl } from '../config';
import type { Definitions } from '../config/types';
import { Beat, DEFAULT_STATE_FILE, LeaderLock, Schedules, createScheduleStore } from '../beat';
import { BrokerUnavailableError, ChordUnsupportedError, ClosedError, UnknownQueueError, UsageError } from '../errors';
import { createLogger, type Logger, type LogLevel } from '../logging/logger';
import { DelayedDelivery, Producer, type SendTaskOptions } from '../producer';
import { maxMessageBytes, type JsonDates } from '../protocol';
import { AsyncResult, GroupResult, RedisResultBackend, RpcResultBackend, RpcResultStore, type Revoker } from '../result';
import { createRouter } from '../router';
import { buildTopology, declareOnOwnChannel, selectTopology, type DeclaredReport, type DelayTopologyOptions } from '../topology';
import { createTransport, probeCluster, Publisher, type ClusterProbe, type Transport } from '../transport';
import { ProcessPool, Worker, resolveWorkerOptions, type ResolvedWorkerOptions, type TaskHandler, type WorkerOptions } from '../worker';
import {
  brokerInfo,
  clientNodeName,
  Control,
  ControlClient,
  EventDispatcher,
  EventReceiver,
  LamportClock,
  WorkerControl,
  type CeleryEvent,
} from '../control';
import { formatIsoDatetime, pythonRepr } from '../protocol';
import { WorkerMetrics } from '../metrics';
import { Lazy } from '../util/lazy';
import { publicationOf } from './outgoing-task';
import { createTaskHandle, type BoundHandler, type BoundTaskOptions, type TaskHandle, type UnboundTaskOptions } from './task-handle';
import { TaskRegistry } from './task-registry';

export interface AppOptions {
  /**
   * A definitions file or folder; or definitions already loaded (`loadDefinitions`); or the
   * content of a definitions file as an object (`{ broker, exchanges, queues, routes, ... }`),
   * checked as a file is. @defaultValue './definitions'
   */
  definitions?: string | Definitions | Readonly<Record<string, unknown>>;
  /** Overrides the definitions' broker URL (and `WARREN_BROKER_URL`). */
  brokerUrl?: string;
  /** The root logger; warren logs through children of it. @defaultValue a pino logger on stderr */
  logger?: Logger;
  /** Level of the default logger. @defaultValue 'info' */
  logLevel?: LogLevel;
  /** How long `sendTask` waits for the broker's confirm, connected or not. @defaultValue 10000 */
  publishTimeoutMs?: number;
  /** How long the first connection may take, every URL tried once. @defaultValue 10000 */
  connectTimeoutMs?: number;
  /**
   * How long one attempt to one URL may take (TCP connect, TLS and AMQP handshake), on the first
   * connect and on reconnects; then the next URL is tried. @defaultValue 5000, at most `connectTimeoutMs`
   */
  handshakeTimeoutMs?: number;
  /**
   * The largest message body, in bytes, that `sendTask` publishes and a worker accepts; a
   * larger task is refused with `MessageTooLargeError` (sending) or dead-lettered unparsed
   * (consuming). @defaultValue 1048576 (1 MiB)
   */
  maxMessageBytes?: number;
  /**
   * Where beat keeps runtime schedule entries and the last fire of each entry: a file path, or
   * `postgres://...`. Env `WARREN_SCHEDULE_STORE`. @defaultValue '.warren/beat-state.json'
   */
  scheduleStore?: string;
  /**
   * How long `AsyncResult.get()` waits for a result when the call sets no `timeout`; then it
   * rejects with `ResultTimeoutError` (the task may still finish). `Infinity`: no limit, as
   * Celery's `get()`. @defaultValue 60000
   */
  resultTimeoutMs?: number;
  /**
   * The most results followed at once (sent, not ready, not forgotten, not timed out); past it
   * the oldest is dropped with a warning and its `get()` rejects with `ResultForgottenError`.
   * @defaultValue 100000
   */
  maxTrackedResults?: number;
  /**
   * Send a `task-sent` event for each task this app sends (Celery's `task_send_sent_event`),
   * so `celery events`, Flower and `warren events` see tasks from the moment they are sent.
   * @defaultValue false
   */
  taskSendSentEvent?: boolean;
  /**
   * Where workers store task states and clients read them: `rpc://` (results travel back to the
   * sender's reply queue), `redis://[:password@]host:port/db`, `rediss://…`, or
   * `redis+cluster://host1:port,host2:port` (Celery's Redis backend format; any process reads a
   * result by id). Overrides `WARREN_RESULT_BACKEND` and the definitions' `resultBackend`.
   * @defaultValue 'rpc://'
   */
  resultBackend?: string;
}

export interface StartBeatOptions {
  /** Separates beats of different deployments on one broker (`warren.beat.lock.<suffix>`). */
  lockSuffix?: string;
  /** How often a follower tries to take the lock. @defaultValue 1000 */
  lockRetryMs?: number;
}

/**
 * The composition root: holds the task registry and, once used, the process's one broker
 * connection. Creating an app touches nothing; the first `sendTask`, `startWorker` or
 * `declareTopology` loads the definitions and connects, and concurrent first calls share that
 * one connect.
 *
 * `close()` is final: it stops what the app started and closes the connection (also one still
 * being made), pending `get()`s reject with `ClosedError`, and so does every later call. A call
 * under way at close either completes (a task the broker confirmed stays sent) or rejects with
 * `ClosedError`; nothing it made outlives the close.
 */
export class App {
  readonly tasks = new TaskRegistry();
  private options: AppOptions;
  private logger: Logger;
  private definitionsLoad: Promise<Definitions> | undefined;
  private publisher: Publisher | undefined;
  private delays: DelayedDelivery | undefined;
  private readonly workers = new Set<Worker>();
  private readonly beats = new Set<Beat>();
  private beatPublishers: Array<{ publisher: Publisher; delays: DelayedDelivery }> = [];
  private scheduleManager: Schedules | undefined;
  /** The connection once made, before it is started: close() must reach a first connect under way. */
  private transport: Transport | undefined;
  private resultBackend: RpcResultBackend | undefined;
  /** The Redis backend, once made: the worker's store, the client's follower and the chord counter at once. */
  private redis: RedisResultBackend | undefined;
  /**
   * The reply queue of this process (rpc://), sent as `reply_to` with every task as Celery sends
   * its own; with a Redis backend no such queue is declared, and a worker stores states in Redis.
   */
  private readonly replyTo = randomUUID();
  /** The result backend, known once the definitions are loaded. */
  private backendUrl: ResultBackendUrl | undefined;
  /** Where `app.signature()` and friends apply: this app's producer and result backend. */
  private readonly canvas: ClientRuntime = this.clientRuntime();
  private closed = false;
  private closing: Promise<void> | undefined;
  /** Calls under way; close() waits for them and releases what they made. */
  private callsUnderWay = 0;
  /** Wakes close() when the last call under way ended. */
  private callsEnded: (() => void) | undefined;
  /** The app's logical clock (Celery's `app.clock`): events and control messages carry it. */
  private readonly clock = new LamportClock();
  /** What makes each worker visible and steerable (events, remote control, revokes, metrics); closed after it. */
  private readonly workerControls = new Map<Worker, { control: WorkerControl; metrics: WorkerMetrics | undefined }>();
  private controlClient: ControlClient | undefined;
  private controlFacade: Control | undefined;
  /** `task-sent` events, when `taskSendSentEvent`. */
  private sentEvents: EventDispatcher | undefined;
  /** Event receivers (`receiveEvents`), closed by close(). */
  private readonly receivers = new Set<EventReceiver>();

  constructor(options: AppOptions = {}) {
    this.options = { ...options };
    checkResultOptions(this.options);
    this.logger = options.logger ?? createLogger({ level: options.logLevel });
  }

  /** Applies overrides (from the command line) before anything has started. */
  configure(overrides: Partial<AppOptions>): this {
    this.assertOpen('configure()');
    if (this.definitionsLoad) throw new UsageError('configure() must be called before the app is first used');
    const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
    checkResultOptions(defined);
    this.options = { ...this.options, ...defined };
    if (overrides.logger) this.logger = overrides.logger;
    return this;
  }

  /** Throws ClosedError once close() was called. */
  private assertOpen(what: string): void {
    if (this.closed) throw new ClosedError(`${what} refused: the app is closed`);
  }

  /**
   * Runs one public call: refused once the app is closed; one under way when close() is called
   * is waited for by close(), and rejects with ClosedError if it fails because of it.
   */
  private run<T>(what: string, work: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new ClosedError(`${what} refused: the app is closed`));
    // A count, not a set of promises: one promise per call (sendTask runs this once per task).
    let call: Promise<T>;
    try {
      call = work();
    } catch (error) {
      call = Promise.reject(error);
    }
    this.callsUnderWay += 1;
    return call.then(
      (value) => {
        this.callEnded();
        return value;
      },
      (error: unknown) => {
        this.callEnded();
        if (!this.closed) throw error;
        // Why it stopped matters where it was not the close itself: a publish cut off before its confirm may have reached the broker.
        const reason = error instanceof ClosedError ? '' : ` (${error instanceof Error ? error.message : String(error)})`;
        throw new ClosedError(`${what} interrupted: the app was closed meanwhile${reason}`, error);
      },
    );
  }

  private callEnded(): void {
    this.callsUnderWay -= 1;
    if (this.callsUnderWay > 0 || this.callsEnded === undefined) return;
    const wake = this.callsEnded;
    this.callsEnded = undefined;
    wake();
  }

  /**
   * The schedule: entries from the definitions side by side with runtime entries in the store.
   * `add`, `list`, `show`, `enable`, `disable`, `remove`, `next`; a running beat sees each change
   * within a second.
   */
  get schedules(): Schedules {
    this.assertOpen('schedules');
    this.scheduleManager ??= new Schedules(
      () => this.loadedDefinitions(),
      createScheduleStore(this.options.scheduleStore ?? process.env.WARREN_SCHEDULE_STORE, { logger: this.logger }),
      `schedule store ${this.options.scheduleStore ?? process.env.WARREN_SCHEDULE_STORE ?? DEFAULT_STATE_FILE}`,
    );
    return this.scheduleManager;
  }

  /**
   * Registers a task under its full name, e.g. `app1.tasks1.deal1`, and returns its typed
   * handle. The handler receives the message's args; with `bind: true` its context first
   * (Celery's `bind=True`). Celery kwargs go by name with `params`, else as one object after
   * the args (see `TaskOptions`).
   *
   * ```ts
   * const add = app.task('math.add', async (a: number, b: number) => a + b);
   * const charge = app.task('shop.charge', async (ctx, order: Order) => { ... }, { bind: true });
   * ```
   */
  task<A extends unknown[], R>(name: string, handler: BoundHandler<A, R>, options: BoundTaskOptions): TaskHandle<A, Awaited<R>>;
  task<A extends unknown[], R>(name: string, handler: (...args: A) => R, options?: UnboundTaskOptions): TaskHandle<A, Awaited<R>>;
  task(name: string, handler: TaskHandler, options?: BoundTaskOptions | UnboundTaskOptions): TaskHandle<unknown[], unknown> {
    this.tasks.register(name, handler, options);
    return createTaskHandle(
      name,
      (taskName, args, kwargs, sendOptions) => this.sendTask(taskName, args, kwargs, sendOptions),
      (taskName, args, immutable) => this.signature(taskName, args, {}, { immutable }),
    );
  }

  /** The names of the tasks this app registered (`app.task`), sorted. */
  registeredTasks(): string[] {
    return this.tasks.names();
  }

  /** The validated definitions, loaded once. */
  definitions(): Promise<Definitions> {
    if (this.closed) return Promise.reject(new ClosedError('definitions() refused: the app is closed'));
    return this.loadedDefinitions();
  }

  private loadedDefinitions(): Promise<Definitions> {
    this.definitionsLoad ??= this.loadDefinitions();
    return this.definitionsLoad;
  }

  private async loadDefinitions(): Promise<Definitions> {
    const source = this.options.definitions ?? process.env.WARREN_DEFINITIONS ?? './definitions';
    const { brokerUrl, resultBackend } = this.options;
    if (typeof source === 'string') return loadDefinitions(source, { brokerUrl, resultBackend });
    // Loaded before (they name their sources): as they are. Any other object is a file's content.
    if (Array.isArray((source as Partial<Definitions>).sources)) return source as Definitions;
    return resolveDefinitions([{ file: 'createApp({ definitions })', content: source }], { env: process.env, brokerUrl, resultBackend });
  }

  /**
   * The process's one connection, with its publisher; concurrent first callers share one
   * connect. RabbitMQ for `amqp://` and `amqps://`, the in-process memory broker for `memory://`.
   */
  private readonly connection = new Lazy(async () => {
    const definitions = await this.loadedDefinitions();
    this.assertOpen('connecting');
    const urls = this.options.brokerUrl ? [this.options.brokerUrl] : definitions.broker.urls;
    const connection = createTransport({
      urls,
      logger: this.logger,
      connectTimeoutMs: this.options.connectTimeoutMs,
      handshakeTimeoutMs: this.options.handshakeTimeoutMs,
      failoverStrategy: definitions.broker.failoverStrategy,
    });
    this.transport = connection;
    await connection.start();
    // Closed during the connect: close() closed this connection; make sure of it.
    if (this.closed) {
      await connection.close();
      throw new ClosedError('connecting interrupted: the app was closed meanwhile');
    }
    this.publisher = new Publisher(connection, { name: 'publisher', logger: this.logger, publishTimeoutMs: this.options.publishTimeoutMs });
    this.delays = new DelayedDelivery(connection, this.publisher, this.logger, this.delayOptions(definitions));
    return connection;
  });

  private connect(): Promise<Transport> {
    return this.connection.get();
  }

  /** Declares the whole topology (a client may send anywhere) and starts the publisher. */
  private readonly producer = new Lazy(async () => {
    const definitions = await this.loadedDefinitions();
    await this.declareAll();
    await this.publisher!.start();
    const producer = new Producer(createRouter(definitions), this.delays!, this.logger, maxMessageBytes(this.options.maxMessageBytes, 'maxMessageBytes'), this.jsonDates(definitions));
    this.readyProducer = producer;
    return producer;
  });
  /** The producer once made: sendTask takes it without waiting a turn for the Lazy. */
  private readyProducer: Producer | undefined;

  /** The result backend this app uses: the option, else the definitions' (which read `WARREN_RESULT_BACKEND`). */
  private async resultBackendUrl(): Promise<ResultBackendUrl> {
    if (this.backendUrl) return this.backendUrl;
    const definitions = await this.loadedDefinitions();
    const url = this.options.resultBackend ?? definitions.resultBackend ?? DEFAULT_RESULT_BACKEND;
    try {
      this.backendUrl = parseResultBackendUrl(url);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    return this.backendUrl;
  }

  /** Which delay levels delayed tasks go through (the definitions' `delays`). */
  private delayOptions(definitions: Definitions): DelayTopologyOptions {
    return { queueType: definitions.delays?.queueType ?? 'classic' };
  }

  /** How Dates and Buffers are written (the definitions' `jsonDates`). */
  private jsonDates(definitions: Definitions): JsonDates {
    return definitions.jsonDates ?? 'tagged';
  }

  /** The Redis result backend, made once: one per app, whoever asks first. */
  private async redisBackend(): Promise<RedisResultBackend> {
    const url = await this.resultBackendUrl();
    if (url.kind !== 'redis') throw new Error('internal: the Redis backend asked for on rpc://');
    this.assertOpen('using the result backend');
    if (!this.redis) {
      const definitions = await this.loadedDefinitions();
      this.redis = new RedisResultBackend(url, this.logger, {
        resultTimeoutMs: this.options.resultTimeoutMs,
        maxTrackedResults: this.options.maxTrackedResults,
        resultExpires: definitions.resultExpires,
        jsonDates: this.jsonDates(definitions),
      });
      this.redis.revoker = this.revoker;
    }
    return this.redis;
  }

  /** Where this process follows results: the Redis backend, or the rpc reply queue (made only when a task that wants its result is sent). */
  private async follower(): Promise<RpcResultBackend | RedisResultBackend> {
    const url = await this.resultBackendUrl();
    if (url.kind === 'redis') return this.redisBackend();
    const results = await this.results.get();
    // After a reconnect, the reply queue must be there again before a task goes out.
    await results.whenReady(this.options.publishTimeoutMs ?? 10_000);
    return results;
  }

  /** The follower when nothing is left to wait for (the reply queue consumed, or Redis made): most sendTasks. */
  private readyFollower(): RpcResultBackend | RedisResultBackend | undefined {
    const kind = this.backendUrl?.kind;
    if (kind === 'redis') return this.redis;
    return kind === 'rpc' && this.resultBackend?.consuming ? this.resultBackend : undefined;
  }

  /** The rpc reply queue, made only when a task that wants its result is sent. */
  private readonly results = new Lazy(async () => {
    const results = new RpcResultBackend(await this.connect(), this.logger, this.replyTo, {
      resultTimeoutMs: this.options.resultTimeoutMs,
      maxTrackedResults: this.options.maxTrackedResults,
    });
    results.revoker = this.revoker;
    await results.start();
    if (this.closed) {
      await results.close();
      throw new ClosedError('following results interrupted: the app was closed meanwhile');
    }
    this.resultBackend = results;
    return results;
  });

  /**
   * Sends a task by name: the routes table picks its queue, the broker confirms it, and the
   * returned AsyncResult follows its state. Rejects when the broker refuses or cannot route it.
   */
  sendTask<T = unknown>(
    name: string,
    args: readonly unknown[] = [],
    kwargs: Readonly<Record<string, unknown>> = {},
    options: SendTaskOptions = {},
  ): Promise<AsyncResult<T>> {
    return this.run(`sendTask("${name}")`, () => this.send<T>(name, args, kwargs, options));
  }

  private async send<T>(
    name: string,
    args: readonly unknown[],
    kwargs: Readonly<Record<string, unknown>>,
    options: SendTaskOptions,
  ): Promise<AsyncResult<T>> {
    const producer = this.readyProducer ?? (await this.producer.get());
    const taskId = options.taskId ?? Producer.newTaskId();
    if (options.ignoreResult) {
      this.taskSent(await producer.publish({ taskId, taskName: name, args, kwargs, replyTo: '', options }), name, args, kwargs);
      return AsyncResult.ignored<T>(taskId, this.revoker);
    }
    const results = this.readyFollower() ?? (await this.follower());
    // Follow the id before publishing: a fast worker's result must find its listener.
    const result = results.track<T>(taskId);
    try {
      this.taskSent(await producer.publish({ taskId, taskName: name, args, kwargs, replyTo: this.replyTo, options }), name, args, kwargs);
    } catch (err) {
      results.untrack(taskId);
      throw err;
    }
    return result;
  }

  /** Celery's `task-sent` event, when `taskSendSentEvent`: fire-and-forget, after the broker confirmed the task. */
  private taskSent(
    published: Awaited<ReturnType<Producer['publish']>>,
    name: string,
    args: readonly unknown[],
    kwargs: Readonly<Record<string, unknown>>,
  ): void {
    if (!this.options.taskSendSentEvent || !this.transport) return;
    if (!this.sentEvents) {
      this.sentEvents = new EventDispatcher({ transport: this.transport, source: { hostname: clientNodeName(), pid: process.pid }, clock: this.clock, logger: this.logger });
      void this.sentEvents.start();
    }
    const repr = (value: unknown): string => {
      try {
        return pythonRepr(value, 1024);
      } catch {
        return '<unrepresentable>';
      }
    };
    const { taskId, route, eta, expires } = published;
    this.sentEvents.send('task-sent', {
      uuid: taskId,
      root_id: taskId,
      parent_id: null,
      name,
      args: repr(args),
      kwargs: repr(kwargs),
      retries: 0,
      eta: eta ? formatIsoDatetime(eta) : null,
      expires: expires ? formatIsoDatetime(expires) : null,
      queue: route.queue ?? null,
      exchange: route.exchange,
      routing_key: route.routingKey,
    });
  }

  /** What `AsyncResult.revoke()` sends through: `control.revoke` with the result's id. */
  private readonly revoker: Revoker = async (taskId, { terminate, signal, wait, timeoutMs }) => {
    await this.control.revoke(taskId, { terminate, signal, reply: wait ?? false, timeoutMs: timeoutMs ?? 1000 });
  };

  /**
   * Remote control of the fleet (Celery's `app.control`): `inspect()` asks workers what they
   * run, hold and know; `revoke`, `enableEvents`, `addConsumer`, `shutdown` steer them. Python
   * Celery workers on the broker hear it as warren's do.
   */
  get control(): Control {
    this.assertOpen('control');
    this.controlFacade ??= new Control(() =>
      this.run('control', async () => {
        const transport = await this.connect();
        this.controlClient ??= new ControlClient({ transport, clock: this.clock, logger: this.logger, publishTimeoutMs: this.options.publishTimeoutMs });
        return this.controlClient;
      }),
    );
    return this.controlFacade;
  }

  /**
   * Receives the Celery events of the fleet (Celery's `app.events.Receiver`): every worker's
   * heartbeats and, from workers with task events on, their task events, Python's and warren's
   * alike, on a queue of its own bound to `celeryev`. Resolves once it receives; `close()` stops.
   * A malformed event is left out (logged); a listener that throws is logged and changes nothing.
   */
  receiveEvents(onEvent: (event: CeleryEvent) => void): Promise<{ close(): Promise<void> }> {
    return this.run('receiveEvents()', async () => {
      const transport = await this.connect();
      const receiver = new EventReceiver({ transport, clock: this.clock, logger: this.logger, onEvent });
      await receiver.start();
      this.receivers.add(receiver);
      return {
        close: async () => {
          this.receivers.delete(receiver);
          await receiver.close();
        },
      };
    });
  }

  /**
   * The depth (ready messages) and consumers of each queue, asked passively: a queue the broker
   * does not have is reported as `missing`, never declared.
   */
  checkQueues(names: readonly string[]): Promise<QueueCheck[]> {
    return this.run('checkQueues()', async () => {
      const transport = await this.connect();
      return Promise.all(
        names.map(async (name): Promise<QueueCheck> => {
          try {
            // A passive check of a missing queue closes its channel: one channel each.
            const { messageCount, consumerCount } = await transport.withTemporaryChannel((ch) => ch.checkQueue(name));
            return { name, messages: messageCount, consumers: consumerCount };
          } catch (err) {
            if (isNotFound(err)) return { name, missing: true };
            throw err;
          }
        }),
      );
    });
  }

  /**
   * Runs `work` with the app's one connection, for tools that read or move messages on the
   * broker themselves (the dashboard's dead-letter browser): they open their own channels on
   * it and close them. The connection itself stays the app's; `close()` closes it.
   */
  withConnection<T>(work: (transport: Transport) => Promise<T>): Promise<T> {
    return this.run('withConnection()', async () => work(await this.connect()));
  }

  /** Deletes the ready messages of a queue (unacknowledged ones stay with their consumers); resolves with how many. */
  purgeQueue(name: string): Promise<number> {
    return this.run(`purgeQueue("${name}")`, async () => {
      const transport = await this.connect();
      return (await transport.withTemporaryChannel((ch) => ch.purgeQueue(name))).messageCount;
    });
  }

  /**
   * The broker node this app's connection is on now (its URL, password masked), or undefined
   * before the first connect, while reconnecting and after close.
   */
  connectedTo(): string | undefined {
    return this.transport?.connectedTo();
  }

  /**
   * Which broker addresses are running nodes of one cluster: each address is connected to once
   * (apart from the app's own connection) and asked whether it sees a queue declared through the
   * first (see `probeCluster`). Only addresses that `broker.urls` lists count.
   */
  clusterNodes(): Promise<ClusterProbe> {
    return this.run('clusterNodes()', async () => {
      const definitions = await this.loadedDefinitions();
      const urls = this.options.brokerUrl ? [this.options.brokerUrl] : definitions.broker.urls;
      return probeCluster(urls, { handshakeTimeoutMs: this.options.handshakeTimeoutMs });
    });
  }

  /**
   * The result of any task by id, read from the result backend now and followed from then on:
   * a web request that sent a task can hand its id to another process, which reads it here.
   * Needs a backend that stores results (Redis): with `rpc://` only the process that sent a task
   * gets its result, so this works there only for a task this app sent and still follows.
   * @throws UsageError with `rpc://` for a task this app does not follow.
   */
  asyncResult<T = unknown>(taskId: string): Promise<AsyncResult<T>> {
    return this.run(`asyncResult("${taskId}")`, async () => {
      if (typeof taskId !== 'string' || taskId === '') throw new UsageError(`asyncResult() needs a task id (got ${String(taskId)})`);
      const url = await this.resultBackendUrl();
      if (url.kind === 'redis') return (await this.redisBackend()).asyncResult<T>(taskId);
      const followed = this.resultBackend?.find<T>(taskId);
      if (followed) return followed;
      throw new UsageError(
        `asyncResult("${taskId}"): the rpc:// result backend sends a result only to the process that sent the task, and this app does not follow that task; ` +
          'to read results by id from any process, use a Redis result backend (resultBackend: redis://...)',
      );
    });
  }

  /** The results of a group by its id and its tasks' ids (Celery's `GroupResult(id, [AsyncResult(id), ...])`). */
  groupResult<R extends unknown[] = unknown[]>(groupId: string, taskIds: readonly string[]): Promise<GroupResult<R>> {
    return this.run(`groupResult("${groupId}")`, async () => {
      const members = await Promise.all(taskIds.map((id) => this.asyncResult(id)));
      return new GroupResult<R>(groupId, members);
    });
  }

  /**
   * A signature: a call of `name` to make later, in a workflow or on its own (Celery's
   * `signature()`). `apply()` sends it; `link()` / `linkError()` add callbacks; a chain's next
   * step gets the previous result first in its args unless it is immutable (`{ immutable: true }`,
   * or a task handle's `.si()`).
   */
  signature<R = unknown>(
    name: string,
    args: readonly unknown[] = [],
    kwargs: Readonly<Record<string, unknown>> = {},
    options: SignatureOptions & { immutable?: boolean } = {},
  ): Signature<R> {
    const { immutable, ...rest } = options;
    return new Signature<R>(name, args, kwargs, {}, { immutable: immutable ?? false, runtime: this.canvas }).set(rest);
  }

  /**
   * Tasks one after the other, each getting the previous result first (Celery's `chain`); a
   * group followed by a task becomes a chord. `apply()` resolves to the last task's AsyncResult.
   */
  chain<R = unknown>(...tasks: AnySignature[]): Chain<R> {
    return new Chain<R>(tasks, {}, this.canvas);
  }

  /** Tasks in parallel (Celery's `group`); `apply()` resolves to a GroupResult whose `get()` lists their results in order. */
  group<R extends unknown[] = unknown[]>(...tasks: AnySignature[]): Group<R> {
    return new Group<R>(tasks, {}, this.canvas);
  }

  /**
   * A group whose results, in order, are the first argument of `body` (Celery's `chord`).
   * `apply()` resolves to the body's AsyncResult. Needs a Redis result backend: on `rpc://` it
   * fails with ChordUnsupportedError before anything is sent.
   */
  chord<R = unknown>(header: Group | readonly AnySignature[], body: Signature<R>): Chord<R> {
    return new Chord<R>(header instanceof Group ? header : [...header], body, {}, this.canvas);
  }

  /** The runtime `apply()` uses: this app's producer, and its result backend to follow and count. */
  private clientRuntime(): ClientRuntime {
    return {
      replyTo: this.replyTo,
      newId: () => randomUUID(),
      prepare: () =>
        this.run('apply()', async () => {
          await this.producer.get();
          await this.follower();
        }),
      send: (task: OutgoingTask) => this.run(`apply() of ${task.task}`, async () => {
        await (await this.producer.get()).publish(publicationOf(task, false));
      }),
      ensureChordsAllowed: () => {
        if (this.backendUrl?.kind !== 'redis') throw new ChordUnsupportedError(this.backendUrl?.display ?? 'rpc://');
      },
      setChordSize: async (groupId: string, size: number) => {
        const backend = await this.redisBackend();
        await backend.setChordSize(groupId, size);
      },
      follow: (frozen: Frozen) => this.followFrozen(frozen),
      unfollow: (frozen: Frozen) => this.unfollowFrozen(frozen),
    };
  }

  /** The AsyncResult (or GroupResult) of frozen ids, parents included; the follower is ready (prepare() ran). */
  private followFrozen(frozen: Frozen): AsyncResult | GroupResult {
    const follower = this.backendUrl?.kind === 'redis' ? this.redis : this.resultBackend;
    if (!follower) throw new ClosedError('apply() interrupted: the app was closed meanwhile');
    const result: AsyncResult | GroupResult =
      frozen.kind === 'task' ? follower.track(frozen.id) : new GroupResult(frozen.id, frozen.results.map((member) => this.followFrozen(member)));
    if (frozen.parent) result.parent = this.followFrozen(frozen.parent);
    return result;
  }

  private unfollowFrozen(frozen: Frozen): void {
    const follower = this.backendUrl?.kind === 'redis' ? this.redis : this.resultBackend;
    if (frozen.kind === 'task') follower?.untrack(frozen.id);
    else for (const member of frozen.results) this.unfollowFrozen(member);
    if (frozen.parent) this.unfollowFrozen(frozen.parent);
  }

  /** Declares every exchange, queue and binding of the definitions. */
  declareTopology(): Promise<DeclaredReport> {
    return this.run('declareTopology()', () => this.declareAll());
  }

  private async declareAll(): Promise<DeclaredReport> {
    const definitions = await this.loadedDefinitions();
    return declareOnOwnChannel(await this.connect(), buildTopology(definitions));
  }

  /**
   * Starts a worker consuming the given queues (all must be declared in the definitions; the
   * default queue when none are given). The options are resolved once, with their defaults,
   * as `warren worker` resolves its flags.
   * @throws UsageError for an option that is not valid, before anything connects.
   */
  startWorker(options: WorkerOptions = {}): Promise<Worker> {
    return this.run('startWorker()', () => this.startWorkerNow(options));
  }

  private async startWorkerNow(options: WorkerOptions): Promise<Worker> {
    const resolved = resolveWorkerOptions(options, { maxMessageBytes: maxMessageBytes(this.options.maxMessageBytes, 'maxMessageBytes') });
    const definitions = await this.loadedDefinitions();
    const names = consumedQueues(resolved, definitions); // throws UnknownQueueError, UsageError
    const topology = selectTopology(buildTopology(definitions), names); // throws UnknownQueueError
    const queues = definitions.queues.filter((q) => names.includes(q.name));
    const transport = await this.connect();
    const workerOptions = { ...resolved, queues: names };
    const urls = this.options.brokerUrl ? [this.options.brokerUrl] : definitions.broker.urls;
    const control = new WorkerControl({
      transport,
      clock: this.clock,
      logger: this.logger,
      options: workerOptions,
      publishTimeoutMs: this.options.publishTimeoutMs,
      taskNames: () => this.tasks.names(),
      exchangeType: (name) => definitions.exchanges.find((x) => x.name === name)?.type,
      resolveQueue: (name) => {
        const queue = definitions.queues.find((q) => q.name === name);
        if (!queue) throw new UnknownQueueError(name, definitions.queues.map((q) => q.name));
        return { queue, topology: selectTopology(buildTopology(definitions), [name]) };
      },
      broker: () => brokerInfo(transport.connectedTo() ?? urls[0], urls, definitions.broker.failoverStrategy),
      shutdown: (target) => void target.stop(),
      onEventDropped: () => metrics?.eventDropped(),
    });
    let metrics: WorkerMetrics | undefined;
    const backend = await this.resultBackendUrl();
    const results = backend.kind === 'redis' ? await this.redisBackend() : new RpcResultStore(this.publisher!, this.jsonDates(definitions));
    const workflow = new WorkerWorkflow({
      // What a workflow sends after a task (the next step of a chain, callbacks, a chord's body) may go to any queue.
      send: async (task) => {
        await (await this.producer.get()).publish(publicationOf(task, true));
      },
      store: results,
      chords: backend.kind === 'redis' ? await this.redisBackend() : undefined,
      hostname: resolved.hostname,
      newId: () => randomUUID(),
    });
    const worker = new Worker({
      transport,
      publisher: this.publisher!,
      republisher: this.delays!,
      results,
      workflow,
      tasks: this.tasks,
      logger: this.logger,
      queues,
      topology,
      options: workerOptions,
      isRevoked: control.isRevoked,
      pool: resolved.pool === 'process' ? (onFatal) => this.processPool(resolved, onFatal) : undefined,
    });
    try {
      if (workerOptions.metricsPort !== undefined) {
        metrics = await WorkerMetrics.start({ worker, transport, publisher: this.publisher!, port: workerOptions.metricsPort, host: workerOptions.metricsHost, logger: this.logger });
        worker.metricsUrl = metrics.url;
      }
      await control.beforeStart(worker);
      await worker.start();
      control.afterStart();
    } catch (err) {
      await metrics?.close();
      await control.close();
      throw err;
    }
    // close() stops it, also when it is under way now; its control and metrics close once it stopped.
    this.workers.add(worker);
    this.workerControls.set(worker, { control, metrics });
    worker.on('closed', () => {
      void control.close();
      void metrics?.close();
    });
    this.assertOpen('startWorker()');
    return worker;
  }

  /** The process pool of a worker: its children load the worker's tasks module, configured as this app is. */
  private processPool(options: ResolvedWorkerOptions, onFatal: (error: Error) => void): ProcessPool {
    const childMain = join(__dirname, 'pool-child-main.js');
    if (!existsSync(childMain)) {
      throw new UsageError(`the process pool runs warren's compiled JavaScript, and ${childMain} is missing (run from dist, or build first)`);
    }
    const { definitions, brokerUrl, resultBackend, scheduleStore } = this.options;
    return new ProcessPool({
      module: resolvePath(process.cwd(), options.appModule ?? ''),
      childMain,
      // With autoscale the pool starts at its min; at least one child, so that a module that
      // cannot load stops the start here.
      size: options.autoscale ? Math.max(1, options.autoscale.min) : options.concurrency,
      hostname: options.hostname,
      logger: this.logger,
      maxTasksPerChild: options.maxTasksPerChild,
      maxMemoryPerChild: options.maxMemoryPerChild,
      appOverrides: { definitions: typeof definitions === 'string' ? definitions : undefined, brokerUrl, resultBackend, scheduleStore },
      onFatal,
    });
  }

  /**
   * Starts a beat: it fires the schedule while it holds the leader lock (an exclusive queue
   * on this app's connection), and waits to take over while another beat holds it.
   */
  startBeat(options: StartBeatOptions = {}): Promise<Beat> {
    return this.run('startBeat()', () => this.startBeatNow(options));
  }

  private async startBeatNow(options: StartBeatOptions): Promise<Beat> {
    const definitions = await this.loadedDefinitions();
    const schedules = this.schedules;
    await this.producer.get(); // declares the topology
    const connection = await this.connect();
    // Fires go out on a channel of the connection that holds the lock: when the connection
    // goes, so does the lock, and a fire not yet confirmed fails instead of going out after
    // the reconnect, when another beat may lead.
    const firePublisher = new Publisher(connection, { name: 'beat', logger: this.logger, publishTimeoutMs: this.options.publishTimeoutMs, survivesReconnect: false });
    await firePublisher.start();
    const fireDelays = new DelayedDelivery(connection, firePublisher, this.logger, this.delayOptions(definitions));
    this.beatPublishers.push({ publisher: firePublisher, delays: fireDelays });
    const producer = new Producer(createRouter(definitions), fireDelays, this.logger, maxMessageBytes(this.options.maxMessageBytes, 'maxMessageBytes'), this.jsonDates(definitions));
    const lock = new LeaderLock({
      connection: { createChannel: () => connection.openChannel() },
      suffix: options.lockSuffix,
      logger: this.logger,
      node: () => connection.connectedTo(),
    });
    const beat = new Beat({
      schedules,
      store: schedules.store,
      lock,
      logger: this.logger,
      lockRetryMs: options.lockRetryMs,
      send: async ({ entry, planned, taskId, expiresAt }) => {
        // No publish may wait out a disconnect: the lock is gone with the connection, and
        // another beat fires from the store's state meanwhile.
        if (!connection.isConnected()) throw new BrokerUnavailableError(`not connected to the broker at ${connection.broker}`);
        await producer.publish({
          taskId,
          taskName: entry.task,
          args: entry.args,
          kwargs: entry.kwargs,
          replyTo: '',
          options: {
            queue: entry.queue,
            exchange: entry.exchange,
            routingKey: entry.routingKey,
            priority: entry.priority,
            expires: expiresAt ?? undefined,
            ignoreResult: true,
            headers: { 'x-warren-beat-entry': entry.name, 'x-warren-beat-planned': planned.toISOString() },
          },
        });
      },
    });
    await beat.start();
    this.beats.add(beat); // close() stops it, also when it is under way now
    this.assertOpen('startBeat()');
    return beat;
  }

  /**
   * Stops workers (letting running tasks finish) and beats, rejects pending `get()`s with
   * ClosedError, closes every channel and the connection (also one still connecting), so the
   * process can exit. Final: every later call rejects with ClosedError. Calling it again
   * returns the same promise.
   */
  close(): Promise<void> {
    this.closed = true;
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    await this.release();
    // Calls under way end now that their connection is gone; what they made is released too.
    while (this.callsUnderWay > 0) {
      await new Promise<void>((resolve) => (this.callsEnded = resolve));
      await this.release();
    }
  }

  /**
   * Stops and closes everything made so far; again for what calls under way made meanwhile.
   * A step that fails is logged and the next goes on: the connection is always closed.
   */
  private async release(): Promise<void> {
    const workers = [...this.workers];
    this.workers.clear();
    await Promise.all(workers.map((worker) => this.quietly('stopping a worker', () => worker.stop())));
    const controls = [...this.workerControls.values()];
    this.workerControls.clear();
    await Promise.all(
      controls.map(async ({ control, metrics }) => {
        await this.quietly('closing the remote control of a worker', () => control.close());
        if (metrics) await this.quietly('closing the metrics server of a worker', () => metrics.close());
      }),
    );
    const client = this.controlClient;
    this.controlClient = undefined;
    this.controlFacade = undefined;
    if (client) await this.quietly('closing the control client', () => client.close());
    const sent = this.sentEvents;
    this.sentEvents = undefined;
    if (sent) await this.quietly('closing the task-sent events', () => sent.close());
    const receivers = [...this.receivers];
    this.receivers.clear();
    await Promise.all(receivers.map((receiver) => this.quietly('closing an event receiver', () => receiver.close())));
    const beats = [...this.beats];
    this.beats.clear();
    await Promise.all(beats.map((beat) => this.quietly('stopping a beat', () => beat.stop())));
    for (const { publisher, delays } of this.beatPublishers.splice(0)) {
      delays.close();
      await this.quietly('closing the beat publisher', () => publisher.close());
    }
    const store = this.scheduleManager?.store;
    if (store) await this.quietly('closing the schedule store', () => store.close());
    this.results.reset();
    this.producer.reset();
    this.readyProducer = undefined;
    const results = this.resultBackend;
    this.resultBackend = undefined;
    if (results) await this.quietly('closing the result backend', () => results.close());
    const redis = this.redis;
    this.redis = undefined;
    if (redis) await this.quietly('closing the Redis result backend', () => redis.close());
    this.delays?.close();
    this.delays = undefined;
    const publisher = this.publisher;
    this.publisher = undefined;
    if (publisher) await this.quietly('closing the publisher', () => publisher.close());
    this.connection.reset();
    const connection = this.transport;
    this.transport = undefined;
    if (connection) await this.quietly('closing the connection', () => connection.close());
  }

  private async quietly(what: string, step: () => Promise<void>): Promise<void> {
    try {
      await step();
    } catch (error) {
      this.logger.error({ err: error instanceof Error ? error.message : String(error) }, `app.close(): ${what} failed; closing the rest`);
    }
  }
}

/** What `checkQueues` found for one queue. */
export type QueueCheck = { name: string; messages: number; consumers: number; missing?: undefined } | { name: string; missing: true };

/**
 * The queues a worker consumes: `queues` (else the default queue, or with `excludeQueues` every
 * queue of the definitions), less `excludeQueues`.
 * @throws UnknownQueueError for an excluded queue the definitions do not declare (a named one is
 *   checked when its topology is picked); UsageError when nothing is left
 */
function consumedQueues(options: { queues: readonly string[]; excludeQueues: readonly string[] }, definitions: Definitions): string[] {
  const { queues, excludeQueues } = options;
  if (excludeQueues.length === 0) return queues.length > 0 ? [...queues] : [definitions.defaultQueue];
  checkQueueNames(definitions, excludeQueues, 'excludeQueues (-X)');
  const declared = definitions.queues.map((q) => q.name);
  const from = queues.length > 0 ? queues : declared;
  const names = from.filter((name) => !excludeQueues.includes(name));
  if (names.length === 0) {
    throw new UsageError(`no queue is left to consume: the worker would consume ${from.join(', ')}, and excludes ${excludeQueues.join(', ')}`);
  }
  return names;
}

/** A passive declare refused with 404 NOT_FOUND. */
function isNotFound(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return code === 404 || (err instanceof Error && /\b404\b|NOT_FOUND/.test(err.message));
}

/** Refuses a result option that is not a number in range, naming it. */
function checkResultOptions(options: Partial<AppOptions>): void {
  const { resultTimeoutMs, maxTrackedResults } = options;
  if (resultTimeoutMs !== undefined && !(typeof resultTimeoutMs === 'number' && resultTimeoutMs >= 0)) {
    throw new UsageError(`resultTimeoutMs must be a number of milliseconds, 0 or more, or Infinity for no limit (got ${String(resultTimeoutMs)})`);
  }
  if (maxTrackedResults !== undefined && !(Number.isInteger(maxTrackedResults) && maxTrackedResults >= 1)) {
    throw new UsageError(`maxTrackedResults must be a whole number, 1 or more (got ${String(maxTrackedResults)})`);
  }
}

/** Creates an app. Nothing connects until the app is used. */
export function createApp(options: AppOptions = {}): App {
  return new App(options);
}
