/// <reference lib="dom" />
// (page.evaluate and waitForFunction run their functions in the page: DOM types for those.)
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { connect } from 'amqplib';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { createApp, createLogger, TaskRevokedError, type App } from '../../src';
import { randomPrefix, waitFor, writeDefinitionsFile } from '../support/broker';
import { createTestVhost, type TestVhost } from '../support/vhost';
import { CLI, REPO_ROOT, runCli, startTestWorker, type WorkerProcess } from '../support/worker-process';

/*
 * `warren dashboard` in a real browser (Debian's chromium driven by puppeteer-core) against a
 * real broker, in a virtual host of its own (events and remote control are broadcasts): a
 * `warren worker -E` process, the dashboard process, tasks sent by a client with task-sent
 * events on. Each step clicks what a person would click and checks what reached the broker,
 * the schedule store or the client, besides what the page shows.
 */

const CHROMIUM = process.env.WARREN_TEST_CHROMIUM ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  // Only this: everything else these tests need is the broker every integration test needs.
  console.warn(`dashboard browser tests SKIPPED: no chromium at ${CHROMIUM} (apt-get install -y chromium, as .ci/run does; or set WARREN_TEST_CHROMIUM)`);
}
const describeWithBrowser = haveChromium ? describe : describe.skip;

/** A `warren dashboard` process; `url` once it logged "dashboard listening". */
class DashboardProcess {
  readonly child: ChildProcess;
  readonly url: Promise<string>;
  readonly exited: Promise<number | null>;
  logs = '';

