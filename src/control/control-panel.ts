import { resourceUsage } from 'node:process';
import type { ExchangeType, QueueDefinition } from '../config/types';
import type { Logger } from '../logging/logger';
import { describeValue } from '../protocol/describe-value';
import { formatIsoDatetime, pythonRepr } from '../protocol';
import { queueArguments, type Topology } from '../topology';
import { signalName } from '../util/signals';
import type { TaskSnapshot, Worker } from '../worker';
import { parseRateLimit } from '../worker/rate-limits';
import { softwareInfo } from './celery-events';
import type { EventDispatcher } from './event-dispatcher';
import type { LamportClock } from './lamport-clock';
import type { CommandResult } from './pidbox-node';
import type { ControlRequest } from './pidbox-protocol';
import type { RevokedIds } from './revoked-ids';
import type { WorkerEventReporter } from './worker-event-reporter';

/** What the commands act on: one worker and the control state around it. */
export interface PanelContext {
  hostname: string;
  worker: Worker;
  revoked: RevokedIds;
  clock: LamportClock;
  dispatcher: EventDispatcher;
  reporter: WorkerEventReporter;
  logger: Logger;
  /** The registered task names. */
  taskNames(): string[];
  /** The type of a declared exchange, for `active_queues`. */
  exchangeType(name: string): ExchangeType | undefined;
  /** A queue of the definitions and what it needs declared, for `add_consumer`. @throws UnknownQueueError */
  resolveQueue(name: string): { queue: QueueDefinition; topology: Topology };
  /** The `broker` section of `stats`. */
  broker(): Record<string, unknown>;
  /** Ids were revoked (the state file keeps them). */
  onRevoked(): void;
  /** The `shutdown` command: stop the worker. */
  shutdown(reason: string): void;
}

/** A command's arguments were not what it takes: the reply is `{error}`. */
export class ControlArgumentError extends Error {
  override name = 'ControlArgumentError';
}

const ok = (value: unknown): { ok: unknown } => ({ ok: value });

/** A reply, and what to do once it is sent. */
class ThenAct {
  constructor(
    readonly reply: unknown,
    readonly afterReply: () => void,
  ) {}
}

/** Commands of Celery's panel that warren's worker does not carry out, with why. */
const NOT_SUPPORTED: Readonly<Record<string, string>> = {
  pool_grow: 'the pool size is fixed (-c)',
  pool_shrink: 'the pool size is fixed (-c)',
  pool_restart: 'the pool cannot be restarted',
  election: 'warren has no gossip',
  objgraph: 'not available in Node',
  memsample: 'not available in Node',
  memdump: 'not available in Node',
};

/**
 * The remote control commands of a warren worker, answered in Celery 5.2's shapes (its
 * `celery.worker.control` panel), so `celery inspect`, `celery control` and `celery status`
 * print a warren worker as they print a Python one.
 */
export class ControlPanel {
  private readonly commands: Record<string, (args: Record<string, unknown>) => unknown>;

  constructor(private readonly context: PanelContext) {
    const c = context;
    this.commands = {
      ping: () => ok('pong'),
      stats: () => this.stats(),
      active: (args) => c.worker.snapshot().active.map((t) => this.info(t, args.safe === true)),
      reserved: (args) => c.worker.snapshot().reserved.map((t) => this.info(t, args.safe === true)),
      scheduled: (args) =>
        c.worker.snapshot().scheduled.map((t) => ({
          eta: t.eta ? formatIsoDatetime(t.eta) : null,
          priority: t.task.priority ?? 0,
          request: this.info(t, args.safe === true),
        })),
      registered: () => [...c.taskNames()].sort(),
      active_queues: () => c.worker.queues.map((q) => this.queueInfo(q)),
      query_task: (args) => this.queryTask(args),
      revoke: (args) => this.revoke(args.task_id, args.terminate === true, args.signal),
      terminate: (args) => this.revoke(args.task_id, true, args.signal),
      revoked: () => c.revoked.list(),
      enable_events: () => {
        if (!c.dispatcher.enableGroup('task')) return ok('task events already enabled');
        c.logger.info('task events enabled by remote control (enable_events)');
        return ok('task events enabled');
      },
      disable_events: () => {
        if (!c.dispatcher.disableGroup('task')) return ok('task events already disabled');
        c.logger.info('task events disabled by remote control (disable_events)');
        return ok('task events disabled');
      },
      heartbeat: () => {
        c.reporter.heartbeat();
        return null;
      },
      clock: () => ({ clock: c.clock.value }),
      hello: (args) => this.hello(args),
      rate_limit: (args) => this.rateLimit(args),
      time_limit: (args) => this.timeLimit(args),
      autoscale: (args) => this.autoscale(args),
      add_consumer: (args) => this.addConsumer(args),
      cancel_consumer: (args) => this.cancelConsumer(args),
      shutdown: (args) => {
        const reason = typeof args.msg === 'string' ? args.msg : 'Got shutdown from remote';
        c.logger.warn({ reason }, 'shutdown asked by remote control');
        return new ThenAct(ok('shutting down'), () => c.shutdown(reason));
      },
      report: () => ok(this.report()),
      conf: () => this.conf(),
    };
  }

