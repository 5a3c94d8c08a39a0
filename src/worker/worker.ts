import type { QueueDefinition } from '../config/types';
import { ClosedError, ProcessExitError, TaskRevokedError } from '../errors';
import type { Logger } from '../logging/logger';
import { clip, decodeTaskMessage, type TaskMessage } from '../protocol';
import type { Topology } from '../topology';
import type { DeliveredMessage, Publisher, Transport, TransportChannel } from '../transport';
import { errorSummary } from '../util/error-summary';
import { TypedEvents } from '../util/typed-events';
import { Consumer } from './consumer';
import { DeadLetters } from './dead-letters';
import { settle, type Delivery } from './delivery';
import { RequestHandler, type RevokedLookup, type Slot, type TaskRepublisher } from './request';
import { AsyncPool, type TaskPool } from './pool/task-pool';
import { ScheduledTasks } from './scheduled-tasks';
import { parseRateLimit, RateLimits } from './rate-limits';
import { StallMonitor } from './stall-monitor';
import { taskReceived } from './task-received';
import { runningTask, type RunningTask } from './task-scope';
import type { ResultStore } from './result-store';
import type { TaskLookup } from './task-types';
import type { Workflow } from './workflow';
import type { WorkerEvents, WorkerSummary } from './worker-events';
import { AUTOSCALE_TICK_MS, type ResolvedWorkerOptions } from './worker-options';

/** What a worker is made of; the app assembles it (`app.startWorker()`). */
export interface WorkerParts {
  transport: Transport;
  publisher: Publisher;
  /** Publishes retries and tasks that arrived too early. */
  republisher: TaskRepublisher;
  /** Where task states go: the app's result backend. */
  results: ResultStore;
  /** The steps a message's workflow asks for after its task (chain, callbacks, errbacks, chord). */
  workflow: Workflow;
  tasks: TaskLookup;
  logger: Logger;
  /** The queues to consume, already checked against the definitions. */
  queues: readonly QueueDefinition[];
  /** The part of the topology these queues need; declared on start. */
  topology: Topology;
  options: ResolvedWorkerOptions;
  /** Revoked task ids (remote control `revoke`): such a task is REVOKED when it arrives, not run. */
  isRevoked?: RevokedLookup;
  /**
   * Makes the pool task code runs in, given what to call when it cannot go on; the async pool
   * (the worker's own event loop) when absent.
   */
  pool?: (onFatal: (error: Error) => void) => TaskPool;
}

/** A task message in the worker's hands, as `inspect active` / `reserved` / `scheduled` show it. */
export interface TaskSnapshot {
  task: TaskMessage;
  queue: string;
  /** How the broker delivered it; absent for a task waiting in the delay levels. */
  delivery?: { exchange: string; routingKey: string; redelivered: boolean };
  /** When its run started (ms since the epoch): active tasks only. */
  startedAt?: number;
  /** The pid of the process running it (a pool process's in the process pool): active tasks only. */
  pid?: number;
  /** When it is due: scheduled tasks only. */
  eta?: Date;
}

/** What a worker holds now: running, delivered and not started, waiting for an eta. */
export interface WorkerSnapshot {
  active: TaskSnapshot[];
  reserved: TaskSnapshot[];
  scheduled: TaskSnapshot[];
}

/**
 * Consumes the chosen queues and runs their tasks. The delivery contract:
 * - prefetch = concurrency x multiplier, so the broker never hands this worker more than it can
 *   start soon; other workers get the rest;
 * - a message is acked only after its task finished and its result was confirmed by the broker
 *   (late ack): a worker that dies mid-task loses nothing, the broker redelivers;
 * - a task that throws gives a FAILURE result and is acked; so does one that returns what
 *   cannot be a result, or lets an error escape its own promise;
 * - a task that retries (`ctx.retry()`, `autoretryFor`) is published again, delayed by the broker,
 *   before its delivery is acked; past its allowed retries it fails;
 * - a message that cannot be a task is dead-lettered with its reason where the queue has a
 *   dead-letter exchange (else rejected without requeue) and logged; the worker goes on;
 * - on a queue with `deliveryLimit`, the worker counts the runs a message was lost in and runs a
 *   redelivered message alone, so only a poison message is dead-lettered (see `DeadLetters`).
 *
 * The parts: `Consumer` owns the channel (open, reopen, restore, pause); `RequestHandler` owns
 * one message's fate, decided by `decideOutcome`; `DeadLetters` takes messages out and counts
 * runs. This class holds the deliveries in hand, starts them, stops, and emits.
 */
