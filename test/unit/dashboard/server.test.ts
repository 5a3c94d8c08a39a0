import { request } from 'node:http';
import { createLogger } from '../../../src';
import { DashboardServer, type DashboardBackend, type DashboardSnapshot } from '../../../src/dashboard';

/*
 * The dashboard's HTTP server on loopback with a stand-in backend: what it serves, and what it
 * refuses before anything reaches the backend.
 */

const silent = createLogger({ level: 'silent' });

function fakeBackend(calls: string[]): DashboardBackend {
  const snapshot = { now: 1, broker: 'amqp://guest:***@h/', workers: [], queues: [], problems: [] } as unknown as DashboardSnapshot;
  return {
    snapshot: () => snapshot,
    tasks: () => [{ uuid: 'a', name: '<script>alert(1)</script>', state: 'SUCCESS', worker: 'w', updated: 1 }],
    task: (id) => (id === 'a' ? { uuid: 'a', name: 'n', state: 'SUCCESS', worker: 'w', updated: 1, children: [] } : undefined),
    revoke: async (id, terminate) => {
      calls.push(`revoke ${id} ${terminate}`);
      return [{ 'w@h': { ok: 'tasks flagged as revoked' } }];
    },
    workerCommand: async (host, command, queue) => {
      calls.push(`${command} ${host} ${queue ?? ''}`.trim());
      return [];
    },
    setEnabled: async (name, enabled) => void calls.push(`${enabled ? 'enable' : 'disable'} ${name}`),
    runNow: async (name) => {
      calls.push(`run ${name}`);
      return 'id-1';
    },
    deadLetters: async () => ({ total: 0, messages: [] }),
    settleDeadLetter: async (queue, key, action) => {
      calls.push(`${action} ${queue} ${key}`);
      return { done: true };
    },
  };
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request to the server on 127.0.0.1 (Host as given), the body read up to `maxBytes`. */
function call(port: number, method: string, path: string, headers: Record<string, string> = {}, body?: string, maxBytes = Infinity): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers: { host: `127.0.0.1:${port}`, ...headers } }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        if (text.length >= maxBytes) {
          res.destroy();
          resolve({ status: res.statusCode!, headers: res.headers, body: text });
        }
      });
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('DashboardServer', () => {
  let server: DashboardServer;
  let port: number;
  const calls: string[] = [];

  beforeAll(async () => {
    server = new DashboardServer({ backend: fakeBackend(calls), logger: silent, port: 0 });
    await server.start();
    port = server.port;
  });
  afterAll(() => server.close());
  beforeEach(() => calls.splice(0));

  test('serves the page with its CSRF token, a strict content security policy, and its script and style', async () => {
    const page = await call(port, 'GET', '/');
    expect(page.status).toBe(200);
    expect(page.body).toContain(`<meta name="csrf-token" content="${server.csrfToken}">`);
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.headers['content-security-policy']).not.toContain('unsafe-inline');
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    expect((await call(port, 'GET', '/static/app.js')).headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect((await call(port, 'GET', '/static/app.css')).status).toBe(200);
    // The page builds its content from text nodes: no innerHTML, no insertAdjacentHTML, no eval.
    const script = (await call(port, 'GET', '/static/app.js')).body;
    expect(script).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(/);
  });

  test('data goes out as JSON, never as HTML', async () => {
    const tasks = await call(port, 'GET', '/api/tasks?state=SUCCESS');
    expect(tasks.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(JSON.parse(tasks.body)[0].name).toBe('<script>alert(1)</script>');
    expect((await call(port, 'GET', '/api/tasks/nope')).status).toBe(404);
  });

  test('the stream starts with the state as a server-sent event', async () => {
    const stream = await call(port, 'GET', '/api/stream', {}, undefined, 40);
    expect(stream.status).toBe(200);
    expect(stream.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(stream.body).toMatch(/^retry: 2000\n\nevent: state\ndata: \{/);
  });

  test('a state change reaches the backend only with the CSRF token and a JSON body', async () => {
    const json = { 'content-type': 'application/json' };
    expect((await call(port, 'POST', '/api/tasks/a/revoke', json, '{"terminate":true}')).status).toBe(403);
    expect((await call(port, 'POST', '/api/tasks/a/revoke', { 'x-csrf-token': server.csrfToken, 'content-type': 'text/plain' }, 'terminate=true')).status).toBe(400);
    expect(calls).toEqual([]);
    const token = { ...json, 'x-csrf-token': server.csrfToken };
    const revoked = await call(port, 'POST', '/api/tasks/a/revoke', token, '{"terminate":true}');
    expect(revoked.status).toBe(200);
    expect(JSON.parse(revoked.body)).toEqual({ replies: [{ 'w@h': { ok: 'tasks flagged as revoked' } }] });
    await call(port, 'POST', '/api/workers/w%40h/add_consumer', token, '{"queue":"q1"}');
    await call(port, 'POST', '/api/schedule/tick/disable', token);
    await call(port, 'POST', '/api/schedule/tick/run', token);
    await call(port, 'POST', '/api/dead-letters/q.dlq/requeue', token, '{"key":"k1"}');
    expect(calls).toEqual(['revoke a true', 'add_consumer w@h q1', 'disable tick', 'run tick', 'requeue q.dlq k1']);
    expect((await call(port, 'POST', '/api/workers/w%40h/rm_rf', token)).status).toBe(404);
    expect((await call(port, 'POST', '/api/dead-letters/q.dlq/delete', token, '{}')).status).toBe(400);
    expect((await call(port, 'POST', '/api/schedule/tick/run', token, 'x'.repeat(70 * 1024))).status).toBe(413);
  });

  test('a request naming another Host is refused (a DNS name pointed at 127.0.0.1 gets nothing)', async () => {
    const reply = await call(port, 'GET', '/api/state', { host: `rebind.example:${port}` });
    expect(reply.status).toBe(403);
    expect(JSON.parse(reply.body)).toEqual({ error: `the Host "rebind.example:${port}" is not one this dashboard serves` });
  });
});

describe('DashboardServer with credentials', () => {
  test('refuses to serve a non-loopback host without credentials', () => {
    expect(() => new DashboardServer({ backend: fakeBackend([]), logger: silent, host: '0.0.0.0' })).toThrow(
      '--host 0.0.0.0 is reachable from other machines: give --auth user:password or --auth-file (only a loopback host may go without)',
    );
  });

  test('asks every request for them: 401 with a Basic challenge, then the CSRF token for a change', async () => {
    const calls: string[] = [];
    const server = new DashboardServer({ backend: fakeBackend(calls), logger: silent, host: '127.0.0.1', port: 0, credentials: { user: 'admin', password: 's3cret' } });
    await server.start();
    try {
      const refused = await call(server.port, 'GET', '/');
      expect(refused.status).toBe(401);
      expect(refused.headers['www-authenticate']).toBe('Basic realm="warren dashboard", charset="UTF-8"');
      expect(refused.body).not.toContain(server.csrfToken);
      const auth = { authorization: `Basic ${Buffer.from('admin:s3cret').toString('base64')}` };
      expect((await call(server.port, 'GET', '/', auth)).body).toContain(server.csrfToken);
      const json = { 'content-type': 'application/json' };
      expect((await call(server.port, 'POST', '/api/schedule/tick/disable', { ...json, 'x-csrf-token': server.csrfToken })).status).toBe(401);
      expect((await call(server.port, 'POST', '/api/schedule/tick/disable', { ...json, ...auth })).status).toBe(403);
      expect(calls).toEqual([]);
      expect((await call(server.port, 'POST', '/api/schedule/tick/disable', { ...json, ...auth, 'x-csrf-token': server.csrfToken })).status).toBe(200);
      expect(calls).toEqual(['disable tick']);
    } finally {
      await server.close();
    }
  });
});