  /** Runs a request's command: its reply, or `{error}` for an unknown, unsupported or wrongly called one. */
  async handle(request: ControlRequest): Promise<CommandResult> {
    const { method } = request;
    const command = Object.hasOwn(this.commands, method) ? this.commands[method] : undefined;
    if (!command) {
      const why = NOT_SUPPORTED[method];
      if (why !== undefined) return { reply: { error: `${method} is not supported by warren: ${why}` } };
      this.context.logger.warn({ method }, 'unknown control command ignored');
      return { reply: { error: `unknown control command ${JSON.stringify(method)}` } };
    }
    try {
      const reply: unknown = await command(request.arguments);
      return reply instanceof ThenAct ? { reply: reply.reply, afterReply: reply.afterReply } : { reply };
    } catch (err) {
      if (err instanceof ControlArgumentError) {
        this.context.logger.warn({ method, reason: err.message }, 'malformed control message ignored');
        return { reply: { error: err.message } };
      }
      throw err;
    }
  }

  /** Celery's `Request.info()`: `args`/`kwargs` as values, or as their repr with `safe`. */
  private info(snapshot: TaskSnapshot, safe: boolean): Record<string, unknown> {
    const { task, delivery, startedAt, pid } = snapshot;
    return {
      id: task.id,
      name: task.task,
      args: safe ? reprOf(task.args, task.headers.argsrepr) : task.args,
      kwargs: safe ? reprOf(task.kwargs, task.headers.kwargsrepr) : task.kwargs,
      type: task.task,
      hostname: this.context.hostname,
      time_start: startedAt === undefined ? null : startedAt / 1000,
      acknowledged: false, // warren acks late: after the result is out
      delivery_info: {
        exchange: delivery?.exchange ?? '',
        routing_key: delivery?.routingKey ?? snapshot.queue,
        priority: task.priority ?? 0,
        redelivered: delivery?.redelivered ?? false,
      },
      // The process running it, as Celery's prefork pool names its child; null before it started.
      worker_pid: startedAt === undefined ? null : (pid ?? null),
    };
  }

  private stats(): Record<string, unknown> {
    const { worker, clock } = this.context;
    const { options } = worker;
    const usage = resourceUsage();
    return {
      total: worker.startedByTask(),
      pid: process.pid,
      clock: String(clock.value),
      uptime: Math.round((Date.now() - worker.startedAt.getTime()) / 1000),
      pool: {
        'max-concurrency': options.concurrency,
        // As a prefork pool reports its children; the async pool runs tasks in this process.
        processes: worker.poolKind === 'process' ? worker.poolProcesses() : [process.pid],
        'max-tasks-per-child': options.maxTasksPerChild ?? null,
        'put-guarded-by-semaphore': false,
        timeouts: [options.softTimeLimit ?? null, options.timeLimit ?? null],
        implementation: `warren:${worker.poolKind}`,
        ...(worker.autoscaleLimits && {
          autoscaler: { ...worker.autoscaleLimits, current: worker.currentConcurrency, qty: worker.active + worker.reservedCount },
        }),
      },
      broker: this.context.broker(),
      prefetch_count: worker.prefetchCount,
      rusage: {
        utime: usage.userCPUTime / 1e6,
        stime: usage.systemCPUTime / 1e6,
        maxrss: usage.maxRSS,
        ixrss: usage.sharedMemorySize,
        idrss: usage.unsharedDataSize,
        isrss: usage.unsharedStackSize,
        minflt: usage.minorPageFault,
        majflt: usage.majorPageFault,
        nswap: usage.swappedOut,
        inblock: usage.fsRead,
        oublock: usage.fsWrite,
        msgsnd: usage.ipcSent,
        msgrcv: usage.ipcReceived,
        nsignals: usage.signalsCount,
        nvcsw: usage.voluntaryContextSwitches,
        nivcsw: usage.involuntaryContextSwitches,
      },
      ...softwareInfo(),
      warren: {
        queues: worker.queues.map((q) => q.name),
        active: worker.active,
        reserved: worker.reservedCount,
        events_dropped: this.context.dispatcher.dropped,
        task_events: this.context.dispatcher.sends('task'),
        summary: worker.stats,
      },
    };
  }

