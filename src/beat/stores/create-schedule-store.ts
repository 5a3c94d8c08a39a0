import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../../errors';
import { maskUrl } from '../../util/mask-url';
import { DEFAULT_STATE_FILE, FileScheduleStore, type FileScheduleStoreOptions } from './file-schedule-store';
import { PostgresScheduleStore, type PostgresScheduleStoreOptions } from './postgres-schedule-store';
import type { ScheduleStore } from './schedule-store';

export interface CreateScheduleStoreOptions extends FileScheduleStoreOptions, PostgresScheduleStoreOptions {
  /** What a relative file path is relative to. @defaultValue process.cwd() */
  cwd?: string;
}

/**
 * The store `--store <where>` names:
 * - `postgres://…` or `postgresql://…`: {@link PostgresScheduleStore};
 * - `file:///abs/state.json`, `file:relative/state.json`, a plain path, or nothing:
 *   {@link FileScheduleStore}, by default at `.warren/beat-state.json` under `cwd`.
 *
 * Nothing is opened: call `open()` on the result.
 * @throws UsageError for any other scheme.
 */
export function createScheduleStore(where: string | undefined, options: CreateScheduleStoreOptions = {}): ScheduleStore {
  const file = (path: string) => new FileScheduleStore(resolve(options.cwd ?? process.cwd(), path), options);
  if (where === undefined || where === '') return file(DEFAULT_STATE_FILE);
  if (/^postgres(ql)?:\/\//i.test(where)) return new PostgresScheduleStore(where, options);
  if (/^file:\/\//i.test(where)) return file(fileURLToPath(where));
  if (/^file:/i.test(where)) return file(where.slice('file:'.length));
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(where)) return file(where);
  throw new UsageError(`schedule store ${JSON.stringify(maskUrl(where))} is not supported (expected postgres://..., postgresql://..., file:... or a file path)`);
}
