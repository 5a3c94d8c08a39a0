import type { CeleryEvent } from '../control';

/** A task's state as its events show it (Celery's names; PENDING: sent, not yet received). */
export type TaskStateName = 'PENDING' | 'RECEIVED' | 'STARTED' | 'RETRY' | 'SUCCESS' | 'FAILURE' | 'REVOKED' | 'REJECTED';

/** One task as the dashboard knows it. Times are unix ms; reprs are the worker's, as text. */
export interface TaskRecord {
  uuid: string;
  name: string | undefined;
  state: TaskStateName;
  worker: string | undefined;
  sent?: number;
  received?: number;
  started?: number;
  /** When it reached its ready state (SUCCESS, FAILURE, REVOKED, REJECTED). */
  finished?: number;
  /** Seconds, from the worker. */
  runtime?: number;
  args?: string;
  kwargs?: string;
  result?: string;
  exception?: string;
  traceback?: string;
  retries?: number;
  parentId?: string;
  rootId?: string;
  eta?: string;
  expires?: string;
  queue?: string;
  /** Unix ms of its last event. */
  updated: number;
  /** Unix ms of the event that set `state`. */
  stateAt?: number;
}

/** Per task name: counts since the dashboard started, and per minute over the last hour. */
export interface TaskNameStats {
  name: string;
  succeeded: number;
  failed: number;
  /** 60 `[succeeded, failed]` pairs, the oldest minute first, the current one last. */
  perMinute: Array<[number, number]>;
}

export interface TaskFilter {
  name?: string;
  state?: string;
  worker?: string;
  /** A part of the task id. */
  id?: string;
  /** @defaultValue 200 */
  limit?: number;
}

export interface TaskHistoryOptions {
  /** Tasks kept; the ones first seen earliest go first. @defaultValue 10000 */
  maxTasks?: number;
  /** Task names with statistics kept; the one heard from longest ago goes first. @defaultValue 500 */
  maxNames?: number;
}

const READY = new Set<TaskStateName>(['SUCCESS', 'FAILURE', 'REVOKED', 'REJECTED']);
/**
 * Which state wins when events come out of order (Celery's `states.precedence`): a ready state
 * over any other; among the others a later stage over an earlier one. RETRY ranks low, so a
 * retried task that is received again shows RECEIVED, and a late RETRY event changes nothing.
 */
const RANK: Readonly<Record<TaskStateName, number>> = { PENDING: 0, RETRY: 1, RECEIVED: 2, STARTED: 3, SUCCESS: 10, FAILURE: 10, REVOKED: 10, REJECTED: 10 };

const EVENT_STATES: Readonly<Record<string, TaskStateName>> = {
  'task-sent': 'PENDING',
  'task-received': 'RECEIVED',
  'task-started': 'STARTED',
  'task-succeeded': 'SUCCESS',
  'task-failed': 'FAILURE',
  'task-retried': 'RETRY',
  'task-revoked': 'REVOKED',
  'task-rejected': 'REJECTED',
};

const MINUTE = 60_000;
const MINUTES = 60;

interface NameCounter {
  succeeded: number;
  failed: number;
  /** Ring of the last 60 minutes: `minute` is the unix minute of each slot. */
  minutes: Array<{ minute: number; succeeded: number; failed: number }>;
}

const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
const number = (value: unknown): number | undefined => (typeof value === 'number' && Number.isFinite(value) ? value : undefined);

/**
 * The tasks of the fleet, from its `task-*` events: a bounded, insertion-ordered map (the task
 * first seen earliest is forgotten first), children by parent, per-name counts per minute for
 * the last hour, per-worker outcome counts. Pure: events in, records out; the clock is the
 * caller's. `version` changes with every change, so a page asks again only when it must.
 */
export class TaskHistory {
  private readonly tasks = new Map<string, TaskRecord>();
  private readonly children = new Map<string, Set<string>>();
  private readonly names = new Map<string, NameCounter>();
  private readonly byWorker = new Map<string, { succeeded: number; failed: number }>();
  /** Tasks kept at most. */
  readonly maxTasks: number;
  private readonly maxNames: number;
  /** Bumped on each change. */
  version = 0;
  /** Tasks forgotten to stay within `maxTasks`. */
  evicted = 0;

