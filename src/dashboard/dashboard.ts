import type { App } from '../app';
import { DEFAULT_LOCK_QUEUE, describeSchedule } from '../beat';
import type { Definitions } from '../config/types';
import { FleetState, type CeleryEvent, type NodeReply, type WorkerState } from '../control';
import { UsageError } from '../errors';
import type { Logger } from '../logging/logger';
import { createRouter, type Router } from '../router';
import { maskUrl } from '../util/mask-url';
import { browseDeadLetters, settleDeadLetter, type DeadLetter, type SettleOutcome } from './dead-letter-browser';
import { DepthSeries, type DepthPoint } from './depth-series';
import { TaskHistory, type TaskFilter, type TaskNameStats, type TaskRecord } from './task-history';

export interface DashboardOptions {
  app: App;
  logger: Logger;
  /** Tasks kept in memory. @defaultValue 10000 */
  maxTasks?: number;
  /** How often queue depths, the schedule and the beat leader are asked. @defaultValue 2000 */
  pollMs?: number;
  /** How often workers are asked for `stats` and `active_queues`. @defaultValue 10000 */
  inspectMs?: number;
}

/** A worker row: its heartbeat state and what `inspect` said of it. */
export interface WorkerRow extends Omit<WorkerState, 'loadavg'> {
  loadavg: number[] | null;
  pool: string | null;
  concurrency: number | null;
  prefetch: number | null;
  queues: string[] | null;
  /** Tasks succeeded and failed as seen in events since the dashboard started. */
  succeeded: number;
  failed: number;
  /** Whether it sends task events (warren workers say so in `stats`); null when unknown. */
  taskEvents: boolean | null;
}

export interface QueueRow {
  name: string;
  /** Ready messages; null when the broker does not have the queue. */
  ready: number | null;
  consumers: number | null;
  /** Messages workers hold (reserved or running) as `inspect` last said, mapped by their routing. */
  unacked: number | null;
  /** Tasks per second workers received from it (events), over the last 10 s. */
  deliverRate: number;
  /** Tasks per second that came in: delivered plus the growth of the ready depth. */
  publishRate: number;
  deadLetterQueue: string | null;
  deadLetters: number | null;
  /** Depth over the last hour. */
  history: DepthPoint[];
}

export interface ScheduleRow {
  name: string;
  source: string;
  enabled: boolean;
  task: string;
  schedule: string;
  lastRun: string | null;
  nextRun: string | null;
}

/** Everything the page shows but the task table, pushed to it every second. */
export interface DashboardSnapshot {
  now: number;
  broker: string;
  workers: WorkerRow[];
  rates: ReturnType<FleetState['rates']>;
  queues: QueueRow[];
  schedule: { entries: ScheduleRow[]; leader: 'held' | 'none' | 'unknown'; error: string | null };
  tasks: { version: number; kept: number; max: number; evicted: number; states: Record<string, number>; names: string[]; stats: TaskNameStats[] };
  /** The last problem asking the broker or the store, if the last attempt failed. */
  problems: string[];
}

const RATE_WINDOW_MS = 10_000;

/**
 * What `warren dashboard` watches and steers: the fleet's events (workers, tasks), `inspect`
 * replies, queue depths asked passively of the broker, the schedule through the app's schedule
 * store, and the dead-letter queues. It reads only what the fleet publishes and the broker
 * holds; every change goes through the same paths as the CLI (remote control, the schedule
 * store, the broker). Nothing happens before `start()`.
 */
export class Dashboard {
  readonly history: TaskHistory;
  private readonly fleet = new FleetState(RATE_WINDOW_MS);
  private readonly depths = new DepthSeries();
  private readonly app: App;
  private readonly logger: Logger;
  private readonly pollMs: number;
  private readonly inspectMs: number;
  private definitions!: Definitions;
  private router!: Router;
  private checks = new Map<string, { ready: number; consumers: number } | null>();
  private readonly inspected = new Map<string, { at: number; stats?: Record<string, unknown>; queues?: string[] }>();
  private unackedByQueue = new Map<string, number>();
  private readonly received = new Map<string, number[]>();
  private scheduleRows: ScheduleRow[] = [];
  private leader: 'held' | 'none' | 'unknown' = 'unknown';
  private scheduleError: string | null = null;
  private readonly problems = new Map<string, string>();
  private timers: NodeJS.Timeout[] = [];
  private events: { close(): Promise<void> } | undefined;
  private polling: Promise<void> | undefined;
  private inspecting: Promise<void> | undefined;

  constructor(options: DashboardOptions) {
    this.app = options.app;
    this.logger = options.logger.child({ component: 'dashboard' });
    this.history = new TaskHistory({ maxTasks: options.maxTasks });
    this.pollMs = options.pollMs ?? 2000;
    this.inspectMs = options.inspectMs ?? 10_000;
  }