export class Worker {
  readonly hostname: string;
  readonly options: ResolvedWorkerOptions;
  private readonly prefetch: number;
  private readonly logger: Logger;
  private readonly consumer: Consumer;
  private readonly deadLetters: DeadLetters;
  private readonly requests: RequestHandler;
  private readonly pool: TaskPool;
  private readonly monitor: StallMonitor;
  private readonly events: TypedEvents<WorkerEvents>;
  /** Delivered, not started. */
  private readonly inbox: Delivery[] = [];
  /** Counted copies waiting to run alone. */
  private readonly alone: Delivery[] = [];
  /** The counted copy that runs alone once the running tasks are done; stop() may take it back first. */
  private lone: Delivery | undefined;
  private readonly running = new Map<Delivery, Slot>();
  /** A delivery is running alone, or the worker is clearing the way for one: nothing else starts. */
  private solo = false;
  /** Deliveries that arrived while clearing the way for a lone run, being sent back round. */
  private readonly sendingBack = new Set<Promise<void>>();
  /**
   * The names (`task[id]`) of the runs that ended since the stall monitor's last tick; with the
   * running ones, the runs a stall may have come from. Only the name outlives the run: a tick's
   * worth of finished runs (thousands, at full speed) holding their messages and contexts outlived
   * the young generation, and the worker's heap swung by tens of megabytes between major collections.
   */
  private endedSinceTick: string[] = [];
  private readonly idleWaiters: Array<() => void> = [];
  private stopping = false;
  private stopped: Promise<void> | undefined;
  private readonly summary: WorkerSummary = { processed: 0, succeeded: 0, failed: 0, retried: 0, revoked: 0, rejected: 0, handedBack: 0 };
  /** Runs started, by task name (Celery's `stats` `total`). */
  private readonly started = new Map<string, number>();
  private startedCount = 0;
  private readonly scheduled = new ScheduledTasks();
  /** Tasks run at once now: `concurrency`, or with `autoscale` from its min to its max. */
  private slots: number;
  /** The bounds of autoscale (remote control `autoscale` changes them), and its timer. */
  private autoscaleBounds: { max: number; min: number; keepaliveMs: number } | undefined;
  private autoscaler: NodeJS.Timeout | undefined;
  private lastScaleUp = 0;
  /** Deliveries of rate-limited tasks wait here for their turn (`rateLimit`, remote `rate_limit`). */
  private readonly rateLimits: RateLimits;
  /** The queues consumed now: the ones started with, and those added and cancelled since. */
  private readonly consumed: QueueDefinition[];
  /** When the worker was made. */
  readonly startedAt = new Date();
  /** Where its Prometheus metrics are served (`metricsPort`), when they are. */
  metricsUrl: string | undefined;

  constructor(private readonly parts: WorkerParts) {
    const { options } = parts;
    this.options = options;
    this.hostname = options.hostname;
    this.prefetch = options.concurrency * options.prefetchMultiplier;
    this.autoscaleBounds = options.autoscale && { ...options.autoscale };
    this.slots = options.autoscale?.min ?? options.concurrency;
    this.consumed = [...parts.queues];
    this.logger = parts.logger.child({ component: 'worker', hostname: this.hostname });
    this.events = new TypedEvents<WorkerEvents>({ logger: this.logger });
    this.deadLetters = new DeadLetters(parts.queues, parts.publisher, this.hostname, this.logger, (rejection) => this.emit('message-rejected', rejection));
    this.pool = parts.pool?.((error) => this.poolFailed(error)) ?? new AsyncPool();
    this.requests = new RequestHandler({
      pool: this.pool,
      publisher: parts.publisher,
      republisher: parts.republisher,
      results: parts.results,
      workflow: parts.workflow,
      tasks: parts.tasks,
      deadLetters: this.deadLetters,
      logger: this.logger,
      options,
      emit: (event, payload) => this.emit(event, payload),
      isRevoked: parts.isRevoked,
      scheduled: this.scheduled,
    });
    this.consumer = new Consumer({
      transport: parts.transport,
      queues: parts.queues,
      topology: parts.topology,
      prefetch: this.prefetch,
      logger: this.logger,
      hooks: {
        onDelivery: (channel, queue, message) => this.onDelivery(channel, queue, message),
        onChannelClosed: (channel) => this.onChannelClosed(channel),
      },
    });
    this.rateLimits = new RateLimits(
      (name) => {
        const limit = parts.tasks.get(name)?.options.rateLimit;
        return limit === undefined ? undefined : parseRateLimit(limit);
      },
      (delivery) => this.admit(delivery),
    );
    this.monitor = new StallMonitor(
      options.stallWarningMs,
      () => (this.endedSinceTick = []),
      (blockedMs) => this.onStall(blockedMs),
    );
  }