  constructor(options: TaskHistoryOptions = {}) {
    this.maxTasks = options.maxTasks ?? 10_000;
    this.maxNames = options.maxNames ?? 500;
    if (!Number.isInteger(this.maxTasks) || this.maxTasks < 1) throw new RangeError(`maxTasks must be a whole number of at least 1 (got ${this.maxTasks})`);
  }

  get size(): number {
    return this.tasks.size;
  }

  /** Takes in one event (others than `task-*` are ignored), received at `now`. */
  add(event: CeleryEvent, now = Date.now()): void {
    const state = EVENT_STATES[event.type];
    const uuid = text(event.uuid);
    if (state === undefined || uuid === undefined || uuid === '') return;
    const at = number(event.timestamp) !== undefined ? Math.round((event.timestamp as number) * 1000) : now;
    let task = this.tasks.get(uuid);
    if (!task) {
      task = { uuid, name: undefined, state, worker: undefined, updated: at, stateAt: at };
      this.insert(task);
    }
    // A later event sets the state, an earlier one (out of order) only a later stage; nothing undoes a ready state.
    if (!(READY.has(task.state) && !READY.has(state)) && (at >= (task.stateAt ?? -Infinity) || RANK[state] > RANK[task.state])) {
      task.state = state;
      task.stateAt = Math.max(at, task.stateAt ?? -Infinity);
    }
    task.updated = Math.max(task.updated, at);
    task.name ??= text(event.name);
    if (event.type !== 'task-sent' && typeof event.hostname === 'string') task.worker = event.hostname;
    switch (event.type) {
      case 'task-sent':
        task.sent = at;
        task.queue = text(event.queue) ?? task.queue;
        break;
      case 'task-received':
        task.received = at;
        break;
      case 'task-started':
        task.started = at;
        break;
      case 'task-succeeded':
        task.finished = at;
        task.result = text(event.result);
        task.runtime = number(event.runtime);
        break;
      case 'task-failed':
        task.finished = at;
        task.exception = text(event.exception);
        task.traceback = text(event.traceback);
        break;
      case 'task-retried':
        task.exception = text(event.exception);
        task.traceback = text(event.traceback);
        break;
      case 'task-revoked':
      case 'task-rejected':
        task.finished = at;
        break;
    }
    if (event.type === 'task-sent' || event.type === 'task-received') {
      task.args = text(event.args) ?? task.args;
      task.kwargs = text(event.kwargs) ?? task.kwargs;
      task.retries = number(event.retries) ?? task.retries;
      task.eta = text(event.eta) ?? task.eta;
      task.expires = text(event.expires) ?? task.expires;
      const root = text(event.root_id);
      if (root !== undefined) task.rootId = root;
      const parent = text(event.parent_id);
      if (parent !== undefined && parent !== task.parentId) {
        task.parentId = parent;
        const siblings = this.children.get(parent) ?? new Set<string>();
        siblings.add(uuid);
        this.children.set(parent, siblings);
      }
    }
    if (event.type === 'task-succeeded' || event.type === 'task-failed') this.count(task, event.type === 'task-succeeded', now);
    this.version++;
  }

  /**
   * Records what `inspect active/reserved/scheduled` says a worker holds (Celery's request
   * shape), for a task the events have not shown: after a dashboard restart, the running and
   * waiting tasks are there at once.
   */
  addHeld(worker: string, request: Record<string, unknown>, state: 'RECEIVED' | 'STARTED', now = Date.now()): void {
    const uuid = text(request.id);
    if (uuid === undefined || uuid === '' || this.tasks.has(uuid)) return;
    const started = number(request.time_start);
    const repr = (value: unknown) => (typeof value === 'string' ? value : value === undefined ? undefined : JSON.stringify(value));
    this.insert({
      uuid,
      name: text(request.name),
      state,
      worker,
      args: repr(request.args),
      kwargs: repr(request.kwargs),
      started: started === undefined ? undefined : Math.round(started * 1000),
      parentId: text(request.parent_id),
      rootId: text(request.root_id),
      updated: now,
    });
    this.version++;
  }

