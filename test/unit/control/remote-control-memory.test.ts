import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AsyncResult, type TaskContext } from '../../../src';
import { TaskFailedError, TaskRevokedError } from '../../../src/errors';
import { EventReceiver, LamportClock, type CeleryEvent } from '../../../src/control';
import { createTransport } from '../../../src/transport';
import { captureLogger } from '../../support/capture-logger';
import { silent, until } from '../../support/memory';
import { gate, memoryApp, publishTask, type MemoryApp } from '../../support/memory-app';

/*
 * Remote control and Celery events of a warren worker on the memory broker: the same pidbox
 * and celeryev wire as on RabbitMQ (kombu's Mailbox, Celery's events), with the app's own
 * control client on the other end, in milliseconds.
 */

let env: MemoryApp;

/** Commands for the one worker `w1@test`: done as soon as it replied (a busy machine gets 5 s). */
const W1 = { destination: ['w1@test'], timeoutMs: 5000 };

afterEach(async () => {
  await env?.close();
});

/** An event receiver on the env's broker: every Celery event, in order. */
async function receiveEvents(url: string): Promise<{ events: CeleryEvent[]; types: () => string[]; close: () => Promise<void> }> {
  const transport = createTransport({ urls: [url], logger: silent });
  const events: CeleryEvent[] = [];
  const receiver = new EventReceiver({ transport, clock: new LamportClock(), logger: silent, onEvent: (e) => events.push(e) });
  await receiver.start();
  return {
    events,
    types: () => events.map((e) => e.type),
    close: async () => {
      await receiver.close();
      await transport.close();
    },
  };
}

