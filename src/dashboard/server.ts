import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { UsageError } from '../errors';
import type { Logger } from '../logging/logger';
import { guardRequest, isLoopback, loopbackHosts, newCsrfToken, type Credentials } from './auth';
import type { Dashboard } from './dashboard';
import { renderTemplate } from './escape';

/** What the server asks of the dashboard (a test may hand it a stand-in). */
export type DashboardBackend = Pick<
  Dashboard,
  'snapshot' | 'tasks' | 'task' | 'revoke' | 'workerCommand' | 'setEnabled' | 'runNow' | 'deadLetters' | 'settleDeadLetter'
>;

export interface DashboardServerOptions {
  backend: DashboardBackend;
  logger: Logger;
  /** @defaultValue '127.0.0.1' */
  host?: string;
  /** 0 picks a free port. @defaultValue 5555 */
  port?: number;
  /** Needed (and checked on every request) for any host but a loopback one. */
  credentials?: Credentials;
  /** How often the page gets the state, when it changed. @defaultValue 1000 */
  pushMs?: number;
}

/** The page's files: under `src/dashboard/static`, beside this module when run from the sources, else in the package's copy. */
function staticDir(): string {
  const candidates = [join(__dirname, 'static'), join(__dirname, '..', '..', '..', 'src', 'dashboard', 'static')];
  const found = candidates.find((dir) => existsSync(join(dir, 'index.html')));
  if (!found) throw new Error(`the dashboard's page is missing (looked for index.html in ${candidates.join(', ')})`);
  return found;
}

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
};

const MAX_BODY = 64 * 1024;

/** A request the page made wrongly: its status and message go back as they are. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The dashboard's HTTP server (node:http, no framework): the page and its two files, a JSON API,
 * and the state as server-sent events. Every request passes `guardRequest` first: the Host
 * check on a loopback bind, the credentials when given, and for a state change its CSRF token,
 * Origin and JSON body. Refuses to listen on a non-loopback host without credentials.
 */
export class DashboardServer {
  /** The token the page sends back with each state change; new for each server. */
  readonly csrfToken = newCsrfToken();
  private server: Server | undefined;
  private readonly streams = new Set<ServerResponse>();
  private timer: NodeJS.Timeout | undefined;
  private lastPushed = '';
  private lastSent = 0;
  private files!: { page: string; script: string; style: string };
  private readonly host: string;
  private readonly logger: Logger;

  constructor(private readonly options: DashboardServerOptions) {
    this.host = options.host ?? '127.0.0.1';
    this.logger = options.logger.child({ component: 'dashboard' });
    if (!isLoopback(this.host) && !options.credentials) {
      throw new UsageError(`--host ${this.host} is reachable from other machines: give --auth user:password or --auth-file (only a loopback host may go without)`);
    }
  }

