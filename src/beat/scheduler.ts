/**
 * Beat's pure core, Celery's `tick()`: given the entries, what they last fired and the time
 * now, which fires are due and how long to sleep. No I/O, no timers, no clock: the caller
 * passes `now`, publishes the fires, persists {@link Scheduler.state} and sleeps `nextDelayMs`.
 */
import { createHash } from 'node:crypto';
import type { ScheduleEntryDefinition } from '../config/types';
import { lastEntryFireBefore, nextEntryFireAfter } from './schedule';

/** What a store persists per entry. */
export interface EntryState {
  /**
   * The latest planned fire time the scheduler has dealt with: fired, or dropped by the
   * entry's misfire policy. No planned time at or before it fires again. Null: never fired.
   */
  readonly lastPlanned: Date | null;
}

/** Entry name to its state. */
export type SchedulerState = Readonly<Record<string, EntryState>>;

/** One task to publish for one planned fire time of one entry. */
export interface Fire {
  readonly entry: ScheduleEntryDefinition;
  /** The slot in the schedule this fire is for (not the time it was noticed). */
  readonly planned: Date;
  /** Derived from the entry name and `planned` by {@link fireTaskId}: a duplicate fire has a duplicate id. */
  readonly taskId: string;
  /** `planned` plus the entry's `expires` seconds; null when the entry has no `expires`. */
  readonly expiresAt: Date | null;
}

export interface TickResult {
  /** Every fire due at `now`, ordered by planned time, then entry name. */
  readonly due: readonly Fire[];
  /** Milliseconds until the earliest next fire, at most `maxDelayMs` (and at least 0). */
  readonly nextDelayMs: number;
}

export interface SchedulerOptions {
  /**
   * The longest `nextDelayMs` a tick returns, so that a caller sleeping that long still sees
   * entries changed at runtime within this time.
   * @defaultValue 1000
   */
  readonly maxDelayMs?: number;
  /**
   * How late a fire may be and still count as on time (ms). A planned time more than this
   * before `now` is missed, and the entry's misfire policy decides whether it fires.
   * @defaultValue 1000
   */
  readonly graceMs?: number;
}

const DEFAULT_MAX_DELAY_MS = 1000;
const DEFAULT_GRACE_MS = 1000;

/** UUIDv5 namespace of beat task ids (a fixed random UUID; changing it changes every id). */
const TASK_ID_NAMESPACE = Buffer.from('3c2f7a0e5b8d4e61a9f4d2c7b1e08a53', 'hex');

/**
 * The task id of an entry's fire at a planned time: a UUIDv5 (SHA-1, RFC 9562) of
 * `<entry name>@<planned ISO time>` in warren's beat namespace. The same entry and planned
 * time always give the same id, on any host, so two beats that both fire a slot (or one beat
 * that fires it twice) show up as a duplicate id.
 */
