import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { UsageError } from '../errors';

/** The one user and password the dashboard accepts (HTTP Basic). */
export interface Credentials {
  readonly user: string;
  readonly password: string;
}

/** `user:password` (the first colon splits; the password may hold more), both non-empty. */
export function parseCredentials(text: string, where: string): Credentials {
  const colon = text.indexOf(':');
  const user = colon < 0 ? '' : text.slice(0, colon);
  const password = colon < 0 ? '' : text.slice(colon + 1);
  if (user === '' || password === '') throw new UsageError(`${where} must be user:password, both non-empty (got ${colon < 0 ? 'no colon' : user === '' ? 'no user' : 'no password'})`);
  return { user, password };
}

/** The credentials of `--auth-file`: its first line that is neither empty nor a `#` comment. */
export function readCredentialsFile(path: string): Credentials {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`--auth-file ${path} cannot be read (${(err as Error).message})`);
  }
  const line = text.split(/\r?\n/).map((l) => l.trim()).find((l) => l !== '' && !l.startsWith('#'));
  if (line === undefined) throw new UsageError(`--auth-file ${path} holds no user:password line`);
  return parseCredentials(line, `the line of --auth-file ${path}`);
}

/** Whether a bind address reaches only this machine: 127.0.0.0/8, ::1, localhost. */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (bare === 'localhost') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  return bare === '::1' || bare === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(bare);
}

/** Equal strings compared in time independent of where they differ (digests first: equal lengths). */
function sameSecret(a: string, b: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(digest(a), digest(b));
}

/** Whether an `Authorization` header carries these credentials (HTTP Basic). */
export function basicAuthMatches(header: string | undefined, credentials: Credentials): boolean {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!match) return false;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return false;
  // Both compared, always: no early exit tells which half was wrong.
  const userOk = sameSecret(decoded.slice(0, colon), credentials.user);
  const passwordOk = sameSecret(decoded.slice(colon + 1), credentials.password);
  return userOk && passwordOk;
}

/** A fresh CSRF token: 32 random bytes, base64url. */
export function newCsrfToken(): string {
  return randomBytes(32).toString('base64url');
}

/** What the guard sees of a request. */
export interface GuardedRequest {
  method: string;
  headers: Readonly<Record<string, string | string[] | undefined>>;
}

export interface GuardOptions {
  /** When set, every request needs them. */
  credentials?: Credentials;
  /** Every state-changing request carries it in `X-CSRF-Token`. */
  csrfToken: string;
  /**
   * The `Host` values a request may name (the loopback names and the port): a page of another
   * site that a DNS name pointed at 127.0.0.1 cannot talk to a loopback dashboard. Absent: any.
   */
  allowedHosts?: ReadonlySet<string>;
}

export type GuardVerdict = { ok: true } | { ok: false; status: 400 | 401 | 403 | 405; reason: string };

const READS = new Set(['GET', 'HEAD']);

/**
 * Decides whether a request may go on: the Host check, then the credentials (401), then, for a
 * state-changing request, its method (POST only), its CSRF token, its Origin when the browser
 * sends one, and a JSON body (a plain HTML form can send none of those). Pure.
 */
export function guardRequest(request: GuardedRequest, options: GuardOptions): GuardVerdict {
  const header = (name: string): string | undefined => {
    const value = request.headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  const host = header('host');
  if (options.allowedHosts && (host === undefined || !options.allowedHosts.has(host.toLowerCase()))) {
    return { ok: false, status: 403, reason: `the Host ${JSON.stringify(host ?? '')} is not one this dashboard serves` };
  }
  if (options.credentials && !basicAuthMatches(header('authorization'), options.credentials)) {
    return { ok: false, status: 401, reason: 'authentication required' };
  }
  const method = request.method.toUpperCase();
  if (READS.has(method)) return { ok: true };
  if (method !== 'POST') return { ok: false, status: 405, reason: `method ${method} is not allowed` };
  const token = header('x-csrf-token');
  if (token === undefined || !sameSecret(token, options.csrfToken)) return { ok: false, status: 403, reason: 'missing or wrong CSRF token' };
  const origin = header('origin');
  if (origin !== undefined && origin !== 'null' && host !== undefined) {
    let originHost: string | undefined;
    try {
      originHost = new URL(origin).host;
    } catch {
      originHost = undefined;
    }
    if (originHost?.toLowerCase() !== host.toLowerCase()) return { ok: false, status: 403, reason: `cross-origin request from ${origin} refused` };
  }
  if (!/^application\/json\b/i.test(header('content-type') ?? '')) return { ok: false, status: 400, reason: 'a state-changing request sends a JSON body (Content-Type: application/json)' };
  return { ok: true };
}

/** The `Host` values of a loopback bind on `port`. */
export function loopbackHosts(host: string, port: number): Set<string> {
  const names = new Set(['127.0.0.1', 'localhost', '[::1]', host.toLowerCase().includes(':') && !host.startsWith('[') ? `[${host.toLowerCase()}]` : host.toLowerCase()]);
  return new Set([...names].map((name) => `${name}:${port}`));
}
