import type { BroadcastOptions, ControlClient, NodeReply } from './control-client';

/** Which workers a command is for, and how long to wait for their replies. */
export interface ControlTarget {
  /** Node names (`celery@host`, `warren@host`); every worker when absent. */
  destination?: readonly string[];
  /** Node names matching this glob (or regular expression, with `matcher: 'pcre'`). */
  pattern?: string;
  matcher?: 'glob' | 'pcre';
  /** How long to wait for replies. @defaultValue 1000 */
  timeoutMs?: number;
  /** Stop waiting after this many replies. @defaultValue the number of destinations, else none */
  limit?: number;
  /** Called with each reply as it comes (`{node: reply}`). */
  onReply?: (reply: NodeReply) => void;
}

/** Replies by node name: `{ 'warren@a': { ok: 'pong' }, 'celery@b': { ok: 'pong' } }`. */
export type RepliesByNode<T = unknown> = Record<string, T>;

/** Celery's `flatten_reply`: the replies of all nodes as one object. */
export function byNode<T = unknown>(replies: readonly NodeReply[]): RepliesByNode<T> {
  const out: RepliesByNode<T> = {};
  for (const reply of replies) Object.assign(out, reply);
  return out;
}

/**
 * Inspect commands (Celery's `app.control.inspect()`): ask workers, Python and warren alike, what
 * they hold and know. Each resolves with the replies by node name; a node that did not answer
 * within the timeout is absent.
 */
export class Inspect {
  constructor(
    private readonly client: () => Promise<ControlClient>,
    private readonly target: ControlTarget = {},
  ) {}

  /** Runs any inspect command by name, with its arguments. */
  async request<T = unknown>(command: string, args: Record<string, unknown> = {}): Promise<RepliesByNode<T>> {
    const client = await this.client();
    return byNode<T>(await client.broadcast(command, { ...broadcastOptions(this.target), arguments: args, reply: true }));
  }

  ping(): Promise<RepliesByNode<{ ok?: string; error?: string }>> {
    return this.request('ping');
  }

  stats(): Promise<RepliesByNode<Record<string, unknown>>> {
    return this.request('stats');
  }

  /** Tasks running now; `safe`: args and kwargs as their repr. */
  active(safe?: boolean): Promise<RepliesByNode<Array<Record<string, unknown>>>> {
    return this.request('active', safe === undefined ? {} : { safe });
  }

  /** Tasks delivered to a worker and not started. */
  reserved(): Promise<RepliesByNode<Array<Record<string, unknown>>>> {
    return this.request('reserved');
  }

  /** Tasks waiting for their eta. */
  scheduled(): Promise<RepliesByNode<Array<Record<string, unknown>>>> {
    return this.request('scheduled');
  }

  registered(): Promise<RepliesByNode<string[]>> {
    return this.request('registered', { taskinfoitems: [] });
  }

  activeQueues(): Promise<RepliesByNode<Array<Record<string, unknown>>>> {
    return this.request('active_queues');
  }

  /** `{node: {id: [state, info]}}` for the ids a node holds. */
  queryTask(...ids: string[]): Promise<RepliesByNode<Record<string, [string, Record<string, unknown>]>>> {
    return this.request('query_task', { ids });
  }

  revoked(): Promise<RepliesByNode<string[]>> {
    return this.request('revoked');
  }

  clock(): Promise<RepliesByNode<{ clock: number }>> {
    return this.request('clock');
  }

  report(): Promise<RepliesByNode<{ ok?: string }>> {
    return this.request('report');
  }

  /** Each worker's settings under Celery's names (`broker_url` without its password, `worker_concurrency`, ...). */
  conf(): Promise<RepliesByNode<Record<string, unknown>>> {
    return this.request('conf', { with_defaults: false });
  }
}

/** Options of a control command: its target, and whether to wait for the replies. */
export interface ControlCommandOptions extends ControlTarget {
  /** Wait for replies (resolve with them). @defaultValue true */
  reply?: boolean;
}

/**
 * Remote control (Celery's `app.control`) over the broker, the same wire as `celery control`:
 * every worker of the fleet hears it, Python and warren. `app.control` is one.
 */
export class Control {
  constructor(private readonly client: () => Promise<ControlClient>) {}

  /** Inspect commands for the workers of `target` (all by default). */
  inspect(target: ControlTarget = {}): Inspect {
    return new Inspect(this.client, target);
  }