export function fireTaskId(entryName: string, planned: Date): string {
  const hash = createHash('sha1').update(TASK_ID_NAMESPACE).update(`${entryName}@${planned.toISOString()}`, 'utf8').digest();
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * How an entry's next fire is found at the next tick:
 * - `new`: never seen and no state: `every`/`cron` from now (the first fire is the first slot
 *   after now, no instant fire); `at` from before its instant, so a past `at` is a missed fire;
 * - `resume`: from the persisted `lastPlanned`; slots missed meanwhile follow the misfire policy;
 * - `fresh`: re-enabled: from now (or `lastPlanned` if later), nothing missed while disabled fires;
 * - `changed`: schedule changed while planned: from max(lastPlanned, now - grace), so the new
 *   schedule's past slots never fire in a burst.
 */
type PlanFrom = 'new' | 'resume' | 'fresh' | 'changed';

interface Slot {
  entry: ScheduleEntryDefinition;
  lastPlanned: number | null;
  /** The next planned fire (ms) while the slot is in the heap. */
  next: number;
  /** Set while the next fire must be (re)computed at the next tick. */
  planFrom: PlanFrom | null;
  /** Position in the heap, -1 when not in it. */
  heapIndex: number;
}

/**
 * Holds the entries and their last planned fire times, and says at each `tick(now)` what is
 * due. Every entry's next fire is cached in a min-heap, so a tick costs O(log n) per due fire,
 * not a schedule computation per entry.
 *
 * Misfires. A due planned time is *on time* when `now - planned <= graceMs`, *missed* when
 * older. On-time fires always fire. When some due fires are missed (beat was down, the process
 * slept), the entry's misfire policy decides:
 * - `run-once` (default): the due fires collapse into one, for the most recent due planned time;
 * - `skip`: missed fires are dropped; on-time ones fire; then the schedule continues;
 * - `catch-up` with `max`: the `max` most recent missed fires, oldest first, then the on-time ones.
 * Each fire keeps its planned time, so its task id and `expiresAt` follow from the schedule, not
 * from when it was noticed.
 *
 * Starting points. An entry with a persisted `lastPlanned` continues after it (what it missed
 * follows its misfire policy). A new entry, with no state, starts from the `now` of the tick
 * that first sees it: its first fire is the first slot strictly after that, never an instant
 * fire, as in Celery; a one-off `at` whose instant has already passed is a missed fire instead,
 * so one added while beat was down still runs (under `run-once` or `catch-up`).
 *
 * A state whose `lastPlanned` lies in the future (the clock moved back) is honoured: nothing at
 * or before it fires again. Construction does no work; the first tick plans every entry.
 */
export class Scheduler {
  readonly #maxDelayMs: number;
  readonly #graceMs: number;
  readonly #slots = new Map<string, Slot>();
  /** Slots whose next fire is computed at the next tick. */
  readonly #unplanned = new Set<Slot>();
  readonly #heap: Slot[] = [];
  /** Persisted states of names that are not (yet) among the entries. */
  readonly #dormant = new Map<string, number | null>();

  /**
   * @param entries - The entries; names are unique (a later entry replaces an earlier one of the same name).
   * @param state - What a store persisted, e.g. a previous {@link Scheduler.state}. Records for
   *   names not among `entries` are kept for entries of that name added later by `setEntries`.
   */
  constructor(entries: readonly ScheduleEntryDefinition[], state: SchedulerState = {}, options: SchedulerOptions = {}) {
    this.#maxDelayMs = options.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
    this.#graceMs = options.graceMs ?? DEFAULT_GRACE_MS;
    if (!(this.#maxDelayMs > 0) || !Number.isFinite(this.#maxDelayMs)) {
      throw new RangeError(`maxDelayMs must be a number above 0 (got ${String(options.maxDelayMs)})`);
    }
    if (!(this.#graceMs >= 0) || !Number.isFinite(this.#graceMs)) {
      throw new RangeError(`graceMs must be a number of 0 or more (got ${String(options.graceMs)})`);
    }
    for (const [name, record] of Object.entries(state)) this.#dormant.set(name, record.lastPlanned?.getTime() ?? null);
    this.setEntries(entries);
  }

  /**
   * Replaces the entry set; the next tick acts on it.
   * - A new name starts from its persisted state if the constructor was given one, else from now.
   * - A removed or disabled entry never fires again, even one that was due; its state is kept
   *   while it is disabled and forgotten when it is removed.
   * - A re-enabled entry starts afresh from now: what fell due while it was disabled never fires.
   * - A changed schedule (`every`, `cron`, `timezone`, `at`, `startAt`, `endAt`) continues from
   *   max(lastPlanned, now - grace) under the new schedule; any other change (args, queue,
   *   misfire…) keeps the planned next fire and applies to it.
   */
  setEntries(entries: readonly ScheduleEntryDefinition[]): void {
    const wanted = new Map(entries.map((entry) => [entry.name, entry]));
    for (const [name, slot] of this.#slots) {
      if (!wanted.has(name)) {
        this.#unschedule(slot);
        this.#slots.delete(name);
      }
    }
    for (const [name, entry] of wanted) {
      const slot = this.#slots.get(name);
      if (slot === undefined) this.#add(entry);
      else this.#update(slot, entry);
    }
  }

  /**
   * Every fire due at `now` that has not fired yet, after the misfire policies, and the delay
   * until the next one. Marks the returned fires as fired: calling again with the same or a
   * later `now` never returns a planned time twice.
   */
  tick(now: Date): TickResult {
    const nowMs = now.getTime();
    for (const slot of this.#unplanned) this.#plan(slot, nowMs);
    this.#unplanned.clear();

    const due: Fire[] = [];
    for (let slot = this.#heap[0]; slot !== undefined && slot.next <= nowMs; slot = this.#heap[0]) {
      this.#heapRemove(slot);
      const { fires, through } = this.#dueFires(slot, nowMs);
      for (const planned of fires) due.push(makeFire(slot.entry, planned));
      slot.lastPlanned = through;
      this.#schedule(slot, nextEntryFireAfter(slot.entry, new Date(Math.max(nowMs, through))));
    }
    due.sort((a, b) => a.planned.getTime() - b.planned.getTime() || compareNames(a.entry.name, b.entry.name));

    const earliest = this.#heap[0];
    const nextDelayMs = earliest === undefined ? this.#maxDelayMs : Math.min(Math.max(earliest.next - nowMs, 0), this.#maxDelayMs);
    return { due, nextDelayMs };
  }

  /** Every entry's state, plus the persisted records not matched by an entry yet. New objects. */
  state(): SchedulerState {
    // fromEntries defines own properties, so even an entry named `__proto__` keeps its record.
    return Object.fromEntries([
      ...[...this.#dormant].map(([name, lastPlanned]) => [name, { lastPlanned: nullableDate(lastPlanned) }] as const),
      ...[...this.#slots].map(([name, slot]) => [name, { lastPlanned: nullableDate(slot.lastPlanned) }] as const),
    ]);
  }

  /**
   * The next planned fire of an entry as of the last tick; null when the entry is unknown,
   * disabled, finished, or not planned yet (changed since the last tick).
   */
  nextPlanned(name: string): Date | null {
    const slot = this.#slots.get(name);
    return slot === undefined || slot.heapIndex < 0 ? null : new Date(slot.next);
  }

  #add(entry: ScheduleEntryDefinition): void {
    const persisted = this.#dormant.get(entry.name) ?? null;
    this.#dormant.delete(entry.name);
    const slot: Slot = { entry, lastPlanned: persisted, next: 0, planFrom: persisted === null ? 'new' : 'resume', heapIndex: -1 };
    this.#slots.set(entry.name, slot);
    if (entry.enabled) this.#unplanned.add(slot);
  }

  #update(slot: Slot, entry: ScheduleEntryDefinition): void {
    const previous = slot.entry;
    slot.entry = entry;
    if (!entry.enabled) {
      this.#unschedule(slot);
    } else if (!previous.enabled) {
      slot.planFrom = 'fresh';
      this.#unplanned.add(slot);
    } else if (slot.planFrom === null && !sameTimes(previous, entry)) {
      this.#unschedule(slot);
      slot.planFrom = 'changed';
      this.#unplanned.add(slot);
    }
  }

  #plan(slot: Slot, nowMs: number): void {
    const { entry, lastPlanned } = slot;
    let afterMs: number;
    switch (slot.planFrom) {
      case 'resume':
        afterMs = lastPlanned ?? nowMs;
        break;
      case 'fresh':
        afterMs = Math.max(nowMs, lastPlanned ?? nowMs);
        break;
      case 'changed':
        afterMs = Math.max(this.#onTimeFrom(nowMs) - 1, lastPlanned ?? -Infinity);
        break;
      case 'new':
      case null:
        afterMs = entry.schedule.kind === 'at' ? entry.schedule.at.getTime() - 1 : nowMs;
        break;
    }
    slot.planFrom = null;
    this.#schedule(slot, nextEntryFireAfter(entry, new Date(afterMs)));
  }

  /** The planned times to fire for a slot whose next fire is due, and the latest due planned time. */
  #dueFires(slot: Slot, nowMs: number): { fires: number[]; through: number } {
    const { entry } = slot;
    const first = slot.next;
    const onTimeFrom = this.#onTimeFrom(nowMs);
    if (first >= onTimeFrom) {
      const fires = [first, ...slotsBetween(entry, first, nowMs)];
      return { fires, through: fires[fires.length - 1] };
    }
    const through = lastEntryFireBefore(entry, new Date(nowMs + 1))?.getTime() ?? first;
    const misfire = entry.misfire;
    switch (misfire.policy) {
      case 'run-once':
        return { fires: [through], through };
      case 'skip':
        return { fires: slotsBetween(entry, onTimeFrom - 1, nowMs), through };
      case 'catch-up': {
        const missed: number[] = [];
        for (let before = onTimeFrom; missed.length < misfire.max; ) {
          const fire = lastEntryFireBefore(entry, new Date(before))?.getTime();
          if (fire === undefined || fire < first) break;
          missed.push(fire);
          before = fire;
        }
        return { fires: [...missed.reverse(), ...slotsBetween(entry, onTimeFrom - 1, nowMs)], through };
      }
    }
  }

  /** The earliest planned time (a whole millisecond) that is on time at `nowMs`. */
  #onTimeFrom(nowMs: number): number {
    return Math.ceil(nowMs - this.#graceMs);
  }

  #schedule(slot: Slot, next: Date | null): void {
    if (next === null) return;
    slot.next = next.getTime();
    this.#heapPush(slot);
  }

  #unschedule(slot: Slot): void {
    this.#unplanned.delete(slot);
    if (slot.heapIndex >= 0) this.#heapRemove(slot);
  }

  // An indexed binary min-heap on `next`: each slot knows its index, so removal is O(log n).

  #heapPush(slot: Slot): void {
    slot.heapIndex = this.#heap.length;
    this.#heap.push(slot);
    this.#siftUp(slot.heapIndex);
  }

  #heapRemove(slot: Slot): void {
    const index = slot.heapIndex;
    const last = this.#heap.pop() as Slot;
    slot.heapIndex = -1;
    if (last === slot) return;
    this.#heap[index] = last;
    last.heapIndex = index;
    this.#siftDown(this.#siftUp(index));
  }

  #siftUp(start: number): number {
    let index = start;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (this.#heap[parent].next <= this.#heap[index].next) break;
      this.#swap(index, parent);
      index = parent;
    }
    return index;
  }

  #siftDown(start: number): void {
    let index = start;
    for (;;) {
      const left = 2 * index + 1;
      const right = left + 1;
      let smallest = index;
      if (left < this.#heap.length && this.#heap[left].next < this.#heap[smallest].next) smallest = left;
      if (right < this.#heap.length && this.#heap[right].next < this.#heap[smallest].next) smallest = right;
      if (smallest === index) return;
      this.#swap(index, smallest);
      index = smallest;
    }
  }

  #swap(a: number, b: number): void {
    const slotA = this.#heap[a];
    const slotB = this.#heap[b];
    this.#heap[a] = slotB;
    this.#heap[b] = slotA;
    slotA.heapIndex = b;
    slotB.heapIndex = a;
  }
}

