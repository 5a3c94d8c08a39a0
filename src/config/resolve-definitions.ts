import { DefinitionsError, type DefinitionProblem } from '../errors';
import { FAILOVER_STRATEGIES, QUEUE_TYPES, type BrokerDefinition, type DelaysDefinition, type Definitions, type FailoverStrategy, type QueueType } from './types';
import { buildDefinitions } from './build-definitions';
import { checkReferences } from './check-references';
import { checkDeadLetterQueues } from './dead-letter-queues';
import { deepFreeze } from './deep-freeze';
import { shapeDocument } from './document-schema';
import { mergeDocuments, type MergedDocuments } from './merge-documents';
import { DEFAULT_RESULT_BACKEND, resultBackendUrlProblem } from './result-backend-url';
import { brokerUrlProblem, isBrokerUrl } from './value-schemas';

/** Where the broker URL may come from besides the files. */
export interface DefinitionsOptions {
  /**
   * The environment to read `WARREN_BROKER_URL`, `WARREN_BROKER_FAILOVER` and
   * `WARREN_DELAY_QUEUE_TYPE` from (an empty value counts as unset).
   * `resolveDefinitions` reads only what it is given; `loadDefinitions` defaults to `process.env`.
   */
  readonly env?: NodeJS.ProcessEnv;
  /** A broker URL that beats the environment and the files: the CLI's `--broker`. */
  readonly brokerUrl?: string;
  /**
   * A result backend URL that beats `WARREN_RESULT_BACKEND` and the files: the CLI's
   * `--result-backend`, `createApp({ resultBackend })`.
   */
  readonly resultBackend?: string;
}

/** One parsed definitions file. */
export interface DefinitionsDocument {
  /** The path as given (`definitions/warren.yaml`); problems name it. */
  readonly file: string;
  /** What YAML or JSON parsing gave; `null` for an empty file. */
  readonly content: unknown;
}

/** Broker used when no option, environment variable or file names one. */
export const DEFAULT_BROKER_URL = 'amqp://guest:guest@localhost:5672/';

/** A URL given outside the files: the option, else the environment variable (empty counts as unset); where it came from, for problems. */
function overrideOf(
  options: DefinitionsOptions,
  option: 'brokerUrl' | 'resultBackend',
  variable: 'WARREN_BROKER_URL' | 'WARREN_RESULT_BACKEND',
): { url: string; file: string; path: string } | undefined {
  const fromOption = options[option];
  if (fromOption !== undefined) return { url: fromOption, file: '(options)', path: option };
  const fromEnv = options.env?.[variable];
  return fromEnv !== undefined && fromEnv !== '' ? { url: fromEnv, file: '(environment)', path: variable } : undefined;
}

/** The broker URLs by precedence: the option, then `WARREN_BROKER_URL`, then the files, then the default. */
function resolveBrokerUrls(merged: MergedDocuments, options: DefinitionsOptions, problems: DefinitionProblem[]): string[] {
  const override = overrideOf(options, 'brokerUrl', 'WARREN_BROKER_URL');
  if (override === undefined) return merged.broker?.value.urls ?? [DEFAULT_BROKER_URL];
  if (!isBrokerUrl(override.url)) problems.push({ file: override.file, path: override.path, message: brokerUrlProblem(override.url) });
  return [override.url];
}

/** The failover strategy: `WARREN_BROKER_FAILOVER`, then the files, then `in-order`. */
function resolveFailoverStrategy(merged: MergedDocuments, options: DefinitionsOptions, problems: DefinitionProblem[]): FailoverStrategy {
  const fromEnv = options.env?.WARREN_BROKER_FAILOVER;
  if (fromEnv === undefined || fromEnv === '') return merged.broker?.value.failoverStrategy ?? 'in-order';
  if ((FAILOVER_STRATEGIES as readonly string[]).includes(fromEnv)) return fromEnv as FailoverStrategy;
  problems.push({
    file: '(environment)',
    path: 'WARREN_BROKER_FAILOVER',
    message: `${JSON.stringify(fromEnv)} is not a failover strategy (expected one of ${FAILOVER_STRATEGIES.join(', ')})`,
  });
  return 'in-order';
}

function resolveBroker(merged: MergedDocuments, options: DefinitionsOptions, problems: DefinitionProblem[]): BrokerDefinition {
  return { urls: resolveBrokerUrls(merged, options, problems), failoverStrategy: resolveFailoverStrategy(merged, options, problems) };
}

/** The delay levels' queue type: `WARREN_DELAY_QUEUE_TYPE`, then the files' `delays.queueType`, then `classic`. */
function resolveDelays(merged: MergedDocuments, options: DefinitionsOptions, problems: DefinitionProblem[]): DelaysDefinition {
  const fromFiles = merged.delays?.value.queueType ?? 'classic';
  const fromEnv = options.env?.WARREN_DELAY_QUEUE_TYPE;
  if (fromEnv === undefined || fromEnv === '') return { queueType: fromFiles };
  if ((QUEUE_TYPES as readonly string[]).includes(fromEnv)) return { queueType: fromEnv as QueueType };
  problems.push({
    file: '(environment)',
    path: 'WARREN_DELAY_QUEUE_TYPE',
    message: `${JSON.stringify(fromEnv)} is not a delay queue type (expected one of ${QUEUE_TYPES.join(', ')})`,
  });
  return { queueType: fromFiles };
}

/** The result backend by precedence: the option, then `WARREN_RESULT_BACKEND`, then the files, then `rpc://`. */
function resolveResultBackend(merged: MergedDocuments, options: DefinitionsOptions, problems: DefinitionProblem[]): string {
  const override = overrideOf(options, 'resultBackend', 'WARREN_RESULT_BACKEND');
  if (override === undefined) return merged.resultBackend?.value ?? DEFAULT_RESULT_BACKEND;
  const problem = resultBackendUrlProblem(override.url);
  if (problem !== undefined) problems.push({ file: override.file, path: override.path, message: problem });
  return override.url;
}

/**
 * Validates and resolves parsed definitions files, merged in the order given: the pure core
 * of {@link loadDefinitions}. Checks the shape of each file, merges them, fills in defaults,
 * then checks cross-references.
 *
 * @returns the resolved definitions, deeply frozen; the input is not modified or frozen.
 * @throws DefinitionsError listing every problem found, each with its file and path.
 */
export function resolveDefinitions(documents: readonly DefinitionsDocument[], options: DefinitionsOptions = {}): Definitions {
  const problems: DefinitionProblem[] = [];
  const shaped = documents.map((document) => shapeDocument(document.file, document.content, problems));
  const merged = mergeDocuments(shaped, problems);
  const definitions = buildDefinitions(
    merged,
    resolveBroker(merged, options, problems),
    resolveResultBackend(merged, options, problems),
    resolveDelays(merged, options, problems),
  );
  checkReferences(merged, definitions, problems);
  checkDeadLetterQueues(merged, problems);
  if (problems.length > 0) throw new DefinitionsError(problems);
  return deepFreeze(definitions);
}