  /** Celery's `Queue.as_dict(recurse=True)` for a consumed queue. */
  private queueInfo(queue: QueueDefinition): Record<string, unknown> {
    const binding = queue.bindings[0];
    const table = queueArguments(queue);
    const exchangeName = binding?.exchange ?? '';
    return {
      name: queue.name,
      exchange: {
        name: exchangeName,
        type: binding ? (this.context.exchangeType(exchangeName) ?? 'direct') : 'direct',
        arguments: null,
        durable: true,
        passive: false,
        auto_delete: false,
        delivery_mode: null,
        no_declare: false,
      },
      routing_key: binding?.routingKey ?? queue.name,
      queue_arguments: Object.keys(table).length > 0 ? table : null,
      binding_arguments: binding && Object.keys(binding.arguments).length > 0 ? binding.arguments : null,
      consumer_arguments: null,
      durable: queue.durable,
      exclusive: false,
      auto_delete: queue.autoDelete,
      no_ack: false,
      alias: null,
      bindings: queue.bindings.slice(1).map((b) => ({ exchange: b.exchange, routing_key: b.routingKey, arguments: b.arguments })),
      no_declare: null,
      expires: queue.expires === undefined ? null : queue.expires / 1000,
      message_ttl: queue.messageTtl === undefined ? null : queue.messageTtl / 1000,
      max_length: queue.maxLength ?? null,
      max_length_bytes: null,
      max_priority: queue.maxPriority ?? null,
    };
  }

  /** `{id: [state, info]}` for the ids this worker holds: `active`, or `reserved` (delivered, not started). */
  private queryTask(args: Record<string, unknown>): Record<string, unknown> {
    const ids = new Set(idList(args.ids, 'ids'));
    const { active, reserved, scheduled } = this.context.worker.snapshot();
    const found: Record<string, unknown> = {};
    for (const [state, list] of [['active', active], ['reserved', reserved], ['reserved', scheduled]] as const) {
      for (const snapshot of list) {
        if (ids.has(snapshot.task.id) && !(snapshot.task.id in found)) found[snapshot.task.id] = [state, this.info(snapshot, false)];
      }
    }
    return found;
  }

  /**
   * Celery's `revoke`: the ids are remembered (and kept in the state file); a prefetched task with
   * one of them is REVOKED at once, one still to arrive when it arrives. With `terminate`, a
   * running one is ended and recorded REVOKED (`terminated`), its outcome ignored: in the process
   * pool its child is killed with `signal`; in the async pool its signal is aborted (JavaScript
   * cannot kill a function). A signal this system does not know is refused before anything is
   * revoked, where it would otherwise have become SIGTERM unsaid.
   */
  private revoke(taskId: unknown, terminate: boolean, signal: unknown): unknown {
    const ids = [...new Set(idList(taskId, 'task_id'))];
    if (signal !== undefined && signal !== null && ((typeof signal !== 'string' && typeof signal !== 'number') || signalName(signal) === undefined)) {
      throw new ControlArgumentError(`signal must be a signal name such as SIGTERM or KILL, or its number (got ${describeValue(signal)})`);
    }
    const { revoked, worker, logger } = this.context;
    for (const id of ids) revoked.add(id);
    this.context.onRevoked();
    const discarded = worker.discardRevoked();
    if (terminate) {
      const name = signal === undefined || signal === null ? 'SIGTERM' : String(signal);
      const terminated = worker.terminate(new Set(ids), name);
      logger.info({ ids, terminated, signal: name, discarded }, 'tasks revoked, running ones terminated (their signal aborted)');
      return ok(terminated.length === 0 ? 'terminate: tasks unknown' : `terminate: ${terminated.join(', ')}`);
    }
    logger.info({ ids, discarded }, `Tasks flagged as revoked: ${ids.join(', ')}`);
    return ok(`tasks ${ids.join(', ')} flagged as revoked`);
  }