/** The entry's planned times in (afterMs, untilMs], ascending. */
function slotsBetween(entry: ScheduleEntryDefinition, afterMs: number, untilMs: number): number[] {
  const slots: number[] = [];
  for (let fire = nextEntryFireAfter(entry, new Date(afterMs)); fire !== null && fire.getTime() <= untilMs; fire = nextEntryFireAfter(entry, fire)) {
    slots.push(fire.getTime());
  }
  return slots;
}

function makeFire(entry: ScheduleEntryDefinition, plannedMs: number): Fire {
  const planned = new Date(plannedMs);
  return {
    entry,
    planned,
    taskId: fireTaskId(entry.name, planned),
    expiresAt: entry.expires === undefined ? null : new Date(plannedMs + Math.round(entry.expires * 1000)),
  };
}

/** Whether two definitions of an entry have the same fire times. */
function sameTimes(a: ScheduleEntryDefinition, b: ScheduleEntryDefinition): boolean {
  return sameSpec(a, b) && sameInstant(a.startAt, b.startAt) && sameInstant(a.endAt, b.endAt);
}

function sameSpec({ schedule: a }: ScheduleEntryDefinition, { schedule: b }: ScheduleEntryDefinition): boolean {
  switch (a.kind) {
    case 'every':
      return b.kind === 'every' && a.everyMs === b.everyMs;
    case 'cron':
      return b.kind === 'cron' && a.expression === b.expression && a.timezone === b.timezone;
    case 'at':
      return b.kind === 'at' && a.at.getTime() === b.at.getTime();
  }
}

function sameInstant(a: Date | undefined, b: Date | undefined): boolean {
  return a?.getTime() === b?.getTime();
}

function nullableDate(ms: number | null): Date | null {
  return ms === null ? null : new Date(ms);
}

function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
