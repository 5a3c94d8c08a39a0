import type { Cluster, ClusterOptions, Redis, RedisOptions } from 'ioredis';
import type { RedisBackendUrl } from '../config';
import { ResultBackendError } from '../errors';
import type { Logger } from '../logging/logger';

/** One Redis server or a Redis Cluster, as ioredis gives them: the same commands on either. */
export type RedisConnection = Redis | Cluster;

/**
 * Stores the state of a task as Celery's Redis backend does (`SETEX key expires value`, then
 * `PUBLISH key value` for the waiters), unless the key already holds a SUCCESS: as Celery's
 * `_store_result`, a success is final, so a late duplicate (a redelivered run, a late RETRY)
 * never overwrites it. One script, so the check and the write are one step, on the one node
 * that holds the key (a cluster included). Returns 1 when written, 0 when a success was there.
 */
const STORE_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if current then
  local ok, meta = pcall(cjson.decode, current)
  if ok and type(meta) == 'table' and meta['status'] == 'SUCCESS' then return 0 end
end
if tonumber(ARGV[2]) > 0 then
  redis.call('SETEX', KEYS[1], ARGV[2], ARGV[1])
else
  redis.call('SET', KEYS[1], ARGV[1])
end
redis.call('PUBLISH', KEYS[1], ARGV[1])
return 1
`;

/** The commands warren adds to a connection (ioredis `defineCommand`). */
export interface WarrenCommands {
  warrenStore(key: string, value: string, expiresSeconds: number): Promise<number>;
}

type IoredisModule = typeof import('ioredis');

/** `ioredis` is an optional peer dependency: loaded when a Redis result backend is first used. */
export function loadIoredis(): IoredisModule {
  try {
    return require('ioredis') as IoredisModule;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    if (code === 'MODULE_NOT_FOUND' && String(error).includes("'ioredis'")) {
      throw new ResultBackendError('the Redis result backend needs the package "ioredis", which is not installed (npm install ioredis)', error);
    }
    throw error;
  }
}

/** How long one connect attempt to one Redis node may take. */
const CONNECT_TIMEOUT_MS = 5000;

/**
 * A connection to the backend of `url`, not yet connected (ioredis connects on the first
 * command). It reconnects by itself, with backoff up to 2 s; commands issued meanwhile wait in
 * its queue (callers bound their own wait). On a cluster it follows slot moves and promoted
 * replicas, and reads and writes masters only.
 *
 * @param role - for logs: `results`, `subscriber`.
 */
export function createRedisConnection(url: RedisBackendUrl, logger: Logger, role: string): RedisConnection & WarrenCommands {
  const ioredis = loadIoredis();
  const tls = url.tls ? { rejectUnauthorized: url.rejectUnauthorized } : undefined;
  const common: RedisOptions = {
    ...(url.username !== undefined ? { username: url.username } : {}),
    ...(url.password !== undefined ? { password: url.password } : {}),
    ...(tls ? { tls } : {}),
    connectTimeout: CONNECT_TIMEOUT_MS,
    // Commands wait for the reconnect rather than fail after a few tries; every caller bounds its wait.
    maxRetriesPerRequest: null,
    retryStrategy: (times: number) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
    lazyConnect: true,
  };
  let connection: RedisConnection;
  if (url.cluster) {
    const options: ClusterOptions = {
      redisOptions: common,
      lazyConnect: true,
      scaleReads: 'master',
      maxRedirections: 64,
      retryDelayOnFailover: 200,
      retryDelayOnClusterDown: 300,
      retryDelayOnTryAgain: 200,
      retryDelayOnMoved: 0,
      slotsRefreshTimeout: 2000,
      // No periodic refresh: ioredis 5 re-arms it after a refresh that ends once the cluster is closed, and never
      // stops. Slots are refreshed when a node answers MOVED or cannot be reached, which a failover causes.
      slotsRefreshInterval: 0,
      clusterRetryStrategy: (times: number) => Math.min(100 * times, 2000),
    };
    connection = new ioredis.Cluster(url.nodes.map((node) => ({ host: node.host, port: node.port })), options);
  } else {
    const [node] = url.nodes;
    connection = new ioredis.Redis({ ...common, host: node.host, port: node.port, db: url.db });
  }
  connection.defineCommand('warrenStore', { numberOfKeys: 1, lua: STORE_SCRIPT });
  const log = logger.child({ component: 'result-backend', backend: url.display, role });
  let lastError: string | undefined;
  let lastLogged = 0;
  connection.on('error', (err: Error) => {
    // Every failed reconnect attempt emits one: log a new cause at once, a repeating one once a minute.
    if (err.message === lastError && Date.now() - lastLogged < 60_000) return;
    lastError = err.message;
    lastLogged = Date.now();
    log.warn({ err: err.message }, 'Redis result backend connection error; reconnecting');
  });
  connection.on('ready', () => {
    if (lastError !== undefined) log.info('Redis result backend connection ready again');
    lastError = undefined;
  });
  return connection as RedisConnection & WarrenCommands;
}

/** The key of a task's state: Celery's `celery-task-meta-<id>`; also its pub/sub channel. */
export function taskKey(taskId: string): string {
  return `celery-task-meta-${taskId}`;
}

/**
 * The keys of a chord's counting (`.j` the header's results, `.t` the extra parts, `.s` the
 * size), as Celery's `celery-taskset-meta-<group id><suffix>`. On a cluster the group id is a
 * hash tag (`celery-taskset-meta-{<id>}.j`), so the three live in one slot and are updated in
 * one transaction; Celery has no cluster backend, so no Python peer reads those names.
 */
export function groupKey(groupId: string, suffix: '.j' | '.t' | '.s', cluster: boolean): string {
  return cluster ? `celery-taskset-meta-{${groupId}}${suffix}` : `celery-taskset-meta-${groupId}${suffix}`;
}

/**
 * Resolves with `work`'s value, or rejects with `ResultBackendError` after `timeoutMs` (the
 * command may still run later; every command warren sends is safe to run late).
 */
export function withinTime<T>(work: Promise<T>, timeoutMs: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new ResultBackendError(`${what()}: no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer)) as Promise<T>;
}
