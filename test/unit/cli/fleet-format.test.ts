import { formatControl, formatInspect, formatStatus, nodeStatus, uptime } from '../../../src/cli/fleet-format';
import { formatQueues, queueRows, totalDelayed } from '../../../src/cli/queues-command';
import { renderFleet } from '../../../src/cli/events-view';
import { FleetState } from '../../../src/control';
import type { QueueDefinition } from '../../../src/config/types';

const now = Date.UTC(2026, 10, 29, 12, 0, 10);

describe('what the fleet commands print', () => {
  test('inspect ping and active: a block per node, in name order, then the count', () => {
    expect(formatInspect('ping', { 'warren@b': { ok: 'pong' }, 'celery@a': { ok: 'pong' } })).toBe('celery@a: pong\nwarren@b: pong\n\n2 nodes replied.\n');
    const active = {
      'warren@b': [{ id: 'u1', name: 'math.add', args: [2, 3], kwargs: { k: 'v' }, time_start: now / 1000 - 1.5, delivery_info: { redelivered: true } }],
      'celery@a': [],
      'odd@c': { error: 'boom' },
    };
    expect(formatInspect('active', active, now)).toBe(
      "celery@a: 0 active\nodd@c: error: boom\nwarren@b: 1 active\n  math.add[u1] args=[2, 3] kwargs={'k': 'v'} started 1.5 s ago redelivered\n\n3 nodes replied.\n",
    );
  });

  test('control: OK or ERROR with the message, a line per node', () => {
    expect(formatControl({ 'w@b': { ok: 'tasks x flagged as revoked' }, 'c@a': { error: 'nope' } })).toBe('c@a: ERROR nope\nw@b: OK tasks x flagged as revoked\n');
  });

  test('status: a line per worker from its stats and queues, warren or Python', () => {
    const warren = nodeStatus(
      'warren@b',
      { sw_ident: 'warren', sw_ver: '0.1.0', pid: 7, uptime: 3700, total: { a: 2, b: 1 }, pool: { 'max-concurrency': 8 }, broker: { hostname: 'h', port: 5672, virtual_host: 'v' }, warren: { active: 1 } },
      [{ name: 'q1' }, { name: 'q2' }],
    );
    const python = nodeStatus('celery@a', { pid: 9, uptime: 5, total: {}, pool: { 'max-concurrency': 2 }, broker: { hostname: 'h', port: 5672, virtual_host: '/' } }, [{ name: 'celery' }]);
    expect(formatStatus([warren, python])).toBe(
      'celery@a  online  celery        pid 9  up 5s     -c 2            processed 0  queues celery  broker h:5672\n' +
        'warren@b  online  warren 0.1.0  pid 7  up 1h 1m  -c 8  active 1  processed 3  queues q1,q2   broker h:5672/v\n' +
        '\n2 nodes online.\n',
    );
    expect([uptime(59), uptime(61), uptime(90_000)]).toEqual(['59s', '1m', '1d 1h']);
  });

  test('queues: depth, consumers, dead letters; a queue the broker lacks says so', () => {
    const q = (name: string, extra: Partial<QueueDefinition> = {}): QueueDefinition => ({ name, durable: true, autoDelete: false, type: 'classic', arguments: {}, bindings: [], ...extra });
    const rows = queueRows(
      [q('jobs', { deadLetterQueue: 'jobs.dlq' }), q('jobs.dlq'), q('gone')],
      new Map([
        ['jobs', { name: 'jobs', messages: 12, consumers: 2 }],
        ['jobs.dlq', { name: 'jobs.dlq', messages: 3, consumers: 0 }],
        ['gone', { name: 'gone', missing: true as const }],
      ]),
    );
    expect(formatQueues(rows, { classic: 4, quorum: null })).toBe(
      'queue              messages  consumers  dead letters\n' +
        'jobs                     12          2  3 (jobs.dlq)\n' +
        'jobs.dlq                  3          0             -\n' +
        'gone      not on the broker          -             -\n' +
        '\n4 tasks waiting in the delay levels (countdown, eta, retries)\n',
    );
  });

  test('queues: the delayed tasks of both sets of delay levels, each set\'s share while both exist; no line without levels', () => {
    const rows = queueRows([{ name: 'jobs', durable: true, autoDelete: false, type: 'classic', arguments: {}, bindings: [] }], new Map([['jobs', { name: 'jobs', messages: 0, consumers: 1 }]]));
    const table = 'queue  messages  consumers  dead letters\njobs          0          1             -\n';
    expect(formatQueues(rows, { classic: null, quorum: 1 })).toBe(`${table}\n1 task waiting in the delay levels (countdown, eta, retries)\n`);
    expect(formatQueues(rows, { classic: 2, quorum: 5 })).toBe(
      `${table}\n7 tasks waiting in the delay levels (countdown, eta, retries): 2 in the classic levels, 5 in the quorum levels\n`,
    );
    expect(formatQueues(rows, { classic: null, quorum: null })).toBe(table);
    expect([totalDelayed({ classic: 2, quorum: 0 }), totalDelayed({ classic: null, quorum: null })]).toEqual([2, null]);
  });

  test('events view: workers with heartbeats, rates over 10 s, latest failures; a silent worker goes offline', () => {
    const state = new FleetState();
    const t = now / 1000;
    state.add({ type: 'worker-heartbeat', hostname: 'w@b', utcoffset: 0, pid: 1, clock: 1, timestamp: t - 1, freq: 2, active: 1, processed: 5, sw_ident: 'warren', sw_ver: '0.1.0' }, now - 1000);
    state.add({ type: 'worker-heartbeat', hostname: 'c@a', utcoffset: 0, pid: 2, clock: 1, timestamp: t - 9, freq: 2, active: 0, processed: 1, sw_ident: 'py-celery', sw_ver: '5.2.6' }, now - 9000);
    state.add({ type: 'task-received', hostname: 'w@b', utcoffset: 0, pid: 1, clock: 2, timestamp: t - 2, uuid: 'u1', name: 'boom' }, now - 2000);
    state.add({ type: 'task-failed', hostname: 'w@b', utcoffset: 0, pid: 1, clock: 3, timestamp: t - 1, uuid: 'u1', exception: "ValueError('bad')" }, now - 1000);
    expect(renderFleet(state, now, 'warren events on amqp://x')).toBe(
      [
        'warren events on amqp://x   12:00:10 UTC',
        '',
        'workers (1 online)',
        '  c@a  offline  active 0  processed 1  heard 9 s ago  py-celery 5.2.6',
        '  w@b  online   active 1  processed 5  heard 1 s ago  warren 0.1.0',
        '',
        'tasks per second (last 10 s): received 0.1  started 0.0  succeeded 0.0  failed 0.1  retried 0.0  revoked 0.0',
        '',
        'latest failures (1 failure)',
        "  12:00:09  boom[u1] on w@b: ValueError('bad')",
        '',
      ].join('\n'),
    );
  });
});
