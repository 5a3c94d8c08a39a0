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