  /** Listens; resolves with the URL it serves. */
  async start(): Promise<string> {
    const dir = staticDir();
    const read = (name: string) => readFileSync(join(dir, name), 'utf8');
    this.files = { page: read('index.html'), script: read('app.js'), style: read('app.css') };
    const server = createServer((req, res) => void this.handle(req, res));
    server.on('clientError', (_, socket) => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port ?? 5555, this.host, () => resolve());
    });
    this.server = server;
    this.timer = setInterval(() => this.push(), this.options.pushMs ?? 1000);
    this.timer.unref();
    return this.url();
  }

  get port(): number {
    return (this.server?.address() as AddressInfo | null)?.port ?? 0;
  }

  url(): string {
    const host = this.host.includes(':') && !this.host.startsWith('[') ? `[${this.host}]` : this.host;
    return `http://${host}:${this.port}/`;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    for (const stream of this.streams) stream.end();
    this.streams.clear();
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Sends the state to every open stream when it changed (and at least every 15 s, as a keep-alive). */
  private push(): void {
    if (this.streams.size === 0) return;
    const data = JSON.stringify(this.options.backend.snapshot());
    const { now: _now, ...rest } = JSON.parse(data) as Record<string, unknown>;
    const key = JSON.stringify(rest);
    if (key === this.lastPushed && Date.now() - this.lastSent < 15_000) return;
    this.lastPushed = key;
    this.lastSent = Date.now();
    for (const stream of this.streams) stream.write(`event: state\ndata: ${data}\n\n`);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const verdict = guardRequest(
      { method: req.method ?? 'GET', headers: req.headers },
      {
        credentials: this.options.credentials,
        csrfToken: this.csrfToken,
        allowedHosts: isLoopback(this.host) ? loopbackHosts(this.host, this.port) : undefined,
      },
    );
    if (!verdict.ok) {
      const headers: Record<string, string> = verdict.status === 401 ? { 'WWW-Authenticate': 'Basic realm="warren dashboard", charset="UTF-8"' } : {};
      this.logger.debug({ method: req.method, url: req.url, status: verdict.status, reason: verdict.reason }, 'request refused');
      return this.json(res, verdict.status, { error: verdict.reason }, headers);
    }
    try {
      await this.route(req, res);
    } catch (error) {
      if (error instanceof HttpError) return this.json(res, error.status, { error: error.message });
      if (error instanceof UsageError) return this.json(res, 400, { error: error.message });
      this.logger.warn({ method: req.method, url: req.url, err: (error as Error).message }, 'request failed');
      return this.json(res, 500, { error: (error as Error).message });
    }
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://dashboard');
    const parts = url.pathname.split('/').filter((p) => p !== '').map((p) => decodeURIComponent(p));
    const backend = this.options.backend;
    if (req.method === 'GET' || req.method === 'HEAD') {
      if (parts.length === 0 || url.pathname === '/index.html') {
        const page = renderTemplate(this.files.page, { csrf: this.csrfToken, title: 'warren dashboard' });
        return this.send(res, 200, 'text/html; charset=utf-8', page);
      }
      if (url.pathname === '/static/app.js') return this.send(res, 200, 'text/javascript; charset=utf-8', this.files.script);
      if (url.pathname === '/static/app.css') return this.send(res, 200, 'text/css; charset=utf-8', this.files.style);
      if (url.pathname === '/api/state') return this.json(res, 200, backend.snapshot());
      if (url.pathname === '/api/stream') return this.stream(res);
      if (url.pathname === '/api/tasks') {
        const q = url.searchParams;
        const limit = Math.min(Number(q.get('limit') ?? 200) || 200, 1000);
        return this.json(res, 200, backend.tasks({ name: q.get('name') || undefined, state: q.get('state') || undefined, worker: q.get('worker') || undefined, id: q.get('id') || undefined, limit }));
      }
      if (parts[0] === 'api' && parts[1] === 'tasks' && parts.length === 3) {
        const task = backend.task(parts[2]);
        if (!task) throw new HttpError(404, `no task ${parts[2]} is known (not seen since the dashboard started, or forgotten)`);
        return this.json(res, 200, task);
      }
      if (parts[0] === 'api' && parts[1] === 'dead-letters' && parts.length === 3) return this.json(res, 200, await backend.deadLetters(parts[2]));
      throw new HttpError(404, `nothing at ${url.pathname}`);
    }
    // POST: the guard let only a JSON POST with the CSRF token through.
    const body = await readJson(req);
    if (parts[0] !== 'api') throw new HttpError(404, `nothing at ${url.pathname}`);
    if (parts[1] === 'tasks' && parts.length === 4 && parts[3] === 'revoke') {
      return this.json(res, 200, { replies: await backend.revoke(parts[2], body.terminate === true) });
    }
    if (parts[1] === 'workers' && parts.length === 4) {
      const command = parts[3];
      if (command !== 'shutdown' && command !== 'enable_events' && command !== 'disable_events' && command !== 'add_consumer' && command !== 'cancel_consumer') {
        throw new HttpError(404, `no worker command ${command}`);
      }
      return this.json(res, 200, { replies: await backend.workerCommand(parts[2], command, typeof body.queue === 'string' ? body.queue : undefined) });
    }
    if (parts[1] === 'schedule' && parts.length === 4) {
      const [, , name, action] = parts;
      if (action === 'enable' || action === 'disable') {
        await backend.setEnabled(name, action === 'enable');
        return this.json(res, 200, { ok: true });
      }
      if (action === 'run') return this.json(res, 200, { ok: true, taskId: await backend.runNow(name) });
      throw new HttpError(404, `no schedule action ${action}`);
    }
    if (parts[1] === 'dead-letters' && parts.length === 4 && (parts[3] === 'requeue' || parts[3] === 'delete')) {
      if (typeof body.key !== 'string') throw new HttpError(400, 'the body names the message: {"key": "..."}');
      const outcome = await backend.settleDeadLetter(parts[2], body.key, parts[3]);
      return this.json(res, outcome.done ? 200 : 409, outcome.done ? { ok: true, ...outcome } : { error: outcome.reason });
    }
    throw new HttpError(404, `nothing at ${url.pathname}`);
  }

  private stream(res: ServerResponse): void {
    res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': 'text/event-stream; charset=utf-8', Connection: 'keep-alive' });
    res.write(`retry: 2000\n\nevent: state\ndata: ${JSON.stringify(this.options.backend.snapshot())}\n\n`);
    this.streams.add(res);
    res.on('close', () => this.streams.delete(res));
  }

  private send(res: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
    res.writeHead(status, { ...SECURITY_HEADERS, ...headers, 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  }

  private json(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
    this.send(res, status, 'application/json; charset=utf-8', JSON.stringify(value), headers);
  }
}

/** The request's JSON object body (empty: `{}`), at most 64 KiB. */
async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new HttpError(413, `the body is over ${MAX_BODY} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new HttpError(400, `the body is not JSON (${(error as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new HttpError(400, 'the body is not a JSON object');
  return value as Record<string, unknown>;
}
