/** Where beat keeps runtime entries, overrides and the last fire of each entry. */
export type { EntryState, ScheduleStore, StoredEntry, StoredOverride } from './schedule-store';
export { ScheduleStoreError } from '../../errors';
export { DEFAULT_STATE_FILE, FileScheduleStore, type FileScheduleStoreOptions } from './file-schedule-store';
export { FileLock, type FileLockOptions } from './file-lock';
export { PostgresScheduleStore, type PostgresScheduleStoreOptions } from './postgres-schedule-store';
export { createScheduleStore, type CreateScheduleStoreOptions } from './create-schedule-store';
