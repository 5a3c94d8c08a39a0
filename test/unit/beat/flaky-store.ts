import type { ScheduleEntryInput } from '../../../src/beat';
import type { EntryState, ScheduleStore, StoredEntry, StoredOverride } from '../../../src/beat/stores/schedule-store';
import { ScheduleStoreError } from '../../../src/errors';

type Method = Exclude<keyof ScheduleStore, 'open' | 'close'>;

/**
 * A schedule store in memory whose calls can be made to fail, as a database that goes away
 * and comes back: while `failing(method)` says so, that call rejects with ScheduleStoreError.
 */
export class FlakyStore implements ScheduleStore {
  failing: (method: Method) => boolean = () => false;
  /** Calls that failed, by method. */
  readonly failures: Method[] = [];
  private readonly entries = new Map<string, StoredEntry>();
  private readonly overrides = new Map<string, StoredOverride>();
  readonly state = new Map<string, Date>();
  private token = 0;

  private check(method: Method): void {
    if (!this.failing(method)) return;
    this.failures.push(method);
    throw new ScheduleStoreError(`the schedule store at memory://flaky refused ${method}: connection refused`);
  }

  async open(): Promise<void> {}
  async close(): Promise<void> {}

  async listEntries(): Promise<StoredEntry[]> {
    this.check('listEntries');
    return [...this.entries.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  }
  async getEntry(name: string): Promise<StoredEntry | undefined> {
    this.check('getEntry');
    return this.entries.get(name);
  }
  async putEntry(name: string, input: ScheduleEntryInput): Promise<void> {
    this.check('putEntry');
    this.entries.set(name, { name, input, updatedAt: new Date() });
    this.token += 1;
  }
  async removeEntry(name: string): Promise<boolean> {
    this.check('removeEntry');
    this.token += 1;
    this.state.delete(name);
    return this.entries.delete(name);
  }
  async setEnabled(name: string, enabled: boolean): Promise<boolean> {
    this.check('setEnabled');
    const entry = this.entries.get(name);
    if (!entry) return false;
    this.entries.set(name, { ...entry, input: { ...entry.input, enabled } });
    this.token += 1;
    return true;
  }
  async setOverride(name: string, enabled: boolean): Promise<void> {
    this.check('setOverride');
    this.overrides.set(name, { name, enabled, updatedAt: new Date() });
    this.token += 1;
  }
  async clearOverride(name: string): Promise<boolean> {
    this.check('clearOverride');
    this.token += 1;
    return this.overrides.delete(name);
  }
  async listOverrides(): Promise<StoredOverride[]> {
    this.check('listOverrides');
    return [...this.overrides.values()];
  }
  async loadState(): Promise<Record<string, EntryState>> {
    this.check('loadState');
    return Object.fromEntries([...this.state].map(([name, lastPlanned]) => [name, { lastPlanned }]));
  }
  async saveState(name: string, lastPlanned: Date): Promise<void> {
    this.check('saveState');
    const stored = this.state.get(name);
    if (!stored || stored < lastPlanned) this.state.set(name, lastPlanned);
  }
  async forgetState(name: string): Promise<void> {
    this.check('forgetState');
    this.state.delete(name);
  }
  async changeToken(): Promise<string> {
    this.check('changeToken');
    return String(this.token);
  }
}
