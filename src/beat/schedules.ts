import { resolveScheduleEntry } from '../config';
import type { Definitions, ScheduleEntryDefinition } from '../config/types';
import { UsageError } from '../errors';
import type { Logger } from '../logging/logger';
import { scheduleEntryToInput, type ScheduleEntryInput } from './entry-input';
import { nextFires } from './schedule';
import type { ScheduleStore } from './stores';

/** Where an entry comes from: the definitions files, or `schedules.add` at runtime. */
export type EntrySource = 'file' | 'runtime';

/** One entry as `list` and `show` report it. */
export interface ScheduleListing {
  name: string;
  source: EntrySource;
  /** Effective: a file entry's runtime override wins over its file value. */
  enabled: boolean;
  /** The entry in the YAML shape, as it was given. */
  input: ScheduleEntryInput;
  /** The planned time of the last fire the broker confirmed, if any. */
  lastPlanned: Date | null;
}

export interface AddEntryOptions {
  /** Replace a runtime entry of the same name instead of refusing. @defaultValue false */
  replace?: boolean;
}

/**
 * The schedule as a whole: entries from the definitions files side by side with runtime entries
 * kept in a store. Every change is checked by the same rules as the files (`resolveScheduleEntry`)
 * before it is stored; a running beat polls the store and sees it within a second.
 *
 * Names are unique across both: a runtime entry may not take a file entry's name. File entries
 * cannot be removed or changed at runtime (edit the file), only enabled and disabled.
 */
export class Schedules {
  private definitions!: Definitions;

  /**
   * @param loadDefinitions - the validated definitions, loaded on first use.
   * @param source - stands where a file name stands in the problems of a runtime entry.
   */
  constructor(
    private readonly loadDefinitions: () => Promise<Definitions>,
    readonly store: ScheduleStore,
    private readonly source = 'schedule store',
  ) {}

  /** Loads the definitions and opens the store, once; every method starts here. */
  private async ready(): Promise<void> {
    this.definitions ??= await this.loadDefinitions();
    await this.store.open();
  }

  private fileEntry(name: string): ScheduleEntryDefinition | undefined {
    return this.definitions.schedule.find((entry) => entry.name === name);
  }

  /** Adds a runtime entry (or replaces one, with `replace`). Returns it resolved. */
  async add(name: string, input: ScheduleEntryInput, options: AddEntryOptions = {}): Promise<ScheduleEntryDefinition> {
    await this.ready();
    if (this.fileEntry(name)) {
      throw new UsageError(`schedule entry "${name}" is defined in ${this.definitions.sources.join(', ')}; change it there, or pick another name`);
    }
    const resolved = resolveScheduleEntry(name, input, { definitions: this.definitions, source: this.source });
    if (!options.replace && (await this.store.getEntry(name))) {
      throw new UsageError(`schedule entry "${name}" already exists (replace it explicitly, or remove it first)`);
    }
    await this.store.putEntry(name, input);
    return resolved;
  }

  /** Every entry, file entries first (in file order), then runtime entries by name. */
  async list(): Promise<ScheduleListing[]> {
    await this.ready();
    const [stored, overrides, state] = await Promise.all([this.store.listEntries(), this.store.listOverrides(), this.store.loadState()]);
    const enabledOverride = new Map(overrides.map((o) => [o.name, o.enabled]));
    const fileNames = new Set(this.definitions.schedule.map((entry) => entry.name));
    const fromFiles = this.definitions.schedule.map((entry) => ({
      name: entry.name,
      source: 'file' as const,
      enabled: enabledOverride.get(entry.name) ?? entry.enabled,
      input: scheduleEntryToInput(entry),
      lastPlanned: state[entry.name]?.lastPlanned ?? null,
    }));
    const fromStore = stored
      .filter((entry) => !fileNames.has(entry.name))
      .map((entry) => ({
        name: entry.name,
        source: 'runtime' as const,
        enabled: entry.input.enabled ?? true,
        input: entry.input,
        lastPlanned: state[entry.name]?.lastPlanned ?? null,
      }));
    return [...fromFiles, ...fromStore];
  }

  async show(name: string): Promise<ScheduleListing> {
    const found = (await this.list()).find((entry) => entry.name === name);
    if (!found) throw await this.unknown(name);
    return found;
  }

  async enable(name: string): Promise<void> {
    await this.setEnabled(name, true);
  }

  async disable(name: string): Promise<void> {
    await this.setEnabled(name, false);
  }

  private async setEnabled(name: string, enabled: boolean): Promise<void> {
    await this.ready();
    if (this.fileEntry(name)) {
      await this.store.setOverride(name, enabled);
      return;
    }
    if (!(await this.store.setEnabled(name, enabled))) throw await this.unknown(name);
  }

  /** Removes a runtime entry; it never fires again. File entries can only be disabled. */
  async remove(name: string): Promise<void> {
    await this.ready();
    if (this.fileEntry(name)) {
      throw new UsageError(`schedule entry "${name}" is defined in ${this.definitions.sources.join(', ')}; remove it there, or disable it`);
    }
    if (!(await this.store.removeEntry(name))) throw await this.unknown(name);
  }

  /** The next `count` planned fire times of an entry after `from`. */
  async next(name: string, count = 5, from: Date = new Date()): Promise<Date[]> {
    const entry = (await this.entries({ includeDisabled: true })).find((e) => e.name === name);
    if (!entry) throw await this.unknown(name);
    return nextFires(entry, from, count);
  }

  /**
   * The resolved entries a beat fires: file entries with their overrides, and runtime entries
   * that still resolve against the definitions. A runtime entry that no longer resolves (its
   * queue was removed from the files, say) is left out and reported through `onInvalid`.
   */
  async entries(options: { includeDisabled?: boolean; onInvalid?: (name: string, error: unknown) => void } = {}): Promise<ScheduleEntryDefinition[]> {
    await this.ready();
    const [stored, overrides] = await Promise.all([this.store.listEntries(), this.store.listOverrides()]);
    const enabledOverride = new Map(overrides.map((o) => [o.name, o.enabled]));
    const result: ScheduleEntryDefinition[] = this.definitions.schedule.map((entry) => {
      const enabled = enabledOverride.get(entry.name);
      return enabled === undefined || enabled === entry.enabled ? entry : { ...entry, enabled };
    });
    for (const { name, input } of stored) {
      if (this.fileEntry(name)) {
        options.onInvalid?.(name, new UsageError(`runtime entry "${name}" has the name of an entry in the definitions files, which wins`));
        continue;
      }
      try {
        result.push(resolveScheduleEntry(name, input, { definitions: this.definitions, source: this.source }));
      } catch (error) {
        options.onInvalid?.(name, error);
      }
    }
    return options.includeDisabled ? result : result.filter((entry) => entry.enabled);
  }

  private async unknown(name: string): Promise<UsageError> {
    const names = (await this.list()).map((entry) => entry.name);
    return new UsageError(`no schedule entry named "${name}" (entries: ${names.join(', ') || 'none'})`);
  }
}

/** Logs runtime entries that no longer resolve. */
export function logInvalidEntry(logger: Logger): (name: string, error: unknown) => void {
  return (name, error) => logger.error({ entry: name, err: error instanceof Error ? error.message : String(error) }, 'schedule entry skipped');
}
