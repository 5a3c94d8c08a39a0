import { randomUUID } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import { ClosedError, UsageError } from '../../errors';
import type { Logger } from '../../logging/logger';
import { maskUrl } from '../../util/mask-url';
import type { ScheduleEntryInput } from '../entry-input';
import { errorCode } from './file-lock';
import type { EntryState, ScheduleStore, StoredEntry, StoredOverride } from './schedule-store';
import { ScheduleStoreError } from '../../errors';

export interface PostgresScheduleStoreOptions {
  /**
   * Put before each table name: `<prefix>schedule_entries`, `<prefix>schedule_overrides`,
   * `<prefix>schedule_state`, `<prefix>schedule_meta`. Letters, digits and `_`.
   * @defaultValue 'warren_'
   */
  tablePrefix?: string;
  /** Connections in the pool. @defaultValue 3 */
  poolMax?: number;
  /** How long a connection attempt may take. @defaultValue 5000 */
  connectTimeoutMs?: number;
  /** Where errors of idle pooled connections go (the database restarted, say). */
  logger?: Logger;
}

interface Tables {
  readonly entries: string;
  readonly overrides: string;
  readonly state: string;
  readonly meta: string;
}

const PREFIX = /^[A-Za-z_][A-Za-z0-9_]{0,40}$/;

function quoted(name: string): string {
  return `"${name}"`;
}

function tablesFor(prefix: string): Tables {
  if (!PREFIX.test(prefix)) {
    throw new UsageError(`table prefix ${JSON.stringify(prefix)} is not valid (expected up to 41 letters, digits or _, not starting with a digit)`);
  }
  return {
    entries: quoted(`${prefix}schedule_entries`),
    overrides: quoted(`${prefix}schedule_overrides`),
    state: quoted(`${prefix}schedule_state`),
    meta: quoted(`${prefix}schedule_meta`),
  };
}

/** `pg` is an optional peer dependency: loaded when a PostgreSQL store opens, not when warren is imported. */
function loadPg(): typeof import('pg') {
  try {
    return require('pg') as typeof import('pg');
  } catch (error) {
    if (errorCode(error) === 'MODULE_NOT_FOUND' && String(error).includes("'pg'")) {
      throw new ScheduleStoreError('the PostgreSQL schedule store needs the package "pg", which is not installed (npm install pg)', error);
    }
    throw error;
  }
}

interface EntryRow {
  name: string;
  input: ScheduleEntryInput;
  updated_at: Date;
}

/**
 * Schedule data in PostgreSQL (`warren beat --store postgres://...`), for beats on several
 * hosts. `open()` creates the tables if they are absent (under a transaction-scoped advisory
 * lock, so two processes starting at once do not race). Each change to entries or overrides
 * bumps the revision in the one-row meta table in the same transaction; `changeToken` reads it.
 * Inputs are stored as `json` (not `jsonb`), so they come back exactly as given, key order included.
 */
export class PostgresScheduleStore implements ScheduleStore {
  private readonly tables: Tables;
  private readonly prefix: string;
  private pool: Pool | undefined;
  private opening: Promise<void> | undefined;
  private closed = false;

  constructor(
    /** `postgres://user:password@host:5432/database`. */
    readonly url: string,
    private readonly options: PostgresScheduleStoreOptions = {},
  ) {
    this.prefix = options.tablePrefix ?? 'warren_';
    this.tables = tablesFor(this.prefix);
  }

  /** Where the store lives, password masked. */
  get description(): string {
    return maskUrl(this.url);
  }

  open(): Promise<void> {
    if (this.closed) return Promise.reject(new ClosedError(`the schedule store ${this.description} is closed`));
    this.opening ??= this.prepare().catch(async (error: unknown) => {
      const pool = this.pool;
      this.pool = undefined;
      this.opening = undefined;
      await pool?.end().catch(() => undefined);
      throw error;
    });
    return this.opening;
  }