  /**
   * Receives events, then fills in at once what needs no event: the queues and the schedule
   * from the broker and the store, the workers and the tasks they hold from `inspect`, a
   * heartbeat asked of every worker.
   */
  async start(): Promise<void> {
    this.definitions = await this.app.definitions();
    this.router = createRouter(this.definitions);
    this.events = await this.app.receiveEvents((event) => this.onEvent(event));
    await this.app.control.heartbeat().catch(() => undefined);
    await Promise.all([this.poll(), this.inspect(true)]);
    this.timers.push(setInterval(() => void this.poll(), this.pollMs));
    this.timers.push(setInterval(() => void this.inspect(false), this.inspectMs));
    for (const timer of this.timers) timer.unref();
  }

  async stop(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    await this.events?.close().catch(() => undefined);
    await Promise.allSettled([this.polling, this.inspecting]);
  }

  private onEvent(event: CeleryEvent, now = Date.now()): void {
    // A worker not asked yet (it came up after the dashboard): ask it now rather than at the next round.
    if (event.type.startsWith('worker-') && event.type !== 'worker-offline' && typeof event.hostname === 'string' && !this.inspected.has(event.hostname) && this.timers.length > 0) {
      this.inspected.set(event.hostname, { at: 0 });
      setTimeout(() => void this.inspect(false), 200).unref();
    }
    this.fleet.add(event, now);
    this.history.add(event, now);
    if (event.type === 'task-received' && typeof event.uuid === 'string') {
      const queue = this.queueOf(this.history.get(event.uuid));
      if (queue) {
        const times = this.received.get(queue) ?? [];
        times.push(now);
        while (times.length > 0 && times[0] < now - RATE_WINDOW_MS) times.shift();
        this.received.set(queue, times);
      }
    }
  }

  /** The queue a task went to: as its `task-sent` said, else as the routes table routes its name. */
  private queueOf(task: TaskRecord | undefined): string | undefined {
    if (!task) return undefined;
    if (task.queue) return task.queue;
    if (!task.name) return undefined;
    try {
      return this.router.route(task.name).queue ?? undefined;
    } catch {
      return undefined;
    }
  }

  private queueNames(): string[] {
    const names = this.definitions.queues.flatMap((q) => (q.deadLetterQueue ? [q.name, q.deadLetterQueue] : [q.name]));
    return [...new Set(names)];
  }

  /** Dead-letter queues of the definitions: the only queues whose messages the page may list or move. */
  deadLetterQueues(): string[] {
    return [...new Set(this.definitions.queues.flatMap((q) => q.deadLetterQueue ?? []))];
  }

  private problem(what: string, error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    if (this.problems.get(what) !== message) this.logger.warn({ err: message }, `${what} failed`);
    this.problems.set(what, message);
  }

  /** Queue depths, the schedule and the leader, once; overlapping calls share one. */
  poll(): Promise<void> {
    this.polling ??= (async () => {
      try {
        await Promise.all([this.pollQueues(), this.pollSchedule()]);
      } finally {
        this.polling = undefined;
      }
    })();
    return this.polling;
  }

  private async pollQueues(): Promise<void> {
    try {
      const now = Date.now();
      const checks = await this.app.checkQueues(this.queueNames());
      this.checks = new Map(checks.map((c) => [c.name, c.missing ? null : { ready: c.messages, consumers: c.consumers }]));
      for (const check of checks) if (!check.missing) this.depths.add(check.name, now, check.messages);
      this.problems.delete('asking the broker for queue depths');
    } catch (error) {
      this.problem('asking the broker for queue depths', error);
    }
  }

  private async pollSchedule(): Promise<void> {
    try {
      const listing = await this.app.schedules.list();
      const now = new Date();
      this.scheduleRows = await Promise.all(
        listing.map(async (entry) => {
          let next: Date | undefined;
          try {
            next = entry.enabled ? (await this.app.schedules.next(entry.name, 1, now))[0] : undefined;
          } catch {
            next = undefined; // a runtime entry that no longer resolves: no next run
          }
          return {
            name: entry.name,
            source: entry.source,
            enabled: entry.enabled,
            task: entry.input.task,
            schedule: describeSchedule(entry.input),
            lastRun: entry.lastPlanned?.toISOString() ?? null,
            nextRun: next?.toISOString() ?? null,
          };
        }),
      );
      this.scheduleError = null;
    } catch (error) {
      this.scheduleError = error instanceof Error ? error.message : String(error);
    }
    this.leader = await this.app
      .withConnection((transport) => transport.withTemporaryChannel((channel) => channel.checkQueue(DEFAULT_LOCK_QUEUE)))
      .then(
        () => 'held' as const,
        (error: unknown) => {
          // The lock is an exclusive queue: another connection's declare gets 405 RESOURCE_LOCKED while a beat holds it.
          const code = (error as { code?: unknown }).code;
          return code === 405 ? ('held' as const) : code === 404 ? ('none' as const) : ('unknown' as const);
        },
      );
  }

