import { loadDefinitions } from '../config';
import type { Definitions } from '../config/types';
import { Beat, DEFAULT_STATE_FILE, LeaderLock, Schedules, createScheduleStore } from '../beat';
import { BrokerUnavailableError, UsageError } from '../errors';
import { createLogger, type Logger, type LogLevel } from '../logging/logger';
import { DelayedDelivery, Producer, type SendTaskOptions } from '../producer';
import { maxMessageBytes } from '../protocol';
import { AsyncResult, RpcResultBackend } from '../result';
import { createRouter } from '../router';
import { buildTopology, declareOnOwnChannel, selectTopology, type DeclaredReport } from '../topology';
import { BrokerConnection, Publisher } from '../transport';
import { Worker, resolveWorkerOptions, type TaskHandler, type WorkerOptions } from '../worker';
import { Lazy } from '../util/lazy';
import { createTaskHandle, type BoundHandler, type BoundTaskOptions, type TaskHandle, type UnboundTaskOptions } from './task-handle';
import { TaskRegistry } from './task-registry';

export interface AppOptions {
  /** A definitions file or folder, or definitions already loaded. @defaultValue './definitions' */
  definitions?: string | Definitions;
  /** Overrides the definitions' broker URL (and `WARREN_BROKER_URL`). */
  brokerUrl?: string;
  /** The root logger; warren logs through children of it. @defaultValue a pino logger on stderr */
  logger?: Logger;
  /** Level of the default logger. @defaultValue 'info' */
  logLevel?: LogLevel;
  /** How long `sendTask` waits for the broker's confirm, connected or not. @defaultValue 10000 */
  publishTimeoutMs?: number;
  /** How long the first connection may take. @defaultValue 10000 */
  connectTimeoutMs?: number;
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

  constructor(options: AppOptions = {}) {
    this.options = { ...options };
    this.logger = options.logger ?? createLogger({ level: options.logLevel });
  }

  /** Applies overrides (from the command line) before anything has started. */
  configure(overrides: Partial<AppOptions>): this {
    if (this.definitionsLoad) throw new UsageError('configure() must be called before the app is first used');
    const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
    this.options = { ...this.options, ...defined };
    if (overrides.logger) this.logger = overrides.logger;
    return this;
  }

