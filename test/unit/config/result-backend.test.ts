import { parseResultBackendUrl, resolveDefinitions } from '../../../src/config';
import { example, FILE, problemsOf, resolveOne } from './problems';

const EXPECTED = 'rpc://, redis://[:password@]host:port/db, rediss://..., or redis+cluster://host1:port,host2:port';

describe('resultBackend, resultExpires and jsonDates in the definitions', () => {
  test('default to rpc://, one day and tagged values, as Celery and kombu 5.3', () => {
    const definitions = resolveOne(example());
    expect(definitions.resultBackend).toBe('rpc://');
    expect(definitions.resultExpires).toBe(86_400);
    expect(definitions.jsonDates).toBe('tagged');
  });

  test('are read from the files, durations in seconds', () => {
    const definitions = resolveOne({ ...example(), resultBackend: 'redis://:pw@127.0.0.1:6379/3', resultExpires: '2h', jsonDates: 'plain' });
    expect(definitions.resultBackend).toBe('redis://:pw@127.0.0.1:6379/3');
    expect(definitions.resultExpires).toBe(7200);
    expect(definitions.jsonDates).toBe('plain');
  });

  test('the option beats WARREN_RESULT_BACKEND, which beats the files', () => {
    const files = { ...example(), resultBackend: 'redis://files:6379/0' };
    const env = { WARREN_RESULT_BACKEND: 'redis://env:6379/1' };
    expect(resolveOne(files, { env }).resultBackend).toBe('redis://env:6379/1');
    expect(resolveOne(files, { env, resultBackend: 'rpc://' }).resultBackend).toBe('rpc://');
    expect(resolveOne(files, { env: { WARREN_RESULT_BACKEND: '' } }).resultBackend).toBe('redis://files:6379/0');
  });

  test('each bad value is a problem with the file, the path and what was expected; passwords masked', () => {
    expect(
      problemsOf(() => resolveOne({ ...example(), resultBackend: 'redis://:secret@h:port/0', resultExpires: 'soon', jsonDates: 'iso' })),
    ).toEqual([
      `${FILE}: resultBackend: "redis://:***@h:port/0" is not a result backend URL: port "port" is not a number (expected ${EXPECTED})`,
      `${FILE}: resultExpires: "soon" is not a duration (expected a number of seconds or a string like 250ms, 10s, 1.5m, 2h)`,
      `${FILE}: jsonDates: "iso" is not a way to write dates (expected one of tagged, plain)`,
    ]);
  });

  test('a bad URL from the environment or the option is reported as such', () => {
    expect(problemsOf(() => resolveOne(example(), { env: { WARREN_RESULT_BACKEND: 'mongodb://x/' } }))).toEqual([
      `(environment): WARREN_RESULT_BACKEND: "mongodb://x/" is not a result backend URL: unknown scheme "mongodb" (expected ${EXPECTED})`,
    ]);
    expect(problemsOf(() => resolveOne(example(), { resultBackend: 'redis+cluster://:pw@a:1,b:2/3' }))).toEqual([
      `(options): resultBackend: "redis+cluster://:***@a:1,b:2/3" is not a result backend URL: a Redis Cluster has database 0 only (expected ${EXPECTED})`,
    ]);
  });

  test('two files that set it differently are a problem', () => {
    expect(
      problemsOf(() =>
        resolveDefinitions([
          { file: 'a.yaml', content: { ...example(), resultBackend: 'redis://:x@a/0' } },
          { file: 'b.yaml', content: { resultBackend: 'redis://:y@b/0' } },
        ]),
      ),
    ).toEqual(['b.yaml: resultBackend: "redis://:***@b/0" differs from "redis://:***@a/0" in a.yaml (expected the same value in every file that sets it)']);
  });
});

describe('parseResultBackendUrl', () => {
  test('rpc://', () => {
    expect(parseResultBackendUrl('rpc://')).toEqual({ kind: 'rpc', display: 'rpc://' });
  });

  test('redis:// with a password and a database, as Celery writes it', () => {
    expect(parseResultBackendUrl('redis://:s%40cret@10.0.0.5:6380/2')).toEqual({
      kind: 'redis',
      display: 'redis://:***@10.0.0.5:6380/2',
      tls: false,
      cluster: false,
      nodes: [{ host: '10.0.0.5', port: 6380 }],
      db: 2,
      password: 's@cret',
      waitReplicas: 0,
      waitTimeoutMs: 1000,
      rejectUnauthorized: true,
    });
  });

  test("bare redis:// is Celery's localhost:6379/0; rediss:// with a user and ssl_cert_reqs", () => {
    expect(parseResultBackendUrl('redis://')).toMatchObject({ nodes: [{ host: 'localhost', port: 6379 }], db: 0, tls: false });
    expect(parseResultBackendUrl('rediss://app:pw@[::1]:6390/0?ssl_cert_reqs=CERT_NONE')).toMatchObject({
      tls: true,
      username: 'app',
      password: 'pw',
      nodes: [{ host: '::1', port: 6390 }],
      rejectUnauthorized: false,
    });
  });

  test('redis+cluster:// with seed nodes and WAIT for replicas', () => {
    expect(parseResultBackendUrl('redis+cluster://127.0.0.1:7000,127.0.0.1:7001/?waitReplicas=1&waitTimeoutMs=250')).toMatchObject({
      cluster: true,
      nodes: [
        { host: '127.0.0.1', port: 7000 },
        { host: '127.0.0.1', port: 7001 },
      ],
      db: 0,
      waitReplicas: 1,
      waitTimeoutMs: 250,
    });
  });

  test.each([
    ['redis://a:1,b:2/0', 'redis:// takes one host; a Redis Cluster is redis+cluster://'],
    ['redis://h/zero', 'database "zero" is not a number'],
    ['redis://h/0?waitReplicas=one', 'waitReplicas "one" is not a whole number'],
    ['redis://h/0?timeout=5', 'unknown parameter "timeout" (known: waitReplicas, waitTimeoutMs, ssl_cert_reqs)'],
    ['redis://h/0?ssl_cert_reqs=none', 'ssl_cert_reqs needs rediss://'],
    ['rpc://host', 'rpc:// takes nothing after it'],
    ['localhost:6379', 'no scheme'],
  ])('refuses %s: %s', (url, why) => {
    expect(() => parseResultBackendUrl(url)).toThrow(`${JSON.stringify(url)} is not a result backend URL: ${why} (expected ${EXPECTED})`);
  });
});