  on<K extends keyof WorkerEvents>(event: K, listener: (event: WorkerEvents[K]) => void): this {
    this.events.on(event, listener);
    return this;
  }

  off<K extends keyof WorkerEvents>(event: K, listener: (event: WorkerEvents[K]) => void): this {
    this.events.off(event, listener);
    return this;
  }

  /** Starts the pool (the process pool's children load the tasks module), declares the queues' topology, then starts consuming. */
  async start(): Promise<void> {
    const names = this.parts.queues.map((q) => q.name);
    await this.pool.start();
    try {
      await this.consumer.declare();
      if (this.options.purge) await this.purge(names);
      await this.parts.publisher.start();
      // Retries and early tasks go back to the queue they came from, through the delay levels.
      await this.parts.republisher.prepare(names.map((queue) => ({ exchange: '', routingKey: queue })));
      await this.consumer.start();
    } catch (err) {
      // A worker that did not start leaves no pool process behind.
      await this.pool.close();
      throw err;
    }
    this.monitor.start();
    if (this.autoscaleBounds) {
      this.autoscaler = setInterval(() => this.autoscale(), AUTOSCALE_TICK_MS);
      this.autoscaler.unref();
    }
    const { concurrency } = this.options;
    this.logger.info({ queues: names, concurrency, prefetch: this.prefetch, pool: this.pool.kind, node: this.parts.transport.connectedTo() }, 'worker ready');
    // After the caller of start() (app.startWorker) had its turn to add listeners.
    setImmediate(() => {
      if (!this.stopping) this.emit('ready', { hostname: this.hostname, queues: names, concurrency, prefetch: this.prefetch });
    });
  }

  /** `--purge`: what waits in the queues is deleted before the first consume. */
  private async purge(names: readonly string[]): Promise<void> {
    for (const queue of names) {
      const { messageCount } = await this.parts.transport.withTemporaryChannel((channel) => channel.purgeQueue(queue));
      this.logger.warn({ queue, messages: messageCount }, `purged ${messageCount} waiting message${messageCount === 1 ? '' : 's'} (--purge)`);
    }
  }

  /** Where task code runs: `async` (this process's event loop) or `process` (child processes). */
  get poolKind(): 'async' | 'process' {
    return this.pool.kind;
  }

  /** The pids of the pool's processes (none for the async pool). */
  poolProcesses(): number[] {
    return this.pool.processes();
  }

  /** Number of tasks running now. */
  get active(): number {
    return this.running.size;
  }

  /** What the worker did so far. */
  get stats(): WorkerSummary {
    return { ...this.summary };
  }

  /** Task runs started so far (Celery's `processed` in heartbeats). */
  get startedRuns(): number {
    return this.startedCount;
  }

  /** Task runs started so far, by task name (Celery's `total` in `stats`). */
  startedByTask(): Record<string, number> {
    return Object.fromEntries(this.started);
  }

  /** Unacknowledged deliveries the broker may hand this worker (prefetch count). */
  get prefetchCount(): number {
    return this.prefetch;
  }

  /** Deliveries in hand that have not started: prefetched, or held for their eta. */
  get reservedCount(): number {
    let held = 0;
    for (const slot of this.running.values()) if (!slot.task) held += 1;
    return this.inbox.length + this.alone.length + this.rateLimits.waiting().length + held + (this.lone ? 1 : 0);
  }

  /** The queues consumed now, in the order they were added. */
  get queues(): readonly QueueDefinition[] {
    return [...this.consumed];
  }

