/**
 * The schedule stores against a real file system and a real PostgreSQL, and the beat's leader
 * lock against a real RabbitMQ. PostgreSQL: WARREN_TEST_POSTGRES_URL, default
 * postgres://postgres@127.0.0.1:5432/test; each run uses tables with a random prefix and drops them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type ChannelModel } from 'amqplib';
import { Client } from 'pg';
import { LeaderLock } from '../../src/beat/leader-lock';
import { PostgresScheduleStore } from '../../src/beat/stores/postgres-schedule-store';
import { testBrokerUrl } from '../support/broker-url';
import { waitFor } from '../support/broker';
import { REPO_ROOT } from '../support/worker-process';
import { scheduleStoreContract, temporaryFileStores, type StoreKind } from '../unit/beat/stores/schedule-store-contract';

const POSTGRES_URL = process.env.WARREN_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const TABLE_PREFIX = `test_${randomBytes(4).toString('hex')}_`;
const TABLES = ['schedule_entries', 'schedule_overrides', 'schedule_state', 'schedule_meta'].map((table) => `"${TABLE_PREFIX}${table}"`);

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Fails loudly, saying how to start PostgreSQL, when none answers: these tests never skip. */
async function requirePostgres(): Promise<void> {
  const client = new Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (error) {
    throw new Error(
      `integration tests need PostgreSQL: nothing answered at ${POSTGRES_URL.replace(/:[^:@/]*@/, ':***@')} (${String(error)}).\n` +
        'Start it with `pg_ctlcluster 15 main start` (or `service postgresql start`), ' +
        'or set WARREN_TEST_POSTGRES_URL to a database where tables may be created.',
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Runs `work` on a connection of its own to the test database. */
async function withClient<T>(work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

const fileStores = temporaryFileStores();

const postgresStores: StoreKind = {
  name: 'postgres',
  make: () => new PostgresScheduleStore(POSTGRES_URL, { tablePrefix: TABLE_PREFIX }),
  reset: () =>
    withClient(async (client) => {
      const present = await client.query<{ meta: string | null }>('SELECT to_regclass($1) AS meta', [TABLES[3]]);
      if (present.rows[0].meta !== null) await client.query(`TRUNCATE ${TABLES.slice(0, 3).join(', ')}`);
    }),
};

beforeAll(requirePostgres);

afterAll(async () => {
  fileStores.remove();
  await withClient((client) => client.query(`DROP TABLE IF EXISTS ${TABLES.join(', ')}`));
});

describe.each([fileStores, postgresStores])('$name store', (kind) => scheduleStoreContract(kind));

describe('PostgreSQL store specifics', () => {
  test('creates its tables under the prefix, and refuses a prefix that is not an identifier', async () => {
    const store = new PostgresScheduleStore(POSTGRES_URL, { tablePrefix: TABLE_PREFIX });
    await store.open();
    await store.close();
    const { rows } = await withClient((client) =>
      client.query<{ name: string }>('SELECT table_name AS name FROM information_schema.tables WHERE table_name LIKE $1 ORDER BY table_name', [
        `${TABLE_PREFIX}%`,
      ]),
    );
    expect(rows.map((row) => row.name)).toEqual(TABLES.map((table) => table.slice(1, -1)).sort());
    expect(() => new PostgresScheduleStore(POSTGRES_URL, { tablePrefix: 'x"; DROP TABLE y; --' })).toThrow('is not valid');
  });

  test('fails open with the database named, password masked, when nothing answers', async () => {
    const store = new PostgresScheduleStore('postgres://warren:secret@127.0.0.1:1/none', { connectTimeoutMs: 1000 });
    await expect(store.open()).rejects.toThrow('schedule store postgres://warren:***@127.0.0.1:1/none:');
    await store.close();
  });
});

describe('leader lock on the broker', () => {
  const suffix = `test.${randomBytes(4).toString('hex')}`;
  const connections: ChannelModel[] = [];

  async function open(): Promise<ChannelModel> {
    const connection = await connect(testBrokerUrl());
    connection.on('error', () => undefined);
    connections.push(connection);
    return connection;
  }

  const children: ChildProcess[] = [];

  afterEach(async () => {
    for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await Promise.all(connections.splice(0).map((connection) => connection.close().catch(() => undefined)));
  });

  /** A child process holding the lock through the compiled LeaderLock; resolves once it holds it. */
  async function spawnHolder(): Promise<ChildProcess> {
    const compiled = join(REPO_ROOT, 'dist', 'src', 'beat', 'leader-lock.js');
    if (!existsSync(compiled)) throw new Error(`${compiled} is missing: run \`npm run build\` first (npm run test:integration does)`);
    const script = `
      const { connect } = require('amqplib');
      const { LeaderLock } = require(${JSON.stringify(compiled)});
      connect(${JSON.stringify(testBrokerUrl())})
        .then((connection) => new LeaderLock({ connection, suffix: ${JSON.stringify(suffix)} }).tryAcquire())
        .then((held) => console.log(held ? 'holding' : 'refused'));`;
    const holder = spawn(process.execPath, ['-e', script], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(holder);
    let output = '';
    holder.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await waitFor('the child to answer', () => output.includes('holding') || output.includes('refused'), 10_000);
    expect(output.trim()).toBe('holding');
    return holder;
  }

  /** Calls `tryAcquire` every `everyMs` until it succeeds; the time it took from `since`. */
  async function acquireWithin(lock: LeaderLock, limitMs: number, everyMs: number, since: number): Promise<number> {
    while (Date.now() - since < limitMs) {
      if (await lock.tryAcquire()) return Date.now() - since;
      await sleep(everyMs);
    }
    throw new Error(`lock ${lock.queue} not acquired within ${limitMs} ms`);
  }

  /** Two locks of the same name on connections of their own; `losses` collects the first's. */
  async function rivals(): Promise<{ first: LeaderLock; second: LeaderLock; losses: string[] }> {
    const first = new LeaderLock({ connection: await open(), suffix });
    const second = new LeaderLock({ connection: await open(), suffix });
    const losses: string[] = [];
    first.onLost((loss) => losses.push(loss.reason));
    return { first, second, losses };
  }

  test('refuses a second holder while the first holds, and hands over within 2 s once its connection closes', async () => {
    const { first, second, losses } = await rivals();

    expect(await first.tryAcquire()).toBe(true);
    expect(await first.tryAcquire()).toBe(true);
    expect(await second.tryAcquire()).toBe(false);
    expect(await second.tryAcquire()).toBe(false);
    expect([first.isHeld(), second.isHeld()]).toEqual([true, false]);

    const closedAt = Date.now();
    await connections[0].close();
    const tookMs = await acquireWithin(second, 2000, 100, closedAt);
    process.stderr.write(`leader lock: handed over ${tookMs} ms after the holder's connection closed\n`);
    expect(second.isHeld()).toBe(true);
    expect(first.isHeld()).toBe(false);
    expect(losses).toEqual(['the broker connection or the lock channel closed']);
  });

  test('release hands the lock to the next attempt at once, without a loss event', async () => {
    const { first, second, losses } = await rivals();
    expect(await first.tryAcquire()).toBe(true);
    await first.release();
    expect(first.isHeld()).toBe(false);
    expect(await second.tryAcquire()).toBe(true);
    expect(await first.tryAcquire()).toBe(false);
    expect(losses).toEqual([]);
  });

  test('learns at once that the lock queue was deleted under it, and can take it again', async () => {
    const connection = await open();
    const lock = new LeaderLock({ connection, suffix });
    const lost = new Promise<string>((resolve) => lock.onLost((loss) => resolve(loss.reason)));
    expect(await lock.tryAcquire()).toBe(true);
    const admin = await connection.createChannel();
    await admin.deleteQueue(lock.queue);
    expect(await lost).toBe('the broker cancelled the lock consumer: the lock queue was deleted');
    expect(lock.isHeld()).toBe(false);
    expect(await lock.tryAcquire()).toBe(true);
    await admin.close();
  });

  test('says false, not an error, while it cannot open a channel', async () => {
    const lock = new LeaderLock({ connection: { createChannel: () => Promise.reject(new Error('not connected')) }, suffix });
    expect(await lock.tryAcquire()).toBe(false);
  });

  test('a follower polling every second replaces a SIGKILLed holder process within 5 s', async () => {
    const holder = await spawnHolder();
    const follower = new LeaderLock({ connection: await open(), suffix });
    expect(await follower.tryAcquire()).toBe(false);
    const killedAt = Date.now();
    holder.kill('SIGKILL');
    const tookMs = await acquireWithin(follower, 5000, 1000, killedAt);
    process.stderr.write(`leader lock: a follower polling every 1 s took over ${tookMs} ms after SIGKILL of the holder\n`);
    expect(follower.isHeld()).toBe(true);
  });

  test('the broker frees the lock of a SIGKILLed holder in well under a second', async () => {
    const holder = await spawnHolder();
    const follower = new LeaderLock({ connection: await open(), suffix });
    expect(await follower.tryAcquire()).toBe(false);
    const killedAt = Date.now();
    holder.kill('SIGKILL');
    const tookMs = await acquireWithin(follower, 5000, 20, killedAt);
    process.stderr.write(`leader lock: freed ${tookMs} ms after SIGKILL of the holder (a follower polling every 20 ms)\n`);
    expect(tookMs).toBeLessThan(1000);
  });
});
