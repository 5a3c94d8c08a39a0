/**
 * What beat keeps between runs and shares with `warren schedule ...`: runtime entries,
 * enabled-overrides for file entries, and the last planned fire of every entry.
 *
 * How file entries and runtime entries live side by side:
 * - Entries from `definitions/` are never written to a store; they come from the files on
 *   every start. A store holds only what was added at runtime (`putEntry`), each as the
 *   {@link ScheduleEntryInput} the user gave, checked by the caller with `resolveScheduleEntry`
 *   before it is put.
 * - Enabling or disabling a file entry at runtime stores an override (`setOverride`), not an
 *   entry; the effective `enabled` of a file entry is its override's where there is one, else
 *   the file's. An override whose name is no longer in the files is inert; `clearOverride`
 *   removes it.
 * - A store does not know the file entries, so it cannot refuse a runtime entry named like
 *   one: the caller (`schedules.add`, `warren schedule add`) must refuse it, since the two
 *   would share one state record. If the files later gain an entry with a runtime entry's
 *   name, the file entry wins and the runtime entry is not fired (beat should warn).
 * - State is keyed by entry name, for file and runtime entries alike.
 */
import type { ScheduleEntryInput } from '../entry-input';

/** A runtime entry as stored. */
export interface StoredEntry {
  readonly name: string;
  readonly input: ScheduleEntryInput;
  readonly updatedAt: Date;
}

/** A runtime change to a file entry: only `enabled` can be overridden. */
export interface StoredOverride {
  readonly name: string;
  readonly enabled: boolean;
  readonly updatedAt: Date;
}

/** What beat remembers about one entry. */
export interface EntryState {
  /** The planned time of the last fire the broker confirmed. */
  readonly lastPlanned: Date;
}

/**
 * Persistent schedule data shared by every beat and CLI process that points at the same store.
 * Every method may be called from several processes at once without losing a change.
 * Nothing connects or touches the disk before `open()`.
 */
export interface ScheduleStore {
  /** Connects, creates tables or the file's folder. Idempotent; concurrent calls share one attempt. */
  open(): Promise<void>;
  close(): Promise<void>;
  /** Runtime entries, sorted by name (code point order). */
  listEntries(): Promise<StoredEntry[]>;
  getEntry(name: string): Promise<StoredEntry | undefined>;
  /** Adds or replaces a runtime entry. Its state is kept, so replacing an entry does not re-fire a slot already fired. */
  putEntry(name: string, input: ScheduleEntryInput): Promise<void>;
  /** Removes a runtime entry and its state. False if there was no such runtime entry. */
  removeEntry(name: string): Promise<boolean>;
  /** Sets `enabled` in a runtime entry's input. False if there is no such runtime entry (see `setOverride`). */
  setEnabled(name: string, enabled: boolean): Promise<boolean>;
  /** Enables or disables a file entry at runtime, replacing any earlier override of that name. */
  setOverride(name: string, enabled: boolean): Promise<void>;
  /** False if there was no override of that name. */
  clearOverride(name: string): Promise<boolean>;
  /** Sorted by name (code point order). */
  listOverrides(): Promise<StoredOverride[]>;
  /** Last planned fire per entry name, file and runtime entries alike. */
  loadState(): Promise<Record<string, EntryState>>;
  /**
   * Records a fire the broker confirmed. Never moves backwards: an older `lastPlanned` than the
   * stored one is ignored, so a late write from a deposed leader cannot cause a repeat.
   */
  saveState(name: string, lastPlanned: Date): Promise<void>;
  forgetState(name: string): Promise<void>;
  /**
   * Cheap to call every ~250 ms: a string that changes whenever an entry or override changes
   * (not when state is saved). Equal tokens mean nothing to reload.
   */
  changeToken(): Promise<string>;
}
