import { DefinitionsError, type DefinitionProblem } from '../errors';
import type { Definitions, ScheduleEntryDefinition } from './types';
import { buildScheduleEntry } from './build-definitions';
import { checkReferences } from './check-references';
import { deepFreeze } from './deep-freeze';
import { shapeDocument } from './document-schema';
import type { MergedDocuments } from './merge-documents';
import { childPath } from './problem-path';

/** What a runtime schedule entry is checked against, and what its problems are said to come from. */
export interface ScheduleEntryContext {
  /** The resolved definitions: declared queues and exchanges, and the default time zone. */
  readonly definitions: Definitions;
  /** Stands where a file name stands in a problem: `warren schedule add`, `schedule store .warren/beat-state.json`. */
  readonly source: string;
}

/**
 * Checks and resolves one schedule entry given at runtime (`warren schedule add`,
 * `app.schedules.add`, a store) by the same rules as an entry under `schedule:` in the
 * definitions files: the same shape, the same defaults, the queue and exchange it names must be
 * declared in `context.definitions`, and a cron entry without `timezone` takes the files' one.
 *
 * Whether `name` is also the name of a file entry is not checked here: that is the caller's call.
 *
 * @param raw - the entry as a user wrote it, in the YAML shape (`{ task, every: '10s', args: [...] }`).
 * @returns the resolved entry, deeply frozen.
 * @throws DefinitionsError listing every problem, each located as `source: schedule.<name>.<field>`.
 */
export function resolveScheduleEntry(name: string, raw: unknown, context: ScheduleEntryContext): ScheduleEntryDefinition {
  const { definitions, source } = context;
  const problems: DefinitionProblem[] = [];
  if (name.trim() === '') {
    problems.push({ file: source, path: childPath('schedule', name), message: `${JSON.stringify(name)} is empty (expected an entry name)` });
    throw new DefinitionsError(problems);
  }
  const shaped = shapeDocument(source, { schedule: { [name]: raw ?? null } }, problems);
  const entries = shaped.schedule ?? [];
  const declared = (names: readonly string[]) => ({ names: [...names], complete: true });
  const merged: MergedDocuments = {
    sources: [source],
    exchanges: [],
    queues: [],
    routes: [],
    schedule: entries,
    declaredExchanges: declared(definitions.exchanges.map((exchange) => exchange.name)),
    declaredQueues: declared(definitions.queues.map((queue) => queue.name)),
  };
  checkReferences(merged, definitions, problems);
  if (problems.length > 0 || entries.length !== 1) throw new DefinitionsError(problems);
  return deepFreeze(buildScheduleEntry(entries[0], definitions.timezone));
}