  /** `stats` and `active_queues` of every worker; the first time also the tasks they hold. */
  inspect(seed: boolean): Promise<void> {
    this.inspecting ??= (async () => {
      try {
        const inspect = this.app.control.inspect({ timeoutMs: 1500 });
        const [stats, queues, held] = await Promise.all([
          inspect.stats(),
          inspect.activeQueues(),
          Promise.all([inspect.active(true), inspect.reserved(), seed ? inspect.scheduled() : Promise.resolve({})]),
        ]);
        const now = Date.now();
        for (const [node, reply] of Object.entries(stats)) {
          const known = this.inspected.get(node) ?? { at: now };
          this.inspected.set(node, { ...known, at: now, stats: reply });
        }
        for (const [node, list] of Object.entries(queues)) {
          const known = this.inspected.get(node) ?? { at: now };
          this.inspected.set(node, { ...known, at: now, queues: Array.isArray(list) ? list.map((q) => String(q.name)) : undefined });
        }
        const [active, reserved, scheduled] = held;
        const unacked = new Map<string, number>();
        const tally = (requests: Record<string, Array<Record<string, unknown>>>, state: 'RECEIVED' | 'STARTED') => {
          for (const [node, list] of Object.entries(requests)) {
            if (!Array.isArray(list)) continue;
            for (const item of list) {
              // `scheduled` wraps each request: { eta, priority, request }.
              const request = (typeof item.request === 'object' && item.request !== null ? item.request : item) as Record<string, unknown>;
              if (seed) this.history.addHeld(node, request, state, now);
              const queue = this.queueOf(typeof request.id === 'string' ? this.history.get(request.id) : undefined);
              if (queue) unacked.set(queue, (unacked.get(queue) ?? 0) + 1);
            }
          }
        };
        tally(active, 'STARTED');
        tally(reserved, 'RECEIVED');
        tally(scheduled as Record<string, Array<Record<string, unknown>>>, 'RECEIVED');
        this.unackedByQueue = unacked;
        this.problems.delete('asking the workers (inspect)');
      } catch (error) {
        this.problem('asking the workers (inspect)', error);
      } finally {
        this.inspecting = undefined;
      }
    })();
    return this.inspecting;
  }

  snapshot(now = Date.now()): DashboardSnapshot {
    const heard = new Map(this.fleet.workerList(now).map((w) => [w.hostname, w]));
    const names = new Set([...heard.keys(), ...this.inspected.keys()]);
    const workers: WorkerRow[] = [...names].sort().map((hostname) => {
      const events = heard.get(hostname);
      const info = this.inspected.get(hostname);
      const stats = info?.stats;
      const pool = stats?.pool as Record<string, unknown> | undefined;
      const warren = stats?.warren as Record<string, unknown> | undefined;
      const counts = this.history.workerCounts(hostname);
      const number = (value: unknown) => (typeof value === 'number' ? value : null);
      const inspectAlive = info !== undefined && now - info.at <= this.inspectMs * 2 + 2000;
      return {
        hostname,
        alive: events ? events.alive : inspectAlive,
        software: events?.software ?? (typeof stats?.sw_ident === 'string' ? `${stats.sw_ident} ${String(stats.sw_ver ?? '')}`.trim() : undefined),
        active: events?.active ?? number(warren?.active) ?? undefined,
        processed: events?.processed,
        freq: events?.freq ?? 0,
        lastHeard: Math.max(events?.lastHeard ?? 0, info?.at ?? 0),
        pid: events?.pid ?? number(stats?.pid) ?? undefined,
        loadavg: events?.loadavg ?? null,
        pool: typeof pool?.implementation === 'string' ? pool.implementation : null,
        concurrency: number(pool?.['max-concurrency']),
        prefetch: number(stats?.prefetch_count),
        queues: info?.queues ?? (Array.isArray(warren?.queues) ? (warren.queues as string[]) : null),
        succeeded: counts.succeeded,
        failed: counts.failed,
        taskEvents: typeof warren?.task_events === 'boolean' ? warren.task_events : null,
      };
    });
    const rate = (queue: string) => (this.received.get(queue) ?? []).filter((t) => t >= now - RATE_WINDOW_MS).length / (RATE_WINDOW_MS / 1000);
    const queues: QueueRow[] = this.definitions.queues.map((queue) => {
      const check = this.checks.get(queue.name);
      const dlq = queue.deadLetterQueue ?? null;
      const dead = dlq === null ? undefined : this.checks.get(dlq);
      const deliverRate = rate(queue.name);
      return {
        name: queue.name,
        ready: check ? check.ready : null,
        consumers: check ? check.consumers : null,
        unacked: this.unackedByQueue.get(queue.name) ?? 0,
        deliverRate,
        publishRate: Math.max(0, deliverRate + this.depths.growth(queue.name, now)),
        deadLetterQueue: dlq,
        deadLetters: dead ? dead.ready : null,
        history: downsample(this.depths.points(queue.name), 120),
      };
    });
    return {
      now,
      broker: (this.app.connectedTo() ?? this.definitions.broker.urls.map(maskUrl).join(', ')) || '',
      workers,
      rates: this.fleet.rates(now),
      queues,
      schedule: { entries: this.scheduleRows, leader: this.leader, error: this.scheduleError },
      tasks: {
        version: this.history.version,
        kept: this.history.size,
        max: this.history.maxTasks,
        evicted: this.history.evicted,
        states: this.history.stateCounts(),
        names: this.history.taskNames(),
        stats: this.history.nameStats(now),
      },
      problems: [...this.problems].map(([what, message]) => `${what}: ${message}`),
    };
  }

