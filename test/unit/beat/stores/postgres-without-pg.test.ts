// `pg` is an optional peer dependency: here it is missing, as in a project that never installed it.
jest.mock('pg', () => {
  throw Object.assign(new Error("Cannot find module 'pg' from 'src/beat/stores/postgres-schedule-store.ts'"), { code: 'MODULE_NOT_FOUND' });
});

import { createApp, ScheduleStoreError } from '../../../../src';
import { createScheduleStore } from '../../../../src/beat/stores';

describe('without the pg package', () => {
  test('warren loads, and a file store works as before', () => {
    expect(typeof createApp).toBe('function');
    expect(createScheduleStore('state.json').constructor.name).toBe('FileScheduleStore');
  });

  test('opening a PostgreSQL store fails naming the package to install', async () => {
    const store = createScheduleStore('postgres://postgres@127.0.0.1:1/none');
    const opened = store.open();
    await expect(opened).rejects.toThrow(ScheduleStoreError);
    await expect(opened).rejects.toThrow('the PostgreSQL schedule store needs the package "pg", which is not installed (npm install pg)');
  });
});