  private insert(task: TaskRecord): void {
    this.tasks.set(task.uuid, task);
    while (this.tasks.size > this.maxTasks) {
      const [oldest, record] = this.tasks.entries().next().value as [string, TaskRecord];
      this.tasks.delete(oldest);
      // The index holds kept tasks only (its parent may be gone before it): bounded as the tasks are.
      const siblings = record.parentId === undefined ? undefined : this.children.get(record.parentId);
      siblings?.delete(oldest);
      if (siblings?.size === 0) this.children.delete(record.parentId!);
      this.evicted++;
    }
  }

  private count(task: TaskRecord, succeeded: boolean, now: number): void {
    if (task.worker) {
      const counts = this.byWorker.get(task.worker) ?? { succeeded: 0, failed: 0 };
      counts[succeeded ? 'succeeded' : 'failed']++;
      this.byWorker.set(task.worker, counts);
    }
    const name = task.name ?? '(unknown)';
    let counter = this.names.get(name);
    if (counter) this.names.delete(name); // re-inserted last: the names map stays in order of last use
    counter ??= { succeeded: 0, failed: 0, minutes: [] };
    this.names.set(name, counter);
    if (this.names.size > this.maxNames) this.names.delete(this.names.keys().next().value as string);
    counter[succeeded ? 'succeeded' : 'failed']++;
    const minute = Math.floor(now / MINUTE);
    let slot = counter.minutes[counter.minutes.length - 1];
    if (slot?.minute !== minute) {
      slot = { minute, succeeded: 0, failed: 0 };
      counter.minutes.push(slot);
      while (counter.minutes.length > 0 && counter.minutes[0].minute <= minute - MINUTES) counter.minutes.shift();
    }
    slot[succeeded ? 'succeeded' : 'failed']++;
  }

  get(uuid: string): TaskRecord | undefined {
    return this.tasks.get(uuid);
  }

  /** The ids of the tasks that name this one as parent (those still kept). */
  childrenOf(uuid: string): string[] {
    return [...(this.children.get(uuid) ?? [])];
  }

  /** The tasks that match, the one first seen latest first, at most `limit`. */
  query(filter: TaskFilter = {}): TaskRecord[] {
    const limit = filter.limit ?? 200;
    const state = filter.state?.toUpperCase();
    const id = filter.id?.toLowerCase();
    const out: TaskRecord[] = [];
    const all = [...this.tasks.values()];
    for (let i = all.length - 1; i >= 0 && out.length < limit; i--) {
      const task = all[i];
      if (filter.name && task.name !== filter.name) continue;
      if (state && task.state !== state) continue;
      if (filter.worker && task.worker !== filter.worker) continue;
      if (id && !task.uuid.toLowerCase().includes(id)) continue;
      out.push(task);
    }
    return out;
  }

  /** Outcome counts of one worker's tasks, as seen since the dashboard started. */
  workerCounts(hostname: string): { succeeded: number; failed: number } {
    return this.byWorker.get(hostname) ?? { succeeded: 0, failed: 0 };
  }

  /** How many kept tasks are in each state. */
  stateCounts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const task of this.tasks.values()) counts[task.state] = (counts[task.state] ?? 0) + 1;
    return counts;
  }

  /** The task names seen, for the filter. */
  taskNames(): string[] {
    const names = new Set<string>();
    for (const task of this.tasks.values()) if (task.name) names.add(task.name);
    return [...names].sort();
  }

  /** Per task name: totals and the last hour per minute, at `now`. */
  nameStats(now = Date.now()): TaskNameStats[] {
    const current = Math.floor(now / MINUTE);
    return [...this.names.entries()]
      .map(([name, counter]) => {
        const byMinute = new Map(counter.minutes.map((slot) => [slot.minute, slot]));
        const perMinute: Array<[number, number]> = [];
        for (let m = current - MINUTES + 1; m <= current; m++) {
          const slot = byMinute.get(m);
          perMinute.push([slot?.succeeded ?? 0, slot?.failed ?? 0]);
        }
        return { name, succeeded: counter.succeeded, failed: counter.failed, perMinute };
      })
      .sort((a, b) => a.name.localeCompare(b.name));
  }
}