  /**
   * The tasks in the worker's hands now, for `inspect`: running (active), delivered and not
   * started (reserved: prefetched, or still being checked), and waiting for their eta
   * (scheduled: held here for less than a second, or moved into the broker's delay levels by
   * this worker). Bodies of prefetched deliveries are decoded here; one that is no task is left out.
   */
  snapshot(): WorkerSnapshot {
    const active: TaskSnapshot[] = [];
    const reserved: TaskSnapshot[] = [];
    const scheduled: TaskSnapshot[] = [];
    for (const [delivery, slot] of this.running) {
      const task = slot.request ?? decoded(delivery);
      if (!task) continue;
      const snapshot: TaskSnapshot = { task, queue: delivery.queue, delivery: deliveryInfo(delivery) };
      if (slot.task) active.push({ ...snapshot, startedAt: slot.startedAt, pid: this.pool.processOf(slot.task) });
      else if (slot.heldUntil) scheduled.push({ ...snapshot, eta: slot.heldUntil });
      else reserved.push(snapshot);
    }
    for (const delivery of [...this.inbox, ...this.rateLimits.waiting(), ...this.alone, ...(this.lone ? [this.lone] : [])]) {
      const task = decoded(delivery);
      if (task) reserved.push({ task, queue: delivery.queue, delivery: deliveryInfo(delivery) });
    }
    for (const entry of this.scheduled.list()) scheduled.push({ task: entry.task, queue: entry.queue, eta: entry.eta });
    return { active, reserved, scheduled };
  }

  /**
   * Handles at once the prefetched deliveries whose task ids `isRevoked` now names, instead of
   * leaving them to wait for a free slot: each ends REVOKED and is acked. Returns how many.
   * (A counted copy waiting to run alone keeps its place; it is revoked when it runs.)
   */
  discardRevoked(): number {
    const isRevoked = this.parts.isRevoked;
    if (!isRevoked || this.stopping) return 0;
    const idOf = (delivery: Delivery): string | undefined => {
      const id: unknown = delivery.message.properties.headers?.id;
      return typeof id === 'string' ? id : decoded(delivery)?.id;
    };
    const matches = (delivery: Delivery): boolean => {
      const id = idOf(delivery);
      return id !== undefined && isRevoked(id);
    };
    const revoked = this.inbox.filter(matches);
    for (const delivery of revoked) this.inbox.splice(this.inbox.indexOf(delivery), 1);
    // Rate-limited ones too: a revoked task does not wait for its turn.
    revoked.push(...this.rateLimits.take(matches));
    for (const delivery of revoked) void this.begin(delivery);
    return revoked.length;
  }

  /**
   * Ends the running tasks with these ids, for a remote `revoke` with `terminate`: each is
   * recorded REVOKED (`terminated`) and acked at once, and its slot goes to the next task. In the
   * process pool the child running it is killed with `signal` (SIGKILL after a grace period) and
   * replaced. In the async pool JavaScript cannot kill a running function: its signal is aborted
   * (its reason a `TaskRevokedError`) and whatever it does afterwards is ignored, as past a hard
   * time limit. Returns the ids of the runs it ended.
   */
  terminate(taskIds: ReadonlySet<string>, signal: string): string[] {
    const ended: string[] = [];
    for (const slot of this.running.values()) {
      const run = slot.task;
      if (!run?.running || !taskIds.has(run.context.taskId)) continue;
      const error = new TaskRevokedError(run.context.taskId, `terminated (${signal})`);
      if (run.end({ kind: 'terminated', error, signal })) ended.push(run.context.taskId);
    }
    return ended;
  }

  /**
   * Consumes one more queue (the remote control `add_consumer`): declares `topology` first when
   * given, else the queue must exist on the broker. False when it is consumed already.
   */
  async addConsumer(queue: QueueDefinition, topology?: Topology): Promise<boolean> {
    if (this.stopping) throw new ClosedError(`cannot consume ${queue.name}: the worker is stopping`);
    if (this.consumed.some((q) => q.name === queue.name)) return false;
    this.deadLetters.addQueue(queue);
    await this.consumer.add(queue, topology);
    await this.parts.republisher.prepare([{ exchange: '', routingKey: queue.name }]);
    this.consumed.push(queue);
    this.logger.info({ queue: queue.name }, 'consuming one more queue (add_consumer)');
    return true;
  }