  /** Mingle: another node starting up sends its revoked ids and asks for ours (and our clock). */
  private hello(args: Record<string, unknown>): unknown {
    const { hostname, revoked, clock, logger } = this.context;
    if (args.from_node === hostname) return null;
    if (typeof args.from_node !== 'string') throw new ControlArgumentError(`hello: from_node must be a node name (got ${describeValue(args.from_node)})`);
    logger.info({ node: args.from_node }, `sync with ${args.from_node}`);
    if (args.revoked !== undefined && args.revoked !== null) {
      if (revoked.update(args.revoked) > 0) this.context.onRevoked();
    }
    return { revoked: revoked.toMingle(), clock: clock.forward() };
  }

  /**
   * Celery's `rate_limit <task_name> <rate_limit>`: sets the task's rate limit on this worker
   * (`'10/s'`, `'100/m'`, `'1000/h'`, a number per second; 0 or empty lifts it), as Celery's
   * replies say it.
   */
  private rateLimit(args: Record<string, unknown>): unknown {
    const name = taskNameArgument('rate_limit', args);
    const given = args.rate_limit;
    let perSecond: number;
    try {
      perSecond = parseRateLimit(given ?? '');
    } catch (err) {
      return { error: `Invalid rate limit string: ${(err as Error).message}` };
    }
    if (!this.hasTask(name, 'rate limit attempt for an unknown task')) return { error: 'unknown task' };
    this.context.worker.setRateLimit(name, perSecond);
    if (perSecond === 0) {
      this.context.logger.info({ task: name }, 'rate limit disabled by remote control');
      return ok('rate limit disabled successfully');
    }
    this.context.logger.info({ task: name, rateLimit: given }, 'new rate limit set by remote control');
    return ok('new rate limit set successfully');
  }

  /**
   * Celery's `time_limit <task_name> <soft> [hard]`: the task's time limits on this worker, in
   * seconds (none given: the worker's default), as Celery's replies say it.
   */
  private timeLimit(args: Record<string, unknown>): unknown {
    const name = taskNameArgument('time_limit', args);
    const seconds = (key: 'soft' | 'hard'): number | undefined => {
      const value = args[key];
      if (value === undefined || value === null) return undefined;
      const number = typeof value === 'string' ? Number(value) : value;
      if (typeof number !== 'number' || !Number.isFinite(number) || number <= 0) {
        throw new ControlArgumentError(`time_limit: ${key} must be a number of seconds above 0 (got ${describeValue(value)})`);
      }
      return number;
    };
    const soft = seconds('soft');
    const hard = seconds('hard');
    if (!this.hasTask(name, 'time limit change for an unknown task')) return { error: 'unknown task' };
    this.context.worker.setTimeLimits(name, soft, hard);
    this.context.logger.info({ task: name, softTimeLimit: soft ?? null, timeLimit: hard ?? null }, 'new time limits set by remote control');
    return ok('time limits set successfully');
  }

  /** Whether the worker has the task a command names; when not, logs `what` at error, as Celery does. */
  private hasTask(name: string, what: string): boolean {
    if (this.context.taskNames().includes(name)) return true;
    this.context.logger.error({ task: name }, what);
    return false;
  }

  /** Celery's `autoscale [max [min]]`: new bounds for a worker that autoscales (one not given stays). */
  private autoscale(args: Record<string, unknown>): unknown {
    const { worker, logger } = this.context;
    const limits = worker.autoscaleLimits;
    if (!limits) return { error: 'Autoscale not enabled' };
    const bound = (key: 'max' | 'min'): number => {
      const value = args[key] ?? limits[key];
      const number = typeof value === 'string' ? Number(value) : value;
      if (typeof number !== 'number' || !Number.isSafeInteger(number) || number < (key === 'max' ? 1 : 0)) {
        throw new ControlArgumentError(`autoscale: ${key} must be a whole number (got ${describeValue(value)})`);
      }
      return number;
    };
    const max = bound('max');
    const min = bound('min');
    if (min > max) return { error: `autoscale: min ${min} is above max ${max}` };
    try {
      worker.setAutoscale(max, min);
    } catch (err) {
      return { error: (err as Error).message };
    }
    logger.info({ max, min }, 'autoscale bounds set by remote control');
    return ok(`autoscale now max=${max} min=${min}`);
  }