  private async prepare(): Promise<void> {
    const { Pool } = loadPg();
    const pool = new Pool({
      connectionString: this.url,
      max: this.options.poolMax ?? 3,
      connectionTimeoutMillis: this.options.connectTimeoutMs ?? 5000,
      application_name: 'warren beat',
    });
    pool.on('error', (error) => this.options.logger?.warn({ err: error.message, store: this.description }, 'idle schedule store connection failed'));
    this.pool = pool;
    const { entries, overrides, state, meta } = this.tables;
    await this.transaction(async (client) => {
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`warren schedule tables ${this.prefix}`]);
      await client.query(`CREATE TABLE IF NOT EXISTS ${entries} (name text PRIMARY KEY, input json NOT NULL, updated_at timestamptz NOT NULL)`);
      await client.query(`CREATE TABLE IF NOT EXISTS ${overrides} (name text PRIMARY KEY, enabled boolean NOT NULL, updated_at timestamptz NOT NULL)`);
      await client.query(`CREATE TABLE IF NOT EXISTS ${state} (name text PRIMARY KEY, last_planned timestamptz NOT NULL, updated_at timestamptz NOT NULL)`);
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${meta} (id smallint PRIMARY KEY CHECK (id = 1), generation text NOT NULL, revision bigint NOT NULL)`,
      );
      await client.query(`INSERT INTO ${meta} (id, generation, revision) VALUES (1, $1, 0) ON CONFLICT (id) DO NOTHING`, [randomUUID()]);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const pool = this.pool;
    this.pool = undefined;
    await pool?.end();
  }

  private requirePool(): Pool {
    if (this.closed) throw new ClosedError(`the schedule store ${this.description} is closed`);
    if (this.pool === undefined) throw new ClosedError(`the schedule store ${this.description} is not open (call open() first)`);
    return this.pool;
  }

  private failure(error: unknown): ScheduleStoreError {
    if (error instanceof ScheduleStoreError || error instanceof ClosedError) return error;
    const reason = error instanceof Error ? error.message : String(error);
    return new ScheduleStoreError(`schedule store ${this.description}: ${reason}`, error);
  }

  private async query<Row extends object>(text: string, values: unknown[] = []): Promise<Row[]> {
    try {
      return (await this.requirePool().query<Row>(text, values)).rows;
    } catch (error) {
      throw this.failure(error);
    }
  }

  private async transaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    let client: PoolClient;
    try {
      client = await this.requirePool().connect();
    } catch (error) {
      throw this.failure(error);
    }
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw this.failure(error);
    } finally {
      client.release();
    }
  }

  /** Runs `work` in a transaction and bumps the revision if it says it changed something. */
  private change<T>(work: (client: PoolClient) => Promise<{ changed: boolean; result: T }>): Promise<T> {
    return this.transaction(async (client) => {
      const { changed, result } = await work(client);
      if (changed) await client.query(`UPDATE ${this.tables.meta} SET revision = revision + 1 WHERE id = 1`);
      return result;
    });
  }

  async listEntries(): Promise<StoredEntry[]> {
    const rows = await this.query<EntryRow>(`SELECT name, input, updated_at FROM ${this.tables.entries} ORDER BY name COLLATE "C"`);
    return rows.map((row) => ({ name: row.name, input: row.input, updatedAt: row.updated_at }));
  }

  async getEntry(name: string): Promise<StoredEntry | undefined> {
    const [row] = await this.query<EntryRow>(`SELECT name, input, updated_at FROM ${this.tables.entries} WHERE name = $1`, [name]);
    return row === undefined ? undefined : { name: row.name, input: row.input, updatedAt: row.updated_at };
  }

  async putEntry(name: string, input: ScheduleEntryInput): Promise<void> {
    const json = JSON.stringify(input);
    await this.change(async (client) => {
      await client.query(
        `INSERT INTO ${this.tables.entries} (name, input, updated_at) VALUES ($1, $2::json, now())
         ON CONFLICT (name) DO UPDATE SET input = excluded.input, updated_at = excluded.updated_at`,
        [name, json],
      );
      return { changed: true, result: undefined };
    });
  }

  removeEntry(name: string): Promise<boolean> {
    return this.change(async (client) => {
      const removed = (await client.query(`DELETE FROM ${this.tables.entries} WHERE name = $1`, [name])).rowCount === 1;
      if (removed) await client.query(`DELETE FROM ${this.tables.state} WHERE name = $1`, [name]);
      return { changed: removed, result: removed };
    });
  }

  setEnabled(name: string, enabled: boolean): Promise<boolean> {
    return this.change(async (client) => {
      const { rows } = await client.query<Pick<EntryRow, 'input'>>(`SELECT input FROM ${this.tables.entries} WHERE name = $1 FOR UPDATE`, [name]);
      if (rows.length === 0) return { changed: false, result: false };
      const input = { ...rows[0].input };
      if (enabled) delete input.enabled;
      else input.enabled = false;
      await client.query(`UPDATE ${this.tables.entries} SET input = $2::json, updated_at = now() WHERE name = $1`, [name, JSON.stringify(input)]);
      return { changed: true, result: true };
    });
  }

  async setOverride(name: string, enabled: boolean): Promise<void> {
    await this.change(async (client) => {
      await client.query(
        `INSERT INTO ${this.tables.overrides} (name, enabled, updated_at) VALUES ($1, $2, now())
         ON CONFLICT (name) DO UPDATE SET enabled = excluded.enabled, updated_at = excluded.updated_at`,
        [name, enabled],
      );
      return { changed: true, result: undefined };
    });
  }

  clearOverride(name: string): Promise<boolean> {
    return this.change(async (client) => {
      const removed = (await client.query(`DELETE FROM ${this.tables.overrides} WHERE name = $1`, [name])).rowCount === 1;
      return { changed: removed, result: removed };
    });
  }

  async listOverrides(): Promise<StoredOverride[]> {
    const rows = await this.query<{ name: string; enabled: boolean; updated_at: Date }>(
      `SELECT name, enabled, updated_at FROM ${this.tables.overrides} ORDER BY name COLLATE "C"`,
    );
    return rows.map((row) => ({ name: row.name, enabled: row.enabled, updatedAt: row.updated_at }));
  }

  async loadState(): Promise<Record<string, EntryState>> {
    const rows = await this.query<{ name: string; last_planned: Date }>(`SELECT name, last_planned FROM ${this.tables.state}`);
    const state: Record<string, EntryState> = Object.create(null) as Record<string, EntryState>;
    for (const row of rows) state[row.name] = { lastPlanned: row.last_planned };
    return state;
  }

  async saveState(name: string, lastPlanned: Date): Promise<void> {
    const { state } = this.tables;
    await this.query(
      `INSERT INTO ${state} (name, last_planned, updated_at) VALUES ($1, $2, now())
       ON CONFLICT (name) DO UPDATE SET last_planned = excluded.last_planned, updated_at = excluded.updated_at
       WHERE ${state}.last_planned < excluded.last_planned`,
      [name, lastPlanned],
    );
  }

  async forgetState(name: string): Promise<void> {
    await this.query(`DELETE FROM ${this.tables.state} WHERE name = $1`, [name]);
  }

  /** `<generation>:<revision>` from the meta row: one indexed read. */
  async changeToken(): Promise<string> {
    const [row] = await this.query<{ generation: string; revision: string }>(`SELECT generation, revision FROM ${this.tables.meta} WHERE id = 1`);
    if (row === undefined) throw new ScheduleStoreError(`schedule store ${this.description}: table ${this.tables.meta} has no row`);
    return `${row.generation}:${row.revision}`;
  }
}