describe('remote control of a warren worker (memory://)', () => {
  test('inspect ping, registered, stats and active_queues answer in Celery shapes', async () => {
    env = memoryApp();
    env.app.task('math.add', async (a: number, b: number) => a + b);
    env.app.task('math.mul', async (a: number, b: number) => a * b);
    await env.app.startWorker({ queues: ['jobs'], concurrency: 2, hostname: 'w1@test' });
    const inspect = env.app.control.inspect(W1);
    expect(await inspect.ping()).toEqual({ 'w1@test': { ok: 'pong' } });
    expect(await inspect.registered()).toEqual({ 'w1@test': ['math.add', 'math.mul'] });
    const stats = (await inspect.stats())['w1@test'];
    expect(stats).toMatchObject({
      pid: process.pid,
      total: {},
      prefetch_count: 2,
      pool: { 'max-concurrency': 2, processes: [process.pid] },
      broker: { transport: 'memory' },
      sw_ident: 'warren',
    });
    expect(typeof stats.clock).toBe('string');
    expect(typeof (stats.rusage as Record<string, unknown>).utime).toBe('number');
    const [queue] = (await inspect.activeQueues())['w1@test'];
    expect(queue).toMatchObject({ name: 'jobs', exchange: { name: 'jobs', type: 'direct' }, routing_key: 'jobs', durable: true, no_ack: false });
    // conf: the settings under Celery's names, as Flower shows them.
    expect((await inspect.conf())['w1@test']).toMatchObject({
      worker_concurrency: 2,
      worker_prefetch_multiplier: 1,
      worker_autoscaler: null,
      worker_max_tasks_per_child: null,
      task_time_limit: null,
      task_acks_late: true,
      task_queues: ['jobs'],
      warren_pool: 'async',
    });
  });

  test('a destination that names another node gets no reply; one naming this node does', async () => {
    env = memoryApp();
    await env.app.startWorker({ queues: ['jobs'], concurrency: 1, hostname: 'w1@test' });
    expect(await env.app.control.inspect({ destination: ['nobody@x'], timeoutMs: 100 }).ping()).toEqual({});
    expect(await env.app.control.inspect(W1).ping()).toEqual({ 'w1@test': { ok: 'pong' } });
    expect(await env.app.control.inspect({ pattern: 'w1@*', timeoutMs: 5000, limit: 1 }).ping()).toEqual({ 'w1@test': { ok: 'pong' } });
    expect(await env.app.control.inspect({ pattern: 'w2@*', timeoutMs: 100 }).ping()).toEqual({});
  });

  test('active, reserved and query_task show what the worker holds, with Celery request info', async () => {
    env = memoryApp();
    const hold = gate();
    env.app.task('slow', async (n: number) => {
      await hold.wait;
      return n;
    });
    await env.app.startWorker({ queues: ['jobs'], concurrency: 1, prefetchMultiplier: 2, hostname: 'w1@test' });
    const running = await env.app.sendTask('slow', [1]);
    const waiting = await env.app.sendTask('slow', [2]);
    const inspect = env.app.control.inspect(W1);
    await until(() => env.broker.queue('jobs')?.unackedCount === 2, 'both delivered');
    const active = (await inspect.active())['w1@test'];
    expect(active).toEqual([
      {
        id: running.id,
        name: 'slow',
        args: [1],
        kwargs: {},
        type: 'slow',
        hostname: 'w1@test',
        time_start: expect.any(Number),
        acknowledged: false,
        delivery_info: { exchange: 'jobs', routing_key: 'jobs', priority: 0, redelivered: false },
        worker_pid: process.pid,
      },
    ]);
    const reserved = (await inspect.reserved())['w1@test'];
    expect(reserved).toEqual([expect.objectContaining({ id: waiting.id, args: [2], time_start: null, worker_pid: null })]);
    expect((await inspect.active(true))['w1@test'][0]).toMatchObject({ args: '[1]', kwargs: '{}' });
    const query = (await inspect.queryTask(running.id, waiting.id, 'unknown'))['w1@test'];
    expect(Object.keys(query).sort()).toEqual([running.id, waiting.id].sort());
    expect(query[running.id][0]).toBe('active');
    expect(query[waiting.id][0]).toBe('reserved');
    hold.open();
    expect(await running.get({ timeout: 2000 })).toBe(1);
    expect(await waiting.get({ timeout: 2000 })).toBe(2);
    expect((await inspect.stats())['w1@test'].total).toEqual({ slow: 2 });
  });

  test("AsyncResult.revoke() as Celery's: a queued task and an ignored-result one are discarded when they arrive, terminate ends a running one; a group revokes every member", async () => {
    env = memoryApp();
    const hold = gate();
    const ran: string[] = [];
    env.app.task('hold', async (ctx: TaskContext, label: string) => {
      ran.push(label);
      await Promise.race([hold.wait, new Promise((resolve) => ctx.signal.addEventListener('abort', resolve))]);
      return label;
    }, { bind: true });
    const worker = await env.app.startWorker({ queues: ['jobs'], concurrency: 1, hostname: 'w1@test' });
    const running = await env.app.sendTask('hold', ['running']);
    await until(() => ran.length === 1, 'the first run');
    const queued = await env.app.sendTask('hold', ['queued']);
    const ignored = await env.app.sendTask('hold', ['ignored'], {}, { ignoreResult: true });
    await queued.revoke();
    await ignored.revoke({ wait: true });
    await running.revoke({ terminate: true, wait: true });
    await expect(running.get({ timeout: 5000 })).rejects.toThrow(TaskRevokedError);
    await expect(queued.get({ timeout: 5000 })).rejects.toThrow(TaskRevokedError);
    expect(queued.failed).toBe(false);
    expect(queued.successful).toBe(false);
    await until(() => worker.stats.revoked === 3, 'all three revoked');
    expect(ran).toEqual(['running']);

    // A group sent while the slot is taken: revoked before its members arrive.
    const blocker = await env.app.sendTask('hold', ['blocker']);
    await until(() => ran.includes('blocker'), 'the blocker to run');
    const group = await env.app.group(env.app.signature('hold', ['g1']), env.app.signature('hold', ['g2'])).apply();
    await group.revoke({ wait: true });
    hold.open();
    expect(await blocker.get({ timeout: 5000 })).toBe('blocker');
    expect(blocker.successful).toBe(true);
    await expect(group.get({ timeout: 5000 })).rejects.toThrow(TaskRevokedError);
    await until(() => worker.stats.revoked === 5, 'the group members revoked');
    expect(ran).toEqual(['running', 'blocker']);
    await expect(new AsyncResult('made-by-hand', undefined).revoke()).rejects.toThrow("revoke(): the result of task made-by-hand was not made by an app, which sends the revoke; use app.control.revoke('made-by-hand')");
  });

  test('time_limit sets a task\'s limits on the worker, over its own options; a message\'s own limit still wins', async () => {
    env = memoryApp();
    env.app.task('nap', async (ms: number) => {
      await new Promise((resolve) => setTimeout(resolve, ms));
      return 'woke';
    }, { timeLimit: 60 });
    await env.app.startWorker({ queues: ['jobs'], concurrency: 1, hostname: 'w1@test' });
    expect(await (await env.app.sendTask('nap', [200])).get({ timeout: 5000 })).toBe('woke');

    expect(await env.app.control.timeLimit('nap', { soft: 0.05, hard: 0.1 }, W1)).toEqual([{ 'w1@test': { ok: 'time limits set successfully' } }]);
    const limited = await env.app.sendTask('nap', [200]);
    const failure = await limited.get({ timeout: 5000 }).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(TaskFailedError);
    expect((failure as TaskFailedError).remoteType).toBe('TimeLimitExceeded');
    // The message's own hard limit (sendTask timeLimit) wins over the worker's.
    expect(await (await env.app.sendTask('nap', [200], {}, { timeLimit: 5, softTimeLimit: 5 })).get({ timeout: 5000 })).toBe('woke');

    expect(await env.app.control.timeLimit('nope', { hard: 1 }, W1)).toEqual([{ 'w1@test': { error: 'unknown task' } }]);
    expect(await env.app.control.broadcast('time_limit', { task_name: 'nap', hard: -1 }, W1)).toEqual([
      { 'w1@test': { error: 'time_limit: hard must be a number of seconds above 0 (got number -1)' } },
    ]);
  });

  test('revoke of a queued task: REVOKED when it arrives, never run; inspect revoked lists it', async () => {
    env = memoryApp();
    let runs = 0;
    env.app.task('counted', async () => (runs += 1));
    const worker = await env.app.startWorker({ queues: ['jobs'], concurrency: 1, hostname: 'w1@test' });
    const replies = await env.app.control.revoke('t-1', W1);
    expect(replies).toEqual([{ 'w1@test': { ok: 'tasks t-1 flagged as revoked' } }]);
    const result = await env.app.sendTask('counted', [], {}, { taskId: 't-1' });
    await expect(result.get({ timeout: 2000 })).rejects.toThrow(TaskRevokedError);
    expect(result.state).toBe('REVOKED');
    expect(runs).toBe(0);
    expect(worker.stats.revoked).toBe(1);
    expect(await env.app.control.inspect(W1).revoked()).toEqual({ 'w1@test': ['t-1'] });
  });

  test('revoke of a prefetched task: REVOKED at once, while the running one goes on', async () => {
    env = memoryApp();
    const hold = gate();
    const ran: number[] = [];
    env.app.task('slow', async (n: number) => {
      ran.push(n);
      await hold.wait;
      return n;
    });
    await env.app.startWorker({ queues: ['jobs'], concurrency: 1, prefetchMultiplier: 2, hostname: 'w1@test' });
    const running = await env.app.sendTask('slow', [1]);
    const prefetched = await env.app.sendTask('slow', [2]);
    await until(() => env.broker.queue('jobs')?.unackedCount === 2, 'both delivered');
    await env.app.control.revoke(prefetched.id, W1);
    await expect(prefetched.get({ timeout: 2000 })).rejects.toThrow('revoked');
    expect(running.state).toBe('PENDING');
    hold.open();
    expect(await running.get({ timeout: 2000 })).toBe(1);
    expect(ran).toEqual([1]);
  });

  test('revoke with terminate: the running task is ended, its signal aborted, REVOKED (terminated); the slot goes on', async () => {
    env = memoryApp();
    let aborted: unknown;
    env.app.task(
      'forever',
      async (ctx) => {
        await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
        aborted = ctx.signal.reason;
        return 'ignored';
      },
      { bind: true },
    );
    env.app.task('after', async () => 'ran');
    const worker = await env.app.startWorker({ queues: ['jobs'], concurrency: 1, hostname: 'w1@test' });
    const endless = await env.app.sendTask('forever');
    await until(() => worker.active === 1, 'the run');
    const replies = await env.app.control.terminate(endless.id, W1);
    expect(replies).toEqual([{ 'w1@test': { ok: `terminate: ${endless.id}` } }]);
    const error = await endless.get({ timeout: 2000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TaskRevokedError);
    expect((error as Error).message).toContain('terminated');
    expect(aborted).toBeInstanceOf(TaskRevokedError);
    expect(await (await env.app.sendTask('after')).get({ timeout: 2000 })).toBe('ran');
    expect(await env.app.control.terminate('not-running', W1)).toEqual([{ 'w1@test': { ok: 'terminate: tasks unknown' } }]);
  });

  test('revoke with terminate and a signal this system does not know: an error reply, nothing revoked or ended', async () => {
    env = memoryApp();
    const release = gate();
    env.app.task('held', async () => {
      await release.wait;
      return 'finished';
    });
    const worker = await env.app.startWorker({ queues: ['jobs'], concurrency: 1, hostname: 'w1@test' });
    const held = await env.app.sendTask('held');
    await until(() => worker.active === 1, 'the run');
    expect(await env.app.control.terminate(held.id, { ...W1, signal: 'SIGKIL' })).toEqual([
      { 'w1@test': { error: 'signal must be a signal name such as SIGTERM or KILL, or its number (got string "SIGKIL")' } },
    ]);
    expect((await env.app.control.inspect(W1).revoked())['w1@test']).toEqual([]);
    release.open();
    expect(await held.get({ timeout: 2000 })).toBe('finished');
    expect(await env.app.control.terminate('not-running', { ...W1, signal: 'kill' })).toEqual([{ 'w1@test': { ok: 'terminate: tasks unknown' } }]);
  });

  test('a worker that starts later learns revoked ids from the others (mingle)', async () => {
    env = memoryApp();
    let runs = 0;
    env.app.task('counted', async () => (runs += 1));
    await env.app.startWorker({ queues: ['jobs'], concurrency: 1, hostname: 'w1@test' });
    await env.app.control.revoke(['r-1', 'r-2'], W1);
    const second = await env.app.startWorker({ queues: ['jobs'], concurrency: 1, hostname: 'w2@test' });
    expect((await env.app.control.inspect({ destination: ['w2@test'], timeoutMs: 5000 }).revoked())['w2@test'].sort()).toEqual(['r-1', 'r-2']);
    // Only the second worker consumes now: it must not run a task revoked before it started.
    await env.app.control.cancelConsumer('jobs', W1);
    const result = await env.app.sendTask('counted', [], {}, { taskId: 'r-2' });
    await expect(result.get({ timeout: 2000 })).rejects.toThrow(TaskRevokedError);
    expect(runs).toBe(0);
    expect(second.stats.revoked).toBe(1);
  });

  test('add_consumer and cancel_consumer: only queues of the definitions; a worker consumes what it was told', async () => {
    env = memoryApp({ extra: { queues: [{ name: 'jobs', exchange: 'jobs', routingKey: 'jobs' }, { name: 'more' }] } });
    env.app.task('echo', async (x: string) => x);
    const worker = await env.app.startWorker({ queues: ['jobs'], concurrency: 1, hostname: 'w1@test' });
    const control = env.app.control;
    expect(await control.addConsumer('nope', W1)).toEqual([
      { 'w1@test': { error: 'add_consumer: unknown queue "nope" (declared queues: jobs, more); warren consumes only queues of its definitions' } },
    ]);
    expect(await control.addConsumer('more', W1)).toEqual([{ 'w1@test': { ok: 'add consumer more' } }]);
    expect(worker.queues.map((q) => q.name)).toEqual(['jobs', 'more']);
    expect((await control.inspect(W1).activeQueues())['w1@test'].map((q) => q.name)).toEqual(['jobs', 'more']);
    expect(await (await env.app.sendTask('echo', ['via more'], {}, { queue: 'more' })).get({ timeout: 2000 })).toBe('via more');
    expect(await control.cancelConsumer('jobs', W1)).toEqual([{ 'w1@test': { ok: 'no longer consuming from jobs' } }]);
    await env.app.sendTask('echo', ['stays'], {}, { queue: 'jobs', ignoreResult: true });
    await until(() => env.broker.queue('jobs')?.messageCount === 1, 'the task waiting in jobs');
    expect(env.broker.queue('jobs')?.consumerCount).toBe(0);
  });

  test('shutdown stops the worker: it replies, finishes, goes offline; inspect no longer reaches it', async () => {
    env = memoryApp();
    const worker = await env.app.startWorker({ queues: ['jobs'], concurrency: 1, hostname: 'w1@test' });
    const closed = new Promise((resolve) => worker.on('closed', resolve));
    expect(await env.app.control.shutdown(W1)).toEqual([{ 'w1@test': { ok: 'shutting down' } }]);
    await closed;
    await until(() => env.broker.queue('w1@test.celery.pidbox') === undefined, 'the node queue gone (auto-delete)');
    expect(await env.app.control.inspect({ timeoutMs: 100 }).ping()).toEqual({});
  });

  test('malformed control messages are ignored with a logged reason; the worker answers the next one', async () => {
    const { logger, lines } = captureLogger();
    env = memoryApp({}, { logger });
    await env.app.startWorker({ queues: ['jobs'], concurrency: 1, hostname: 'w1@test' });
    const json = { contentType: 'application/json', contentEncoding: 'utf-8' };
    env.broker.publish('celery.pidbox', '', Buffer.from('not json'), json);
    env.broker.publish('celery.pidbox', '', Buffer.from('[1, 2]'), json);
    env.broker.publish('celery.pidbox', '', Buffer.from(JSON.stringify({ method: 'ping', arguments: 'x' })), json);
    env.broker.publish('celery.pidbox', '', Buffer.from(JSON.stringify({ method: 'ping', reply_to: { exchange: 'reply.celery.pidbox' } })), json);
    env.broker.publish('celery.pidbox', '', Buffer.from(JSON.stringify({ method: 'ping' })), { contentType: 'application/x-python-serialize' });
    env.broker.publish('celery.pidbox', '', Buffer.from(JSON.stringify({ method: 'revoke', arguments: { task_id: 42 } })), json);
    await until(() => lines().filter((l) => l.msg === 'malformed control message ignored').length === 6, 'six reasons logged');
    expect(lines().filter((l) => l.msg === 'malformed control message ignored').map((l) => l.reason)).toEqual([
      expect.stringContaining('body is not JSON'),
      'body is not an object (found array of 2 elements)',
      'arguments must be an object (found string "x")',
      'reply_to must be {exchange, routing_key} (found object)',
      'content type string "application/x-python-serialize" is not application/json',
      'task_id must be a task id or a list of them (got number 42)',
    ]);
    expect(await env.app.control.inspect(W1).ping()).toEqual({ 'w1@test': { ok: 'pong' } });
    expect(await env.app.control.broadcast('frobnicate', {}, W1)).toEqual([{ 'w1@test': { error: 'unknown control command "frobnicate"' } }]);
    expect(await env.app.control.broadcast('pool_grow', { n: 1 }, W1)).toEqual([{ 'w1@test': { error: 'pool_grow is not supported by warren: the pool size is fixed (-c)' } }]);
    // rate_limit is carried out: a task this worker does not have, a rate that is none.
    expect(await env.app.control.rateLimit('x', '1/s', W1)).toEqual([{ 'w1@test': { error: 'unknown task' } }]);
    expect(await env.app.control.rateLimit('x', '1/fortnight', W1)).toEqual([
      { 'w1@test': { error: `Invalid rate limit string: a rate limit is a number of tasks per second, or a string like '10/s', '100/m' or '1000/h' (got "1/fortnight")` } },
    ]);
    expect(await env.app.control.broadcast('rate_limit', { rate_limit: '1/s' }, W1)).toEqual([{ 'w1@test': { error: 'rate_limit: task_name must be a task name (got nothing)' } }]);
  });

  test('--statedb: revoked ids survive a restart of the worker', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'warren-statedb-'));
    const stateDb = join(dir, 'worker.state');
    try {
      env = memoryApp();
      let runs = 0;
      env.app.task('counted', async () => (runs += 1));
      await env.app.startWorker({ queues: ['jobs'], concurrency: 1, hostname: 'w1@test', stateDb });
      await env.app.control.revoke('kept-1', W1);
      await env.close();
      const saved = JSON.parse(readFileSync(stateDb, 'utf8')) as { revoked: Array<[string, number]> };
      expect(saved.revoked.map(([id]) => id)).toEqual(['kept-1']);

      env = memoryApp();
      env.app.task('counted', async () => (runs += 1));
      await env.app.startWorker({ queues: ['jobs'], concurrency: 1, hostname: 'w1@test', stateDb });
      const result = await env.app.sendTask('counted', [], {}, { taskId: 'kept-1' });
      await expect(result.get({ timeout: 2000 })).rejects.toThrow(TaskRevokedError);
      expect(runs).toBe(0);

      await env.close();
      writeFileSync(stateDb, 'garbage');
      env = memoryApp();
      await expect(env.app.startWorker({ queues: ['jobs'], concurrency: 1, stateDb })).rejects.toThrow(
        `the worker state file ${stateDb} is not warren's (not JSON: `,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Celery events of a warren worker (memory://)', () => {
  test('without -E: worker-online, heartbeats, worker-offline; no task events', async () => {
    env = memoryApp();
    env.app.task('math.add', async (a: number, b: number) => a + b);
    const events = await receiveEvents(env.url);
    try {
      const worker = await env.app.startWorker({ queues: ['jobs'], concurrency: 1, hostname: 'w1@test' });
      expect(await (await env.app.sendTask('math.add', [2, 3])).get({ timeout: 2000 })).toBe(5);
      await until(() => events.types().includes('worker-online'), 'worker-online');
      await worker.stop();
      await until(() => events.types().includes('worker-offline'), 'worker-offline');
      expect(events.types().filter((t) => t.startsWith('task-'))).toEqual([]);
      const online = events.events.find((e) => e.type === 'worker-online')!;
      expect(Object.keys(online)).toEqual(['hostname', 'utcoffset', 'pid', 'clock', 'freq', 'active', 'processed', 'loadavg', 'sw_ident', 'sw_ver', 'sw_sys', 'timestamp', 'type']);
      expect(online).toMatchObject({ hostname: 'w1@test', pid: process.pid, freq: 2, active: 0, processed: 0, sw_ident: 'warren' });
      const offline = events.events.find((e) => e.type === 'worker-offline')!;
      expect(offline).toMatchObject({ processed: 1, active: 0 });
    } finally {
      await events.close();
    }
  });

  test('with -E: a task\'s full sequence, in Celery 5.2\'s fields; enable_events / disable_events switch it', async () => {
    env = memoryApp();
    env.app.task('math.add', async (a: number, b: number) => a + b);
    env.app.task('boom', async () => {
      throw new RangeError('bad input');
    });
    const events = await receiveEvents(env.url);
    try {
      await env.app.startWorker({ queues: ['jobs'], concurrency: 1, hostname: 'w1@test', taskEvents: true });
      const ok = await env.app.sendTask('math.add', [2, 3], { k: 1 });
      await ok.get({ timeout: 2000 });
      const failed = await env.app.sendTask('boom');
      await failed.get({ timeout: 2000 }).catch(() => undefined);
      await until(() => events.types().filter((t) => t === 'task-failed').length === 1, 'task-failed');
      const of = (id: string): CeleryEvent[] => events.events.filter((e) => e.uuid === id);
      expect(of(ok.id).map((e) => e.type)).toEqual(['task-received', 'task-started', 'task-succeeded']);
      const [received, started, succeeded] = of(ok.id);
      expect(received).toMatchObject({ hostname: 'w1@test', name: 'math.add', args: '[2, 3]', kwargs: "{'k': 1}", retries: 0, eta: null, expires: null, root_id: ok.id, parent_id: null });
      expect(Object.keys(started)).toEqual(['hostname', 'utcoffset', 'pid', 'clock', 'uuid', 'timestamp', 'type']);
      expect(succeeded).toMatchObject({ result: '5', runtime: expect.any(Number) });
      expect((started.clock as number) > (received.clock as number)).toBe(true);
      const failure = of(failed.id).find((e) => e.type === 'task-failed')!;
      expect(failure.exception).toBe("ValueError('bad input')");
      expect(failure.traceback).toContain('RangeError: bad input');

      expect(await env.app.control.disableEvents(W1)).toEqual([{ 'w1@test': { ok: 'task events disabled' } }]);
      const quiet = await env.app.sendTask('math.add', [1, 1]);
      await quiet.get({ timeout: 2000 });
      expect(of(quiet.id)).toEqual([]);
      expect(await env.app.control.enableEvents(W1)).toEqual([{ 'w1@test': { ok: 'task events enabled' } }]);
      expect(await env.app.control.enableEvents(W1)).toEqual([{ 'w1@test': { ok: 'task events already enabled' } }]);
      const loud = await env.app.sendTask('math.add', [1, 2]);
      await loud.get({ timeout: 2000 });
      await until(() => of(loud.id).length === 3, 'the events of the last task');
    } finally {
      await events.close();
    }
  });

  test('revoked and rejected tasks have their events; a client sends task-sent when asked', async () => {
    env = memoryApp({ jobs: { deadLetterQueue: true } }, { taskSendSentEvent: true });
    env.app.task('noop', async () => null);
    const events = await receiveEvents(env.url);
    try {
      await env.app.startWorker({ queues: ['jobs'], concurrency: 1, hostname: 'w1@test', taskEvents: true });
      await env.app.control.revoke('gone-1', W1);
      const revoked = await env.app.sendTask('noop', [7], {}, { taskId: 'gone-1' });
      await revoked.get({ timeout: 2000 }).catch(() => undefined);
      publishTask(env.broker, 'jobs', { task: 'no.such.task', id: 'unknown-1' });
      await until(() => events.types().includes('task-rejected'), 'task-rejected');
      await until(() => events.types().includes('task-revoked'), 'task-revoked');
      // Events go out on a channel of their own, fire and forget: in no set order with the others.
      await until(() => events.types().includes('task-sent'), 'task-sent');
      expect(events.events.find((e) => e.type === 'task-revoked')).toMatchObject({ uuid: 'gone-1', terminated: false, signum: null, expired: false });
      expect(events.events.find((e) => e.type === 'task-rejected')).toMatchObject({ uuid: 'unknown-1', requeue: false });
      const sent = events.events.find((e) => e.type === 'task-sent')!;
      expect(sent).toMatchObject({ uuid: 'gone-1', name: 'noop', args: '[7]', kwargs: '{}', retries: 0, queue: 'jobs', exchange: 'jobs', routing_key: 'jobs', parent_id: null, root_id: 'gone-1' });
      expect(String(sent.hostname)).toMatch(/^gen\d+@/);
    } finally {
      await events.close();
    }
  });
});

describe('remote control and events across a broker restart (memory://)', () => {
  test('after the broker restarts (non-durable pidbox exchange and queues gone), the worker answers again and its heartbeats resume', async () => {
    env = memoryApp();
    env.app.task('math.add', async (a: number, b: number) => a + b);
    await env.app.startWorker({ queues: ['jobs'], concurrency: 1, hostname: 'w1@test', taskEvents: true });
    expect(await env.app.control.inspect(W1).ping()).toEqual({ 'w1@test': { ok: 'pong' } });
    env.broker.stop();
    expect(env.broker.queue('w1@test.celery.pidbox')).toBeUndefined();
    env.broker.start();
    await until(() => env.broker.queue('w1@test.celery.pidbox')?.consumerCount === 1, 'the node queue declared and consumed again', 10_000);
    expect(await env.app.control.inspect(W1).ping()).toEqual({ 'w1@test': { ok: 'pong' } });
    const events = await receiveEvents(env.url);
    try {
      await until(() => events.types().includes('worker-heartbeat'), 'a heartbeat after the restart', 5000);
      const result = await env.app.sendTask('math.add', [1, 2]);
      expect(await result.get({ timeout: 5000 })).toBe(3);
      await until(() => events.events.some((e) => e.uuid === result.id && e.type === 'task-succeeded'), 'its task events');
    } finally {
      await events.close();
    }
  });
});