  /**
   * Stops consuming one queue (the remote control `cancel_consumer`); deliveries of it in hand
   * still run. False when it was not consumed.
   */
  async cancelConsumer(name: string): Promise<boolean> {
    const index = this.consumed.findIndex((q) => q.name === name);
    if (index < 0) return false;
    this.consumed.splice(index, 1);
    await this.consumer.remove(name);
    this.logger.info({ queue: name }, 'no longer consuming a queue (cancel_consumer)');
    return true;
  }

  private onDelivery(channel: TransportChannel, queue: string, message: DeliveredMessage): void {
    const delivery: Delivery = { channel, message, queue, settled: false };
    if (this.events.listenerCount('task-received') > 0) {
      const received = taskReceived(queue, message);
      if (received) this.emit('task-received', received);
    }
    if (this.stopping) {
      void this.handBack(delivery);
      return;
    }
    if (this.solo && this.deadLetters.counts(queue)) {
      // Arrived while a counted message runs alone (before the pause took effect): back round.
      // The lone run waits for these: a worker it takes down while one is still unacked would
      // have that innocent message redelivered, and counted, again.
      const sent = this.sendBack(delivery).finally(() => this.sendingBack.delete(sent));
      this.sendingBack.add(sent);
      return;
    }
    if (this.deadLetters.runsAlone(delivery)) {
      this.alone.push(delivery);
    } else {
      const name: unknown = message.properties.headers?.task;
      if (typeof name === 'string' && this.rateLimits.hold(delivery, name)) return;
      this.inbox.push(delivery);
    }
    this.pump();
  }

  /** A rate-limited delivery's turn came. */
  private admit(delivery: Delivery): void {
    if (delivery.settled) return; // its channel closed meanwhile
    if (this.stopping) {
      void this.handBack(delivery);
      return;
    }
    this.inbox.push(delivery);
    this.pump();
  }

  /**
   * Sets a task's rate limit on this worker (the remote control `rate_limit`), over the task's
   * own `rateLimit`: starts per second, 0 for none.
   */
  setRateLimit(taskName: string, perSecond: number): void {
    this.rateLimits.set(taskName, perSecond);
  }

  /**
   * Sets a task's time limits on this worker (the remote control `time_limit`), in seconds, over
   * the task's own `softTimeLimit` / `timeLimit`; undefined leaves one to the worker's default.
   */
  setTimeLimits(taskName: string, soft: number | undefined, hard: number | undefined): void {
    this.requests.setTimeLimits(taskName, soft, hard);
  }

  /** The rate limit in force on this worker for a task, in starts per second (0: none). */
  rateLimit(taskName: string): number {
    return this.rateLimits.limit(taskName);
  }

  /** Deliveries of a closed channel can no longer be settled: the broker requeued them, so the unstarted ones are dropped. */
  private onChannelClosed(channel: TransportChannel): void {
    const held = this.rateLimits.take((delivery) => delivery.channel === channel);
    for (const delivery of held) delivery.settled = true;
    let dropped = held.length;
    for (const list of [this.inbox, this.alone]) {
      for (let i = list.length - 1; i >= 0; i -= 1) {
        if (list[i].channel !== channel) continue;
        list[i].settled = true;
        list.splice(i, 1);
        dropped += 1;
      }
    }
    if (dropped > 0) this.logger.debug({ dropped }, 'dropped prefetched deliveries of a closed channel; the broker requeued them');
  }

  private pump(): void {
    if (this.stopping || this.solo) return;
    if (this.alone.length > 0) {
      void this.runAlone();
      return;
    }
    while (this.running.size < this.slots && this.inbox.length > 0) void this.begin(this.inbox.shift()!);
  }

  /**
   * Autoscale, once a second, as Celery's: as many slots as deliveries in hand (running and
   * waiting for a slot), at most the max; fewer, down to the min, once the last growth is
   * `keepaliveMs` old.
   */
  private autoscale(): void {
    const bounds = this.autoscaleBounds;
    if (!bounds || this.stopping || this.solo) return;
    const demand = this.running.size + this.inbox.length;
    const up = Math.min(demand, bounds.max);
    if (up > this.slots) {
      this.lastScaleUp = Date.now();
      this.resize(up);
      return;
    }
    const down = Math.max(demand, bounds.min);
    if (down < this.slots && Date.now() - this.lastScaleUp >= bounds.keepaliveMs) this.resize(down);
  }

