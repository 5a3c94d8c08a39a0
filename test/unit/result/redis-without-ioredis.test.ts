// `ioredis` is an optional peer dependency: here it is missing, as in a project that never installed it.
jest.mock('ioredis', () => {
  throw Object.assign(new Error("Cannot find module 'ioredis' from 'src/result/redis-connection.ts'"), { code: 'MODULE_NOT_FOUND' });
});

import { parseResultBackendUrl, type RedisBackendUrl } from '../../../src/config';
import { createApp, ResultBackendError } from '../../../src';
import { createLogger } from '../../../src/logging/logger';
import { RedisResultBackend } from '../../../src/result/redis-result-backend';

describe('without the ioredis package', () => {
  test('warren loads, and an app made for rpc:// is made as before', () => {
    expect(typeof createApp({ brokerUrl: 'memory://' }).sendTask).toBe('function');
  });

  test('the first use of a Redis result backend fails naming the package to install', async () => {
    const backend = new RedisResultBackend(parseResultBackendUrl('redis://127.0.0.1:6379/0') as RedisBackendUrl, createLogger({ level: 'silent' }));
    const read = backend.asyncResult('some-id');
    await expect(read).rejects.toThrow(ResultBackendError);
    await expect(read).rejects.toThrow('the Redis result backend needs the package "ioredis", which is not installed (npm install ioredis)');
    await backend.close();
  });
});