  /** Sends any command by name; with `reply`, resolves with the replies in the order they came. */
  async broadcast(command: string, args: Record<string, unknown> = {}, options: ControlCommandOptions = {}): Promise<NodeReply[]> {
    const client = await this.client();
    return client.broadcast(command, { ...broadcastOptions(options), arguments: args, reply: options.reply ?? true });
  }

  /** `[{node: {ok: 'pong'}}, ...]`, as Celery's `app.control.ping()`. */
  ping(target: ControlTarget = {}): Promise<NodeReply[]> {
    return this.broadcast('ping', {}, target);
  }

  /**
   * Revokes tasks by id on every worker: a worker that gets one later discards it (REVOKED), one
   * that holds it prefetched discards it now. With `terminate`, a running one is ended too and
   * recorded REVOKED: a Python worker and a warren worker with `--pool process` send `signal`
   * (`SIGTERM`, `KILL`, `9`) to the process running it; a warren worker with `--pool async`
   * aborts the task's signal (JavaScript cannot kill a running function).
   */
  revoke(taskIds: string | readonly string[], options: ControlCommandOptions & { terminate?: boolean; signal?: string } = {}): Promise<NodeReply[]> {
    const { terminate = false, signal = 'SIGTERM', ...rest } = options;
    return this.broadcast('revoke', { task_id: typeof taskIds === 'string' ? taskIds : [...taskIds], terminate, signal }, rest);
  }

  /** `revoke` with `terminate`. */
  terminate(taskIds: string | readonly string[], options: ControlCommandOptions & { signal?: string } = {}): Promise<NodeReply[]> {
    return this.revoke(taskIds, { ...options, terminate: true });
  }

  enableEvents(options: ControlCommandOptions = {}): Promise<NodeReply[]> {
    return this.broadcast('enable_events', {}, options);
  }

  disableEvents(options: ControlCommandOptions = {}): Promise<NodeReply[]> {
    return this.broadcast('disable_events', {}, options);
  }

  /** Starts consuming a queue (warren workers: only a queue of their definitions). */
  addConsumer(queue: string, options: ControlCommandOptions & { exchange?: string; exchangeType?: string; routingKey?: string } = {}): Promise<NodeReply[]> {
    const { exchange = null, exchangeType = 'direct', routingKey = null, ...rest } = options;
    return this.broadcast('add_consumer', { queue, exchange, exchange_type: exchangeType, routing_key: routingKey }, rest);
  }

  /**
   * Sets a task's rate limit on the workers (Celery's `app.control.rate_limit`): `'10/s'`,
   * `'100/m'`, `'1000/h'`, a number per second; 0 or `''` lifts it. Each worker replies
   * `{ ok: 'new rate limit set successfully' }`, or `{ error }` (an unknown task, a bad rate).
   */
  rateLimit(taskName: string, rateLimit: string | number, options: ControlCommandOptions = {}): Promise<NodeReply[]> {
    return this.broadcast('rate_limit', { task_name: taskName, rate_limit: rateLimit }, options);
  }

  /**
   * Sets a task's time limits on the workers, in seconds (Celery's `app.control.time_limit`):
   * `soft` aborts its signal, `hard` ends it; one left out falls back to the worker's default.
   */
  timeLimit(taskName: string, limits: { soft?: number; hard?: number }, options: ControlCommandOptions = {}): Promise<NodeReply[]> {
    return this.broadcast('time_limit', { task_name: taskName, soft: limits.soft ?? null, hard: limits.hard ?? null }, options);
  }

  cancelConsumer(queue: string, options: ControlCommandOptions = {}): Promise<NodeReply[]> {
    return this.broadcast('cancel_consumer', { queue }, options);
  }

  /** Stops workers (warm shutdown). */
  shutdown(options: ControlCommandOptions = {}): Promise<NodeReply[]> {
    return this.broadcast('shutdown', {}, options);
  }

  /** Asks workers for a heartbeat now (no reply). */
  heartbeat(options: ControlCommandOptions = {}): Promise<NodeReply[]> {
    return this.broadcast('heartbeat', {}, { reply: false, ...options });
  }
}

function broadcastOptions(target: ControlTarget): BroadcastOptions {
  return {
    destination: target.destination,
    pattern: target.pattern,
    matcher: target.matcher,
    timeoutMs: target.timeoutMs,
    limit: target.limit,
    onReply: target.onReply,
  };
}