  private resize(slots: number): void {
    const from = this.slots;
    if (slots === from) return;
    this.slots = slots;
    this.pool.resize?.(slots);
    this.logger.info({ from, to: slots }, `autoscale: ${slots > from ? 'up' : 'down'} to ${slots} tasks at once`);
    this.pump();
  }

  /** Tasks run at once now (`concurrency`, or where autoscale has it). */
  get currentConcurrency(): number {
    return this.slots;
  }

  /** The bounds of autoscale, or undefined when the worker does not autoscale. */
  get autoscaleLimits(): { readonly max: number; readonly min: number } | undefined {
    return this.autoscaleBounds && { ...this.autoscaleBounds };
  }

  /**
   * New bounds for autoscale (the remote control `autoscale`); the slots move into them at once.
   * @throws RangeError when the worker does not autoscale, or `max` is above the max it started
   *   with (its prefetch is that max times the multiplier)
   */
  setAutoscale(max: number, min: number): void {
    const started = this.options.autoscale?.max;
    if (!this.autoscaleBounds || started === undefined) throw new RangeError('Autoscale not enabled');
    if (max > started) throw new RangeError(`max ${max} is above the ${started} the worker started with (its prefetch is ${this.prefetch})`);
    this.autoscaleBounds = { max, min, keepaliveMs: this.autoscaleBounds.keepaliveMs };
    this.resize(Math.min(max, Math.max(min, this.slots)));
  }

  private begin(delivery: Delivery): Promise<void> {
    const slot: Slot = { task: undefined, abandoned: false };
    this.running.set(delivery, slot);
    // One promise after the handler's, not a catch and a finally each.
    return this.requests.handle(delivery, slot).then(
      () => this.ended(delivery),
      (err: unknown) => {
        try {
          this.unexpected(delivery, err);
        } finally {
          this.ended(delivery);
        }
      },
    );
  }

