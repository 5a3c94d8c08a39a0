import Redis from 'ioredis';

/**
 * The Redis that result-backend tests use: WARREN_TEST_REDIS_URL, default database 11 of the
 * local server, shared with other users of the machine: tests only make keys with random task
 * ids and delete what they made.
 */
export const DEFAULT_TEST_REDIS_URL = 'redis://127.0.0.1:6379/11';

export function testRedisUrl(): string {
  return process.env.WARREN_TEST_REDIS_URL || DEFAULT_TEST_REDIS_URL;
}

/**
 * A plain connection to the test Redis, for looking at keys and planting them. Fails loudly
 * (never skips) when nothing answers, with the command that starts Redis.
 */
export class RedisProbe {
  private readonly made = new Set<string>();

  private constructor(readonly redis: Redis) {}

  static async open(url = testRedisUrl()): Promise<RedisProbe> {
    const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
    redis.on('error', () => undefined);
    try {
      await redis.connect();
      await redis.ping();
    } catch (err) {
      redis.disconnect();
      throw new Error(
        `the Redis result backend tests need Redis: nothing answered at ${url} (${(err as Error).message}).\n` +
          'Start it with: redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no, or set WARREN_TEST_REDIS_URL',
      );
    }
    return new RedisProbe(redis);
  }

  /** Remembers keys to delete at the end. */
  owns(...keys: string[]): void {
    for (const key of keys) this.made.add(key);
  }

  async get(key: string): Promise<string | null> {
    this.made.add(key);
    return this.redis.get(key);
  }

  async set(key: string, value: string, ttlSeconds = 600): Promise<void> {
    this.made.add(key);
    await this.redis.set(key, value, 'EX', ttlSeconds);
  }

  async ttl(key: string): Promise<number> {
    return this.redis.ttl(key);
  }

  /** Deletes every key this probe saw, then closes. */
  async close(): Promise<void> {
    if (this.made.size > 0) await this.redis.del(...this.made);
    this.redis.disconnect();
  }
}

/**
 * Deletes what a test run left in the test Redis: every `celery-task-meta-*` key whose value
 * names a task of `prefix` (`"name": "<prefix>.…"`), Python's and warren's alike, including the
 * steps whose ids the test never saw; then the keys that mention one of those tasks' ids (a
 * chord body's ChordError, stored without a name) and the chord counters (`.j`) holding one.
 * Returns how many keys it deleted.
 */
export async function deleteResultsOf(prefix: string, url = testRedisUrl()): Promise<number> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
  const scan = async (pattern: string): Promise<string[]> => {
    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      cursor = next;
      found.push(...keys);
    } while (cursor !== '0');
    return found;
  };
  try {
    await redis.connect();
    const taskKeys = await scan('celery-task-meta-*');
    const values = taskKeys.length > 0 ? await redis.mget(...taskKeys) : [];
    const needle = `"name": "${prefix}.`;
    const ours = new Set(taskKeys.filter((_key, index) => values[index]?.includes(needle)));
    const ids = [...ours].map((key) => key.slice('celery-task-meta-'.length));
    const mentions = (text: string | null | undefined): boolean => Boolean(text) && ids.some((id) => text!.includes(id));
    taskKeys.forEach((key, index) => {
      if (mentions(values[index])) ours.add(key);
    });
    for (const key of await scan('celery-taskset-meta-*.j')) {
      if ((await redis.zrange(key, 0, -1)).some(mentions)) ours.add(key).add(key.replace(/\.j$/, '.s')).add(key.replace(/\.j$/, '.t'));
    }
    return ours.size > 0 ? await redis.del(...ours) : 0;
  } finally {
    redis.disconnect();
  }
}