  constructor(args: readonly string[]) {
    this.child = spawn(process.execPath, [CLI, 'dashboard', ...args], { env: { ...process.env, WARREN_LOG_FORMAT: 'json' }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (chunk: Buffer) => (this.logs += chunk.toString()));
    this.exited = new Promise((done) => this.child.once('exit', (code) => done(code)));
    this.url = new Promise((done, fail) => {
      this.child.stderr!.on('data', (chunk: Buffer) => {
        this.logs += chunk.toString();
        const line = this.logs.split('\n').find((l) => l.includes('"dashboard listening"'));
        if (line) done((JSON.parse(line) as { url: string }).url);
      });
      void this.exited.then((code) => fail(new Error(`the dashboard exited with ${code} before it listened:\n${this.logs}`)));
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    await this.exited;
  }
}

describeWithBrowser('warren dashboard in a real browser (chromium, a worker process, a vhost of its own)', () => {
  const prefix = randomPrefix('dash');
  const queues = { work: `${prefix}.work`, idle: `${prefix}.idle` };
  const dlq = { work: `${queues.work}.dlq`, idle: `${queues.idle}.dlq` };
  const names = { deal1: `${prefix}.app1.tasks1.deal1`, fail: `${prefix}.fail`, slow: `${prefix}.slow`, unknown: `${prefix}.nosuch` };
  const entry = `${prefix}-tick`;
  const workerName = `w1@${prefix}`;
  let vhost: TestVhost;
  let defs: ReturnType<typeof writeDefinitionsFile>;
  let store: string;
  let worker: WorkerProcess;
  let dashboard: DashboardProcess;
  let secured: DashboardProcess | undefined;
  let app: App;
  let browser: Browser;
  let page: Page;
  let url: string;

  /** Ready messages of a queue, asked of the broker. */
  async function depth(queue: string): Promise<number> {
    const [check] = await app.checkQueues([queue]);
    if (check.missing) throw new Error(`queue ${queue} is not on the broker`);
    return check.messages;
  }

  async function show(view: string): Promise<void> {
    await page.goto(`${url}#/${view}`);
    await page.waitForSelector('#status.live', { timeout: 10_000 });
  }

  /** The page's text of an element, once `selector` matches. */
  async function textOf(selector: string, timeout = 15_000): Promise<string> {
    const handle = await page.waitForSelector(selector, { timeout });
    return (await handle!.evaluate((node) => node.textContent ?? '')).trim();
  }

  beforeAll(async () => {
    vhost = await createTestVhost('dash');
    const exchange = (name: string) => ({ name, type: 'direct' });
    defs = writeDefinitionsFile({
      broker: { url: vhost.url },
      exchanges: [exchange(queues.work), exchange(queues.idle)],
      queues: [
        { name: queues.work, exchange: queues.work, routingKey: queues.work, deadLetterQueue: true },
        { name: queues.idle, exchange: queues.idle, routingKey: queues.idle, deadLetterQueue: true },
      ],
      defaultQueue: queues.work,
      routes: { [`${prefix}.*`]: { queue: queues.work, routingKey: queues.work } },
      schedule: { [entry]: { task: names.deal1, every: '1h', args: ['tick'] } },
    });
    store = join(defs.dir, 'beat-state.json');
    app = createApp({ definitions: defs.file, logger: createLogger({ level: 'silent' }), taskSendSentEvent: true, scheduleStore: store });
    await app.declareTopology();
    worker = startTestWorker({ prefix, definitions: defs.file, queues: [queues.work], name: workerName, concurrency: 1, extraArgs: ['-E'] });
    await worker.ready;
    dashboard = new DashboardProcess(['--definitions', defs.file, '--port', '0', '--store', store, '--refresh', '500ms', '-l', 'info']);
    url = await dashboard.url;
    browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
    page = await browser.newPage();
    await page.setViewport({ width: 1400, height: 820 });
    page.on('dialog', (dialog) => void dialog.accept());
  }, 90_000);

  afterAll(async () => {
    await browser?.close().catch(() => undefined);
    await secured?.stop();
    await dashboard?.stop();
    await worker?.stop();
    await app?.close();
    defs?.remove();
    await vhost?.remove();
  }, 60_000);

  test('Workers shows the worker online with its queue and pool, from its heartbeats and inspect', async () => {
    await show('workers');
    const row = `tr[data-worker="${workerName}"]`;
    expect(await textOf(`${row} .badge`)).toBe('online');
    await page.waitForFunction((selector: string, queue: string) => document.querySelector(selector)?.textContent?.includes(queue), { timeout: 15_000 }, row, queues.work);
    const text = await textOf(row);
    expect(text).toContain('warren:async');
    expect(text).toContain('warren 0.1.0');
  });

  test('Tasks shows tasks reaching SUCCESS and FAILURE, arguments as text (never markup), a failure with its traceback', async () => {
    const hostile = '<img src=x onerror="window.__pwned=1">';
    const ok = await app.sendTask<string>(names.deal1, [hostile]);
    const bad = await app.sendTask(names.fail, ['boom <b>bold</b>']);
    expect(await ok.get({ timeout: 10_000 })).toBe(`${hostile}=======`);
    await expect(bad.get({ timeout: 10_000 })).rejects.toThrow('boom');
    await show('tasks');
    await page.waitForSelector(`tr[data-id="${ok.id}"][data-state="SUCCESS"]`, { timeout: 15_000 });
    await page.waitForSelector(`tr[data-id="${bad.id}"][data-state="FAILURE"]`, { timeout: 15_000 });
    expect(await textOf(`tr[data-id="${ok.id}"] td:nth-child(7)`)).toBe(`['${hostile}']`);
    expect(await page.$$('main img, main b')).toHaveLength(0);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    // Filters: by state, then by id.
    await page.select('select[aria-label="state"]', 'FAILURE');
    await page.waitForFunction((id: string) => document.querySelectorAll('tbody tr[data-id]').length === 1 && document.querySelector(`tr[data-id="${id}"]`) !== null, { timeout: 10_000 }, bad.id);
    await page.select('select[aria-label="state"]', '');
    await page.type('input[aria-label="task id"]', ok.id.slice(0, 13));
    await page.waitForFunction((id: string) => document.querySelectorAll('tbody tr[data-id]').length === 1 && document.querySelector(`tr[data-id="${id}"]`) !== null, { timeout: 10_000 }, ok.id);
    // The task's own page: its exception and traceback.
    await page.goto(`${url}#/task/${bad.id}`);
    expect(await textOf('main pre')).toMatch(/^Error: boom <b>bold<\/b>\n\s+at /);
    expect(await textOf('dl.fields')).toContain("Exception('boom <b>bold</b>')");
    expect(await page.$$('main b')).toHaveLength(0);
  });

  test('Queues shows the depth the broker holds', async () => {
    for (let i = 0; i < 3; i++) await app.sendTask(names.deal1, [`waiting ${i}`], {}, { queue: queues.idle, ignoreResult: true });
    expect(await depth(queues.idle)).toBe(3);
    await show('queues');
    await page.waitForFunction((selector: string) => document.querySelector(selector)?.textContent === '3', { timeout: 15_000 }, `tr[data-queue="${queues.idle}"] td:nth-child(2)`);
    expect(await textOf(`tr[data-queue="${queues.idle}"] td:nth-child(4)`)).toBe('0'); // no consumer
    expect(await textOf(`tr[data-queue="${queues.work}"] td:nth-child(4)`)).toBe('1');
    expect(await page.$(`tr[data-queue="${queues.idle}"] svg path`)).not.toBeNull();
  });

  test('Revoke on a queued task: the worker discards it when it comes round, and the page shows REVOKED', async () => {
    // Concurrency 1, prefetch 1: while `slow` runs, `later` waits in the queue (known from its task-sent event).
    const slow = await app.sendTask(names.slow, ['hold', 5000]);
    const later = await app.sendTask(names.deal1, ['later']);
    await show('tasks');
    const revoke = `tr[data-id="${later.id}"] button[data-action="revoke"]`;
    await page.waitForSelector(`tr[data-id="${later.id}"][data-state="PENDING"]`, { timeout: 10_000 });
    await page.click(revoke);
    await page.waitForSelector(`tr[data-id="${later.id}"][data-state="REVOKED"]`, { timeout: 20_000 });
    await expect(later.get({ timeout: 10_000 })).rejects.toThrow(TaskRevokedError);
    await expect(slow.get({ timeout: 10_000 })).resolves.toMatchObject({ label: 'hold' });
  }, 60_000);

  test('Schedule: Disable and Enable change the entry in the schedule store', async () => {
    await show('schedule');
    const row = `tr[data-entry="${entry}"]`;
    expect(await textOf(`${row} .badge`)).toBe('enabled');
    expect(await textOf(`${row} button[data-action="toggle"]`)).toBe('Disable');
    await page.click(`${row} button[data-action="toggle"]`);
    await page.waitForSelector(`${row}[data-enabled="false"]`, { timeout: 10_000 });
    expect((await app.schedules.show(entry)).enabled).toBe(false);
    await page.click(`${row} button[data-action="toggle"]`);
    await page.waitForSelector(`${row}[data-enabled="true"]`, { timeout: 10_000 });
    expect((await app.schedules.show(entry)).enabled).toBe(true);
  });

  test('Dead letters: a rejected task with its x-warren-reason; Delete removes it, Requeue sends one back to its queue', async () => {
    const unknown = await app.sendTask(names.unknown, ['x'], {}, { ignoreResult: true });
    await waitFor('the unknown task to be dead-lettered', async () => (await depth(dlq.work)) === 1, 15_000);
    await show(`dead-letters/${dlq.work}`);
    const row = `tr[data-task="${unknown.id}"]`;
    expect(await textOf(`${row} td:nth-child(3)`)).toBe(`task "${names.unknown}" is not registered on this worker`);
    expect(await textOf(`${row} td:nth-child(4)`)).toBe(queues.work);
    await page.click(`${row} button[data-action="delete"]`); // the confirm dialog is accepted
    await page.waitForFunction((selector: string) => document.querySelector(selector) === null, { timeout: 10_000 }, row);
    expect(await depth(dlq.work)).toBe(0);

    // A dead letter of the idle queue (no consumer there, so it stays where requeue puts it).
    const connection = await connect(vhost.url);
    const channel = await connection.createConfirmChannel();
    await new Promise<void>((done, fail) =>
      channel.publish(dlq.idle, '', Buffer.from('[["again"],{},{}]'), { contentType: 'application/json', headers: { id: 'dead-1', task: names.deal1, 'x-warren-reason': 'a test put it here', 'x-warren-queue': queues.idle } }, (err) => (err ? fail(err) : done())),
    );
    await connection.close();
    const before = await depth(queues.idle);
    await show(`dead-letters/${dlq.idle}`);
    expect(await textOf('tr[data-task="dead-1"] td:nth-child(3)')).toBe('a test put it here');
    await page.click('tr[data-task="dead-1"] button[data-action="requeue"]');
    await page.waitForFunction(() => document.querySelector('tr[data-task="dead-1"]') === null, { timeout: 10_000 });
    expect(await depth(dlq.idle)).toBe(0);
    expect(await depth(queues.idle)).toBe(before + 1);
  });

  test('a screenshot of the Tasks view', async () => {
    await show('tasks');
    await page.waitForSelector('.chart svg rect', { timeout: 10_000 });
    await page.waitForFunction(() => document.querySelectorAll('tbody tr[data-id]').length >= 6, { timeout: 10_000 });
    await page.evaluate(() => void (document.getElementById('flash')!.hidden = true));
    await page.setViewport({ width: 1680, height: 820 });
    const file = join(tmpdir(), `warren-dashboard-${prefix}.png`);
    await page.screenshot({ path: file });
    // WARREN_DASHBOARD_SCREENSHOT=docs/dashboard.png keeps it (the README's picture comes from here).
    if (process.env.WARREN_DASHBOARD_SCREENSHOT) copyFileSync(file, resolve(REPO_ROOT, process.env.WARREN_DASHBOARD_SCREENSHOT));
    expect(existsSync(file)).toBe(true);
  });

  test('a non-loopback bind needs --auth (exit 2); there, a state change without credentials or without the CSRF token is refused', async () => {
    const refused = await runCli(['dashboard', '--definitions', defs.file, '--host', '0.0.0.0', '--port', '0']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--host 0.0.0.0 is reachable from other machines: give --auth user:password or --auth-file');

    secured = new DashboardProcess(['--definitions', defs.file, '--host', '0.0.0.0', '--port', '0', '--auth', 'admin:s3cret', '--store', store, '-l', 'info']);
    const port = new URL(await secured.url).port;
    const base = `http://127.0.0.1:${port}`;
    const disable = `/api/schedule/${encodeURIComponent(entry)}/disable`;

    // A browser without credentials: the page is refused. Chromium meets the 401 challenge with
    // nobody to ask and fails the navigation with ERR_INVALID_AUTH_CREDENTIALS (whether it also
    // reports the 401 response to puppeteer varies, so the status is checked with fetch below).
    const stranger = await browser.createBrowserContext();
    const anonymous = await stranger.newPage();
    await expect(anonymous.goto(`${base}/`)).rejects.toThrow(/ERR_INVALID_AUTH_CREDENTIALS/);
    await stranger.close();

    // With credentials: the page loads; a POST without the page's CSRF token is refused, with it it goes through.
    const member = await browser.createBrowserContext();
    const signedIn = await member.newPage();
    await signedIn.authenticate({ username: 'admin', password: 's3cret' });
    expect((await signedIn.goto(`${base}/#/schedule`))!.status()).toBe(200);
    await signedIn.waitForSelector('#status.live', { timeout: 10_000 });
    const statuses = await signedIn.evaluate(async (path: string) => {
      const post = (headers: Record<string, string>) => fetch(path, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: '{}' }).then((r) => r.status);
      const token = document.querySelector('meta[name="csrf-token"]')!.getAttribute('content')!;
      return { noToken: await post({}), wrongToken: await post({ 'X-CSRF-Token': `${token}x` }) };
    }, disable);
    expect(statuses).toEqual({ noToken: 403, wrongToken: 403 });
    expect((await app.schedules.show(entry)).enabled).toBe(true);
    await signedIn.click(`tr[data-entry="${entry}"] button[data-action="toggle"]`);
    await signedIn.waitForSelector(`tr[data-entry="${entry}"][data-enabled="false"]`, { timeout: 10_000 });
    expect((await app.schedules.show(entry)).enabled).toBe(false);
    await member.close();

    // From outside any browser: no credentials, 401; credentials and the token from another origin, 403.
    const raw = await fetch(`${base}${disable.replace('disable', 'enable')}`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': 'guessed' }, body: '{}' });
    expect(raw.status).toBe(401);
    expect(raw.headers.get('www-authenticate')).toContain('Basic');
    const authorization = `Basic ${Buffer.from('admin:s3cret').toString('base64')}`;
    const page = await (await fetch(`${base}/`, { headers: { authorization } })).text();
    const token = /<meta name="csrf-token" content="([^"]+)">/.exec(page)![1];
    const crossSite = await fetch(`${base}${disable.replace('disable', 'enable')}`, {
      method: 'POST',
      headers: { authorization, 'Content-Type': 'application/json', 'X-CSRF-Token': token, Origin: 'https://evil.example' },
      body: '{}',
    });
    expect(crossSite.status).toBe(403);
    expect((await app.schedules.show(entry)).enabled).toBe(false);
  }, 60_000);
});