  /** A delivery's handling is over: its slot goes to the next one. */
  private ended(delivery: Delivery): void {
    const slot = this.running.get(delivery);
    this.running.delete(delivery);
    if (slot?.task) this.endedSinceTick.push(runName(slot.task.context));
    if (this.running.size === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
    this.pump();
  }

  /**
   * Runs a counted copy alone (see `DeadLetters`): stops consuming, sends the other deliveries
   * of counted queues it holds unstarted back round, waits for its running tasks, runs the copy,
   * then consumes again. Deliveries of other queues wait in the inbox: they count nothing.
   */
  private async runAlone(): Promise<void> {
    this.solo = true;
    try {
      const lone = this.alone.shift();
      this.lone = lone;
      const paused = this.consumer.pause();
      this.deadLetters.holdCopiesUntil(paused);
      await paused;
      const others = [
        ...this.alone.splice(0),
        ...this.inbox.filter((d) => this.deadLetters.counts(d.queue)),
        ...this.rateLimits.take((d) => this.deadLetters.counts(d.queue)),
      ];
      this.inbox.splice(0, this.inbox.length, ...this.inbox.filter((d) => !others.includes(d)));
      await Promise.all(others.map((d) => this.sendBack(d)));
      await this.whenIdle();
      await Promise.all(this.sendingBack);
      // The acks of everything finished or sent round must have reached the broker before a run
      // that may kill the process: one still in a buffer would have its message redelivered, and
      // an innocent one counted again.
      await this.consumer.flushAcks();
      // stop() may have handed it back meanwhile, or its channel gone.
      if (!lone || this.lone !== lone || lone.settled || this.stopping) return;
      this.lone = undefined;
      this.logger.warn({ queue: lone.queue, taskId: lone.message.properties.headers?.id }, 'running a redelivered message alone, so that it alone is counted if it takes the worker down');
      await this.begin(lone);
    } finally {
      this.solo = false;
      if (!this.stopping) await this.consumer.resume();
      this.pump();
    }
  }

  private whenIdle(): Promise<void> {
    return this.running.size === 0 ? Promise.resolve() : new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** An unstarted delivery of a counted queue goes back round uncounted; a suspect one is counted as it would be. */
  private async sendBack(delivery: Delivery): Promise<void> {
    if (this.deadLetters.isSuspect(delivery)) await this.deadLetters.countRedelivery(delivery);
    else await this.deadLetters.sendRound(delivery);
  }

  /**
   * Hands an unstarted delivery back at shutdown: a requeue, or on a counted queue a copy sent
   * round (a requeue would flag it redelivered, and a quorum queue would count it): uncounted,
   * or for a suspect one, counted for the run it was lost in before it came here.
   */
  private async handBack(delivery: Delivery): Promise<void> {
    this.summary.handedBack += 1;
    if (this.deadLetters.counts(delivery.queue)) await this.sendBack(delivery);
    else settle(delivery, 'requeue');
  }

  /**
   * A bug or a broker surprise while handling a delivery must not take the worker down (an
   * unhandled rejection ends a Node process): log it and take the message out of the queue,
   * so it cannot come round forever; the broker dead-letters it where the queue has a DLX.
   */
  private unexpected(delivery: Delivery, err: unknown): void {
    const id: unknown = delivery.message.properties.headers?.id;
    this.logger.error(
      { queue: delivery.queue, taskId: typeof id === 'string' ? clip(id) : undefined, err: err instanceof Error ? err.message : String(err) },
      'unexpected error while handling a message; rejected without requeue',
    );
    settle(delivery, 'reject');
  }

  /**
   * For a process-level handler (`uncaughtException`, `unhandledRejection`; the CLI installs
   * them): an error escaped task code, from a timer, a callback or a promise nobody awaited.
   * It is traced to the run whose code started it (its async context); with no context, to the
   * only task running, when just one is. That run ends as a FAILURE with the error and the
   * worker goes on. True when the error belonged to a task of this worker (running, or already
   * finished: then it is only logged); false when it belongs to no task (it is emitted as
   * `error`), and the caller decides.
   */
  handleEscapedError(error: unknown): boolean {
    const scoped = runningTask();
    let task: RunningTask | undefined = scoped?.owner === this.requests ? scoped : undefined;
    if (!scoped && this.pool.kind === 'async') {
      const runs = [...this.running.values()].flatMap((slot) => (slot.task?.running ? [slot.task] : []));
      if (runs.length === 1) task = runs[0];
    }
    if (task?.running) {
      task.end({ kind: 'escaped', error });
      return true;
    }
    if (task) {
      const { taskName, taskId } = task.context;
      this.logger.error({ task: taskName, taskId, err: errorSummary(error) }, 'an error escaped a task that had already finished (a timer or callback it left behind); ignored');
      return true;
    }
    this.emit('error', error instanceof Error ? error : new Error(String(error)));
    return false;
  }

  /**
   * For a process-level guard on `process.exit`: task code of this worker called it. A task
   * cannot end its worker: the run ends as a FAILURE with the returned `ProcessExitError`, which
   * the guard throws in place of exiting (Python's `sys.exit()` raises `SystemExit` the same
   * way). Undefined when the caller is not a running task of this worker, or the worker is
   * stopping: then the process may exit.
   */
  exitCalled(code?: number): ProcessExitError | undefined {
    if (this.stopping) return undefined;
    const task = runningTask();
    if (task?.owner !== this.requests || !task.running) return undefined;
    const error = new ProcessExitError(task.context.taskName, code);
    task.end({ kind: 'escaped', error });
    return error;
  }

  /** The process pool cannot go on: said as `pool-failed`, and the worker stops. */
  private poolFailed(error: Error): void {
    if (this.stopping) return;
    this.emit('pool-failed', error);
    void this.stop();
  }

  /** Whether `stop()` was called. */
  get isStopping(): boolean {
    return this.stopping;
  }

  /** The names (`task[id]`) of the runs under way (deliveries whose task code started). */
  private runningNames(): string[] {
    return [...this.running.values()].flatMap((slot) => (slot.task ? [runName(slot.task.context)] : []));
  }

  private onStall(blockedMs: number): void {
    const names = [...this.endedSinceTick, ...this.runningNames()];
    const seconds = Math.round(blockedMs / 100) / 10;
    const who = names.length === 0 ? 'while no task was running' : names.length === 1 ? `by task ${names[0]}` : `by one of the tasks ${names.join(', ')}`;
    this.logger.warn(
      { blockedMs: Math.round(blockedMs), tasks: names },
      `event loop blocked for ${seconds} s ${who}: meanwhile no heartbeat, ack or result went out and no other task ran; ` +
        'past the broker heartbeat timeout the connection is lost and every unacknowledged task runs again. ' +
        'Keep tasks asynchronous (await I/O, split long loops), or move CPU-bound work into worker_threads or a child process',
    );
  }

  /**
   * Stops consuming, lets running tasks finish (at most `shutdownTimeoutMs`), hands prefetched
   * messages that never started back to the broker, and closes the worker's channel. Past the
   * timeout, running tasks are let go: their deliveries go back to the broker (another worker
   * runs them), and whatever they do afterwards is ignored, with no result and no second ack.
   */
  stop(): Promise<void> {
    this.stopped ??= this.shutDown();
    return this.stopped;
  }

  private async shutDown(): Promise<void> {
    this.stopping = true;
    clearInterval(this.autoscaler);
    this.monitor.stop();
    await this.consumer.stop();
    const lone = this.lone;
    this.lone = undefined;
    const unstarted = [...this.inbox.splice(0), ...this.alone.splice(0), ...this.rateLimits.take(), ...(lone ? [lone] : [])];
    await Promise.all(unstarted.map((delivery) => this.handBack(delivery)));
    if (this.running.size > 0) {
      const timeoutMs = this.options.shutdownTimeoutMs;
      this.logger.info({ running: this.running.size, timeoutMs }, 'waiting for running tasks to finish');
      let timer: NodeJS.Timeout | undefined;
      const finished = await Promise.race([
        this.whenIdle().then(() => true),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
      ]);
      clearTimeout(timer);
      if (!finished) {
        const tasks = this.runningNames();
        this.logger.warn({ running: this.running.size, tasks, timeoutMs }, 'shutdown timeout: handing running tasks back to the broker; what they do from now on is ignored');
        for (const [delivery, slot] of this.running) {
          slot.abandoned = true;
          slot.task?.end({ kind: 'abandoned' });
          if (settle(delivery, 'requeue')) this.summary.handedBack += 1;
        }
      }
    }
    await this.pool.close();
    await this.consumer.close();
    const summary = this.stats;
    this.logger.info(summary, 'worker stopped');
    this.emit('closed', summary);
  }

  /**
   * The one place the worker emits (after a message is settled) and counts what it did. A
   * listener that throws changes nothing: TypedEvents emits its exception as `error` (a
   * `ListenerError`), or logs it when nobody listens for `error`.
   */
  private emit<K extends keyof WorkerEvents>(event: K, payload: WorkerEvents[K]): void {
    const field = COUNTED[event];
    if (event === 'task-started') {
      const { taskName } = payload as WorkerEvents['task-started'];
      this.startedCount += 1;
      this.started.set(taskName, (this.started.get(taskName) ?? 0) + 1);
    }
    if (field) {
      this.summary[field] += 1;
      if (field !== 'rejected') this.summary.processed += 1;
    }
    this.events.emit(event, payload);
  }
}

/** The summary's field that each outcome event counts in. */
const COUNTED: Partial<Record<keyof WorkerEvents, keyof WorkerSummary>> = {
  'task-succeeded': 'succeeded',
  'task-failed': 'failed',
  'task-retried': 'retried',
  'task-revoked': 'revoked',
  'message-rejected': 'rejected',
};


/** A delivery's task, decoded for inspection; undefined for one that is no task. */
function decoded(delivery: Delivery): TaskMessage | undefined {
  try {
    return decodeTaskMessage({ content: delivery.message.content, properties: delivery.message.properties });
  } catch {
    return undefined;
  }
}

function deliveryInfo(delivery: Delivery): TaskSnapshot['delivery'] {
  const { fields } = delivery.message;
  return { exchange: fields.exchange, routingKey: fields.routingKey, redelivered: fields.redelivered };
}

/** How the worker's log names a run: `task[id]`. */
function runName(context: { readonly taskName: string; readonly taskId: string }): string {
  return `${context.taskName}[${context.taskId}]`;
}