  /**
   * The schedule: entries from the definitions side by side with runtime entries in the store.
   * `add`, `list`, `show`, `enable`, `disable`, `remove`, `next`; a running beat sees each change
   * within a second.
   */
  get schedules(): Schedules {
    this.scheduleManager ??= new Schedules(
      () => this.definitions(),
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
    return createTaskHandle(name, (taskName, args, kwargs, sendOptions) => this.sendTask(taskName, args, kwargs, sendOptions));
  }

  /** The validated definitions, loaded once. */
  definitions(): Promise<Definitions> {
    this.definitionsLoad ??= this.loadDefinitions();
    return this.definitionsLoad;
  }

  private async loadDefinitions(): Promise<Definitions> {
    const source = this.options.definitions ?? process.env.WARREN_DEFINITIONS ?? './definitions';
    if (typeof source !== 'string') return source;
    return loadDefinitions(source, { brokerUrl: this.options.brokerUrl });
  }

  /** The process's one connection, with its publisher; concurrent first callers share one connect. */
  private readonly connection = new Lazy(async () => {
    const definitions = await this.definitions();
    const urls = this.options.brokerUrl ? [this.options.brokerUrl] : definitions.broker.urls;
    const connection = new BrokerConnection({ urls, logger: this.logger, connectTimeoutMs: this.options.connectTimeoutMs });
    await connection.start();
    this.publisher = new Publisher(connection, { name: 'publisher', logger: this.logger, publishTimeoutMs: this.options.publishTimeoutMs });
    this.delays = new DelayedDelivery(connection, this.publisher, this.logger);
    return connection;
  });

  private connect(): Promise<BrokerConnection> {
    return this.connection.get();
  }

  /** Declares the whole topology (a client may send anywhere) and starts the publisher. */
  private readonly producer = new Lazy(async () => {
    const definitions = await this.definitions();
    await this.declareTopology();
    await this.publisher!.start();
    return new Producer(createRouter(definitions), this.delays!, this.logger, maxMessageBytes(this.options.maxMessageBytes, 'maxMessageBytes'));
  });

  /** The reply queue, made only when a task that wants its result is sent. */
  private readonly results = new Lazy(async () => {
    const results = new RpcResultBackend(await this.connect(), this.logger);
    await results.start();
    return results;
  });

  /**
   * Sends a task by name: the routes table picks its queue, the broker confirms it, and the
   * returned AsyncResult follows its state. Rejects when the broker refuses or cannot route it.
   */
  async sendTask<T = unknown>(
    name: string,
    args: readonly unknown[] = [],
    kwargs: Readonly<Record<string, unknown>> = {},
    options: SendTaskOptions = {},
  ): Promise<AsyncResult<T>> {
    const producer = await this.producer.get();
    const taskId = options.taskId ?? Producer.newTaskId();
    if (options.ignoreResult) {
      await producer.publish({ taskId, taskName: name, args, kwargs, replyTo: '', options });
      return AsyncResult.ignored<T>(taskId);
    }
    const results = await this.results.get();
    // After a reconnect, the reply queue must be there again before the task goes out.
    await results.whenReady(this.options.publishTimeoutMs ?? 10_000);
    // Follow the id before publishing: a fast worker's result must find its listener.
    const result = results.track<T>(taskId);
    try {
      await producer.publish({ taskId, taskName: name, args, kwargs, replyTo: results.replyQueue, options });
    } catch (err) {
      results.forget(taskId);
      throw err;
    }
    return result;
  }

  /** Declares every exchange, queue and binding of the definitions. */
  async declareTopology(): Promise<DeclaredReport> {
    const definitions = await this.definitions();
    return declareOnOwnChannel(await this.connect(), buildTopology(definitions));
  }

  /**
   * Starts a worker consuming the given queues (all must be declared in the definitions; the
   * default queue when none are given). The options are resolved once, with their defaults,
   * as `warren worker` resolves its flags.
   * @throws UsageError for an option that is not valid, before anything connects.
   */
  async startWorker(options: WorkerOptions = {}): Promise<Worker> {
    const resolved = resolveWorkerOptions(options, { maxMessageBytes: maxMessageBytes(this.options.maxMessageBytes, 'maxMessageBytes') });
    const definitions = await this.definitions();
    const names = resolved.queues.length > 0 ? [...resolved.queues] : [definitions.defaultQueue];
    const topology = selectTopology(buildTopology(definitions), names); // throws UnknownQueueError
    const queues = definitions.queues.filter((q) => names.includes(q.name));
    const transport = await this.connect();
    const worker = new Worker({
      transport,
      publisher: this.publisher!,
      republisher: this.delays!,
      tasks: this.tasks,
      logger: this.logger,
      queues,
      topology,
      options: { ...resolved, queues: names },
    });
    await worker.start();
    this.workers.add(worker);
    return worker;
  }

  /**
   * Starts a beat: it fires the schedule while it holds the leader lock (an exclusive queue
   * on this app's connection), and waits to take over while another beat holds it.
   */
  async startBeat(options: StartBeatOptions = {}): Promise<Beat> {
    const definitions = await this.definitions();
    await this.producer.get(); // declares the topology
    const connection = await this.connect();
    // Fires go out on a channel of the connection that holds the lock: when the connection
    // goes, so does the lock, and a fire not yet confirmed fails instead of going out after
    // the reconnect, when another beat may lead.
    const firePublisher = new Publisher(connection, { name: 'beat', logger: this.logger, publishTimeoutMs: this.options.publishTimeoutMs, survivesReconnect: false });
    await firePublisher.start();
    const fireDelays = new DelayedDelivery(connection, firePublisher, this.logger);
    this.beatPublishers.push({ publisher: firePublisher, delays: fireDelays });
    const producer = new Producer(createRouter(definitions), fireDelays, this.logger, maxMessageBytes(this.options.maxMessageBytes, 'maxMessageBytes'));
    const lock = new LeaderLock({ connection: { createChannel: () => connection.openChannel() }, suffix: options.lockSuffix, logger: this.logger });
    const beat = new Beat({
      schedules: this.schedules,
      store: this.schedules.store,
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
    this.beats.add(beat);
    return beat;
  }

  /** Stops workers (letting running tasks finish), then closes every channel and the connection. */
  async close(): Promise<void> {
    await Promise.all([...this.workers].map((worker) => worker.stop()));
    this.workers.clear();
    await Promise.all([...this.beats].map((beat) => beat.stop()));
    this.beats.clear();
    for (const { publisher, delays } of this.beatPublishers.splice(0)) {
      delays.close();
      await publisher.close();
    }
    await this.scheduleManager?.store.close();
    this.scheduleManager = undefined;
    const results = this.results.peek();
    this.results.reset();
    this.producer.reset();
    await (await results?.catch(() => undefined))?.close();
    this.delays?.close();
    this.delays = undefined;
    await this.publisher?.close();
    this.publisher = undefined;
    const connection = await this.connection.peek()?.catch(() => undefined);
    this.connection.reset();
    await connection?.close();
  }
}

/** Creates an app. Nothing connects until the app is used. */
export function createApp(options: AppOptions = {}): App {
  return new App(options);
}
