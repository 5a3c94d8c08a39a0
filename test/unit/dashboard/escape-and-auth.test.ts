import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { basicAuthMatches, escapeHtml, guardRequest, isLoopback, loopbackHosts, parseCredentials, readCredentialsFile, renderTemplate } from '../../../src/dashboard';
import { dashboardCredentials } from '../../../src/cli/dashboard-command';
import { UsageError } from '../../../src/errors';

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('escaping', () => {
  test('escapes every character that could open markup or leave an attribute', () => {
    expect(escapeHtml('<img src=x onerror="alert(1)">')).toBe('&lt;img src=x onerror=&quot;alert(1)&quot;&gt;');
    expect(escapeHtml("a & b ' ` c")).toBe('a &amp; b &#39; &#96; c');
    expect(escapeHtml('&lt;')).toBe('&amp;lt;');
    expect(escapeHtml(undefined)).toBe('');
    expect(escapeHtml(null)).toBe('');
    expect(escapeHtml(42)).toBe('42');
  });

  test('a template gets its values escaped, and an unknown placeholder is an error', () => {
    expect(renderTemplate('<meta content="{{token}}"><title>{{title}}</title>', { token: '"><script>x</script>', title: 'a<b' })).toBe(
      '<meta content="&quot;&gt;&lt;script&gt;x&lt;/script&gt;"><title>a&lt;b</title>',
    );
    expect(() => renderTemplate('{{nope}}', {})).toThrow('the page template names {{nope}}, which has no value');
  });
});

