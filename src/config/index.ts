/**
 * `config/`: load the `definitions/` files (YAML or JSON, one file or a folder, merged),
 * validate their shape, resolve defaults, check cross-references, and freeze the result.
 */
export type * from './types';
export { loadDefinitions } from './load-definitions';
export {
  resolveDefinitions,
  DEFAULT_BROKER_URL,
  type DefinitionsDocument,
  type DefinitionsOptions,
} from './resolve-definitions';
export { checkQueueNames } from './check-queue-names';
export { resolveScheduleEntry, type ScheduleEntryContext } from './resolve-schedule-entry';
export { parseDuration } from './duration';
export { parseByteSize } from './byte-size';
export { CELERY_DEFAULT_QUEUE, DEFAULT_RESULT_EXPIRES, DEFAULT_TIMEZONE } from './build-definitions';
export {
  DEFAULT_RESULT_BACKEND,
  maskResultBackendUrl,
  parseResultBackendUrl,
  resultBackendUrlProblem,
  type RedisBackendUrl,
  type RedisNode,
  type ResultBackendUrl,
  type RpcBackendUrl,
} from './result-backend-url';
export { routeKind, regexBody } from './route-pattern';
export { isTimeZone } from './value-schemas';