  private async addConsumer(args: Record<string, unknown>): Promise<unknown> {
    const name = args.queue;
    if (typeof name !== 'string' || name === '') throw new ControlArgumentError(`add_consumer: queue must be a queue name (got ${describeValue(name)})`);
    let resolved: { queue: QueueDefinition; topology: Topology };
    try {
      resolved = this.context.resolveQueue(name);
    } catch (err) {
      // warren never creates a queue silently: only a queue of the definitions can be added.
      return { error: `add_consumer: ${(err as Error).message}; warren consumes only queues of its definitions` };
    }
    try {
      const added = await this.context.worker.addConsumer(resolved.queue, resolved.topology);
      return ok(added ? `add consumer ${name}` : `already consuming from ${name}`);
    } catch (err) {
      return { error: `add_consumer ${name}: ${(err as Error).message}` };
    }
  }

  private async cancelConsumer(args: Record<string, unknown>): Promise<unknown> {
    const name = args.queue;
    if (typeof name !== 'string' || name === '') throw new ControlArgumentError(`cancel_consumer: queue must be a queue name (got ${describeValue(name)})`);
    if (!(await this.context.worker.cancelConsumer(name))) return { error: `not consuming from ${name}` };
    return ok(`no longer consuming from ${name}`);
  }

  /**
   * Celery's `inspect conf`: the worker's settings under Celery's names (Flower shows them), the
   * broker without its password; `warren_*` for what Celery has no name for.
   */
  private conf(): Record<string, unknown> {
    const { worker } = this.context;
    const { options } = worker;
    const broker = this.context.broker();
    const limits = worker.autoscaleLimits;
    return {
      broker_url: broker.hostname === null ? null : `${String(broker.transport)}://${String(broker.userid)}:**@${String(broker.hostname)}:${String(broker.port)}/${String(broker.virtual_host)}`,
      broker_failover_strategy: broker.failover_strategy,
      worker_concurrency: options.concurrency,
      worker_autoscaler: limits ? `${limits.max},${limits.min}` : null,
      worker_prefetch_multiplier: options.prefetchMultiplier,
      worker_max_tasks_per_child: options.maxTasksPerChild ?? null,
      // Celery counts KiB.
      worker_max_memory_per_child: options.maxMemoryPerChild === undefined ? null : Math.floor(options.maxMemoryPerChild / 1024),
      worker_send_task_events: this.context.dispatcher.sends('task'),
      worker_enable_remote_control: true,
      task_time_limit: options.timeLimit ?? null,
      task_soft_time_limit: options.softTimeLimit ?? null,
      task_acks_late: true,
      task_queues: worker.queues.map((queue) => queue.name),
      warren_pool: worker.poolKind,
      warren_hostname: this.context.hostname,
    };
  }

  private report(): string {
    const { sw_ident, sw_ver, sw_sys } = softwareInfo();
    return `software -> ${sw_ident}:${sw_ver} node:${process.version} platform -> system:${sw_sys} arch:${process.arch}\ntasks -> ${this.context.taskNames().length} registered`;
  }
}

/** The `task_name` argument of `rate_limit` and `time_limit`. @throws ControlArgumentError when it is no name */
function taskNameArgument(command: string, args: Record<string, unknown>): string {
  const name = args.task_name;
  if (typeof name !== 'string' || name === '') throw new ControlArgumentError(`${command}: task_name must be a task name (got ${describeValue(name)})`);
  return name;
}

/** Celery's `maybe_list`: one id or a list of them; anything else is refused. */
function idList(value: unknown, name: string): string[] {
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.length === 0 || !list.every((id) => typeof id === 'string' && id !== '')) {
    throw new ControlArgumentError(`${name} must be a task id or a list of them (got ${describeValue(value)})`);
  }
  return list as string[];
}

function reprOf(value: unknown, sent: unknown): string {
  if (typeof sent === 'string') return sent;
  try {
    return pythonRepr(value, 1024);
  } catch {
    return '<unrepresentable>';
  }
}