  tasks(filter: TaskFilter): TaskRecord[] {
    return this.history.query(filter);
  }

  task(uuid: string): (TaskRecord & { children: string[] }) | undefined {
    const task = this.history.get(uuid);
    return task && { ...task, children: this.history.childrenOf(uuid) };
  }

  // Actions: each goes through the paths the CLI uses.

  revoke(uuid: string, terminate: boolean): Promise<NodeReply[]> {
    return this.app.control.revoke(uuid, { terminate, timeoutMs: 1000 });
  }

  /** A remote-control command for one worker the dashboard knows. */
  async workerCommand(hostname: string, command: 'shutdown' | 'enable_events' | 'disable_events' | 'add_consumer' | 'cancel_consumer', queue?: string): Promise<NodeReply[]> {
    if (!this.snapshot().workers.some((w) => w.hostname === hostname)) throw new UsageError(`no worker named ${hostname} is known`);
    const target = { destination: [hostname], timeoutMs: 2000 };
    if (command === 'add_consumer' || command === 'cancel_consumer') {
      if (!queue || !this.definitions.queues.some((q) => q.name === queue)) throw new UsageError(`${command} needs a queue of the definitions (got ${JSON.stringify(queue ?? '')})`);
      return command === 'add_consumer' ? this.app.control.addConsumer(queue, target) : this.app.control.cancelConsumer(queue, target);
    }
    return this.app.control.broadcast(command, {}, target);
  }

  async setEnabled(name: string, enabled: boolean): Promise<void> {
    await (enabled ? this.app.schedules.enable(name) : this.app.schedules.disable(name));
    await this.poll();
  }

  /** Sends an entry's task now, as beat would (its routing, no result followed); its schedule is unchanged. */
  async runNow(name: string): Promise<string> {
    const entry = (await this.app.schedules.entries({ includeDisabled: true })).find((e) => e.name === name);
    if (!entry) throw new UsageError(`no schedule entry named "${name}"`);
    const result = await this.app.sendTask(entry.task, entry.args, entry.kwargs, {
      queue: entry.queue,
      exchange: entry.exchange,
      routingKey: entry.routingKey,
      priority: entry.priority,
      ignoreResult: true,
      headers: { 'x-warren-beat-entry': entry.name, 'x-warren-run-now': 'dashboard' },
    });
    return result.id;
  }

  private deadLetterQueue(queue: string): string {
    if (!this.deadLetterQueues().includes(queue)) throw new UsageError(`${JSON.stringify(queue)} is not a dead-letter queue of the definitions`);
    return queue;
  }

  deadLetters(queue: string, limit = 100): Promise<{ total: number; messages: DeadLetter[] }> {
    const dlq = this.deadLetterQueue(queue);
    return this.app.withConnection((transport) => browseDeadLetters(transport, dlq, limit));
  }

  async settleDeadLetter(queue: string, key: string, action: 'requeue' | 'delete'): Promise<SettleOutcome> {
    const dlq = this.deadLetterQueue(queue);
    const outcome = await this.app.withConnection((transport) => settleDeadLetter(transport, dlq, key, action));
    await this.poll();
    return outcome;
  }
}

/** At most `max` points, evenly picked, the last always kept. */
function downsample(points: readonly DepthPoint[], max: number): DepthPoint[] {
  if (points.length <= max) return points.map((p) => [p[0], p[1]]);
  const step = points.length / max;
  const out: DepthPoint[] = [];
  for (let i = 0; i < max - 1; i++) out.push(points[Math.floor(i * step)]);
  out.push(points[points.length - 1]);
  return out;
}