describe('credentials', () => {
  test('user:password splits at the first colon; both halves must be there', () => {
    expect(parseCredentials('admin:pa:ss', '--auth')).toEqual({ user: 'admin', password: 'pa:ss' });
    expect(() => parseCredentials('admin', '--auth')).toThrow('--auth must be user:password, both non-empty (got no colon)');
    expect(() => parseCredentials(':pw', '--auth')).toThrow('(got no user)');
    expect(() => parseCredentials('admin:', '--auth')).toThrow('(got no password)');
  });

  test('--auth-file: the first line that is neither empty nor a comment', () => {
    const dir = mkdtempSync(join(tmpdir(), 'warren-auth-'));
    try {
      const file = join(dir, 'auth');
      writeFileSync(file, '# the dashboard\n\n  ops:s3cret  \nother:line\n');
      expect(readCredentialsFile(file)).toEqual({ user: 'ops', password: 's3cret' });
      writeFileSync(file, '# nothing\n');
      expect(() => readCredentialsFile(file)).toThrow(`--auth-file ${file} holds no user:password line`);
      expect(() => readCredentialsFile(join(dir, 'missing'))).toThrow(/--auth-file .*missing cannot be read/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('Basic auth matches only the exact user and password', () => {
    const credentials = { user: 'admin', password: 's3cret' };
    expect(basicAuthMatches(basic('admin', 's3cret'), credentials)).toBe(true);
    expect(basicAuthMatches(basic('admin', 's3cret!'), credentials)).toBe(false);
    expect(basicAuthMatches(basic('Admin', 's3cret'), credentials)).toBe(false);
    expect(basicAuthMatches(undefined, credentials)).toBe(false);
    expect(basicAuthMatches('Bearer abc', credentials)).toBe(false);
    expect(basicAuthMatches(`Basic ${Buffer.from('admins3cret').toString('base64')}`, credentials)).toBe(false);
  });

  test('loopback hosts go without credentials; any other host is a usage error without them', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]']) expect(isLoopback(host)).toBe(true);
    for (const host of ['0.0.0.0', '::', '192.168.1.5', 'example.com', '128.0.0.1']) expect(isLoopback(host)).toBe(false);
    expect(dashboardCredentials({ host: '127.0.0.1' })).toBeUndefined();
    expect(() => dashboardCredentials({ host: '0.0.0.0' })).toThrow(
      new UsageError('--host 0.0.0.0 is reachable from other machines: give --auth user:password or --auth-file (only a loopback host may go without)'),
    );
    expect(dashboardCredentials({ host: '0.0.0.0', auth: 'a:b' })).toEqual({ user: 'a', password: 'b' });
    expect(() => dashboardCredentials({ host: '0.0.0.0', auth: 'a:b', 'auth-file': '/x' })).toThrow('give --auth or --auth-file, not both');
    process.env.WARREN_DASHBOARD_AUTH = 'env:pw';
    try {
      expect(dashboardCredentials({ host: '0.0.0.0' })).toEqual({ user: 'env', password: 'pw' });
      expect(dashboardCredentials({ host: '0.0.0.0', auth: 'a:b' })).toEqual({ user: 'a', password: 'b' });
      process.env.WARREN_DASHBOARD_AUTH = 'nocolon';
      expect(() => dashboardCredentials({ host: '0.0.0.0' })).toThrow('WARREN_DASHBOARD_AUTH must be user:password, both non-empty (got no colon)');
    } finally {
      delete process.env.WARREN_DASHBOARD_AUTH;
    }
  });
});

describe('guardRequest', () => {
  const csrfToken = 'token-123';
  const credentials = { user: 'admin', password: 's3cret' };
  const post = (headers: Record<string, string>) => ({ method: 'POST', headers: { host: 'dash:5555', 'content-type': 'application/json', ...headers } });

  test('with credentials: every request needs them, reads included (401)', () => {
    expect(guardRequest({ method: 'GET', headers: { host: 'dash:5555' } }, { credentials, csrfToken })).toEqual({ ok: false, status: 401, reason: 'authentication required' });
    expect(guardRequest({ method: 'GET', headers: { authorization: basic('admin', 's3cret') } }, { credentials, csrfToken })).toEqual({ ok: true });
    expect(guardRequest(post({ 'x-csrf-token': csrfToken }), { credentials, csrfToken })).toMatchObject({ ok: false, status: 401 });
  });

  test('a state change needs the CSRF token as well as the credentials (403)', () => {
    const auth = { authorization: basic('admin', 's3cret') };
    expect(guardRequest(post(auth), { credentials, csrfToken })).toEqual({ ok: false, status: 403, reason: 'missing or wrong CSRF token' });
    expect(guardRequest(post({ ...auth, 'x-csrf-token': 'token-12' }), { credentials, csrfToken })).toMatchObject({ ok: false, status: 403 });
    expect(guardRequest(post({ ...auth, 'x-csrf-token': csrfToken }), { credentials, csrfToken })).toEqual({ ok: true });
  });

  test('without credentials (loopback) a state change still needs the token', () => {
    expect(guardRequest(post({}), { csrfToken })).toMatchObject({ ok: false, status: 403 });
    expect(guardRequest(post({ 'x-csrf-token': csrfToken }), { csrfToken })).toEqual({ ok: true });
  });

  test('another origin, a form body or another method is refused even with the token', () => {
    const token = { 'x-csrf-token': csrfToken };
    expect(guardRequest(post({ ...token, origin: 'https://evil.example' }), { csrfToken })).toEqual({ ok: false, status: 403, reason: 'cross-origin request from https://evil.example refused' });
    expect(guardRequest(post({ ...token, origin: 'http://dash:5555' }), { csrfToken })).toEqual({ ok: true });
    expect(guardRequest(post({ ...token, 'content-type': 'application/x-www-form-urlencoded' }), { csrfToken })).toMatchObject({ ok: false, status: 400 });
    expect(guardRequest({ method: 'DELETE', headers: { ...token } }, { csrfToken })).toEqual({ ok: false, status: 405, reason: 'method DELETE is not allowed' });
  });

  test('a loopback dashboard answers only to its own Host names (no DNS rebinding)', () => {
    const allowedHosts = loopbackHosts('127.0.0.1', 5555);
    expect([...allowedHosts].sort()).toEqual(['127.0.0.1:5555', '[::1]:5555', 'localhost:5555']);
    expect(guardRequest({ method: 'GET', headers: { host: 'localhost:5555' } }, { csrfToken, allowedHosts })).toEqual({ ok: true });
    expect(guardRequest({ method: 'GET', headers: { host: 'attacker.example:5555' } }, { csrfToken, allowedHosts })).toEqual({
      ok: false,
      status: 403,
      reason: 'the Host "attacker.example:5555" is not one this dashboard serves',
    });
  });
});
