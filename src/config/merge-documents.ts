/**
 * Merges checked files in order: lists concatenate, mappings merge, scalars must agree.
 * A name declared twice, a key defined in two files, or a scalar set to two values is a
 * problem, reported against the later file.
 */
import type { DefinitionProblem } from '../errors';
import { maskUrl } from '../util/mask-url';
import { maskResultBackendUrl } from './result-backend-url';
import type { Declarations, RoutingTarget, ShapedBroker, ShapedDocument, ShapedExchange, ShapedQueue, ShapedScheduleEntry } from './document-schema';
import { childPath } from './problem-path';
import type { Keyed, Located } from './schema';

export interface MergedDocuments {
  /** The files, in merge order. */
  readonly sources: string[];
  readonly broker?: Located<ShapedBroker>;
  readonly defaultQueue?: Located<string>;
  readonly timezone?: Located<string>;
  readonly resultBackend?: Located<string>;
  readonly resultExpires?: Located<number>;
  readonly jsonDates?: Located<NonNullable<ShapedDocument['jsonDates']>>;
  readonly delays?: Located<NonNullable<ShapedDocument['delays']>>;
  readonly exchanges: Array<Located<ShapedExchange>>;
  readonly queues: Array<Located<ShapedQueue>>;
  readonly routes: Array<Keyed<RoutingTarget>>;
  readonly schedule: Array<Keyed<ShapedScheduleEntry>>;
  readonly declaredExchanges: MergedDeclarations;
  readonly declaredQueues: MergedDeclarations;
}

export interface MergedDeclarations {
  /** Every declared name once, in declaration order, broken items included. */
  readonly names: string[];
  /** Whether every item's name could be read (see `Declarations`). */
  readonly complete: boolean;
}

type ScalarSection = 'broker' | 'defaultQueue' | 'timezone' | 'resultBackend' | 'resultExpires' | 'jsonDates' | 'delays';

const describeScalar: { [K in ScalarSection]: (value: NonNullable<ShapedDocument[K]>) => string } = {
  broker: ({ urls, failoverStrategy }) =>
    urls.map((url) => JSON.stringify(maskUrl(url))).join(', ') + (failoverStrategy === undefined ? '' : ` (failoverStrategy ${failoverStrategy})`),
  defaultQueue: (name) => JSON.stringify(name),
  timezone: (zone) => JSON.stringify(zone),
  resultBackend: (url) => JSON.stringify(maskResultBackendUrl(url)),
  resultExpires: (seconds) => `${seconds} s`,
  jsonDates: (dates) => JSON.stringify(dates),
  delays: ({ queueType }) => (queueType === undefined ? 'no queueType' : `queueType ${queueType}`),
};

function mergeScalar<K extends ScalarSection>(
  section: K,
  documents: readonly ShapedDocument[],
  problems: DefinitionProblem[],
): Located<NonNullable<ShapedDocument[K]>> | undefined {
  let first: Located<NonNullable<ShapedDocument[K]>> | undefined;
  for (const document of documents) {
    const value = document[section];
    if (value === undefined || value === null) continue;
    if (first === undefined) {
      first = { value, file: document.file, path: section };
    } else if (JSON.stringify(value) !== JSON.stringify(first.value)) {
      const describe = describeScalar[section];
      problems.push({
        file: document.file,
        path: section,
        message: `${describe(value)} differs from ${describe(first.value)} in ${first.file} (expected the same value in every file that sets it)`,
      });
    }
  }
  return first;
}

/** The first item of each key, in order; each later item with a key already seen is a problem. */
function firstOfEach<T>(
  items: readonly T[],
  keyOf: (item: T) => string,
  duplicate: (item: T, first: T) => DefinitionProblem,
  problems: DefinitionProblem[],
): Map<string, T> {
  const seen = new Map<string, T>();
  for (const item of items) {
    const first = seen.get(keyOf(item));
    if (first === undefined) seen.set(keyOf(item), item);
    else problems.push(duplicate(item, first));
  }
  return seen;
}

/** Declared names once each, in order; a second declaration of a name is a problem. */
function mergeDeclarations(
  kind: 'exchange' | 'queue',
  declarations: readonly Declarations[],
  problems: DefinitionProblem[],
): MergedDeclarations {
  const names = firstOfEach(
    declarations.flatMap((declared) => declared.names),
    (name) => name.value,
    (name, first) => ({
      file: name.file,
      path: childPath(name.path, 'name'),
      message: `${kind} "${name.value}" is already declared at ${first.file}: ${first.path} (expected each ${kind} name once)`,
    }),
    problems,
  );
  return { names: [...names.keys()], complete: declarations.every((declared) => declared.complete) };
}

/** Entries of name-keyed mappings, in order; a key defined in a second file is a problem. */
function mergeKeyed<T>(noun: string, entries: ReadonlyArray<Keyed<T>>, problems: DefinitionProblem[]): Array<Keyed<T>> {
  const kept = firstOfEach(
    entries,
    (entry) => entry.key,
    (entry, first) => ({
      file: entry.file,
      path: entry.path,
      message: `${noun} ${JSON.stringify(entry.key)} is already defined in ${first.file} (expected each ${noun} once across files)`,
    }),
    problems,
  );
  return [...kept.values()];
}

/** Merges `documents` in the order given, adding each conflict to `problems`. */
export function mergeDocuments(documents: readonly ShapedDocument[], problems: DefinitionProblem[]): MergedDocuments {
  return {
    sources: documents.map((document) => document.file),
    broker: mergeScalar('broker', documents, problems),
    defaultQueue: mergeScalar('defaultQueue', documents, problems),
    timezone: mergeScalar('timezone', documents, problems),
    resultBackend: mergeScalar('resultBackend', documents, problems),
    resultExpires: mergeScalar('resultExpires', documents, problems),
    jsonDates: mergeScalar('jsonDates', documents, problems),
    delays: mergeScalar('delays', documents, problems),
    exchanges: documents.flatMap((document) => document.exchanges ?? []),
    queues: documents.flatMap((document) => document.queues ?? []),
    routes: mergeKeyed('route', documents.flatMap((document) => document.routes ?? []), problems),
    schedule: mergeKeyed('schedule entry', documents.flatMap((document) => document.schedule ?? []), problems),
    declaredExchanges: mergeDeclarations('exchange', documents.map((document) => document.declaredExchanges), problems),
    declaredQueues: mergeDeclarations('queue', documents.map((document) => document.declaredQueues), problems),
  };
}
