import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp, type App, type Beat, type Fire } from '../../../src';
import { memoryBroker, resetMemoryBroker } from '../../../src/transport/memory';
import { silent, until } from '../../support/memory';
import { memoryDefinitions } from '../../support/memory-app';

/*
 * Beat on the memory broker: it fires only under the leader lock, a follower takes over when
 * the leader's connection drops, and entries added to the store are picked up while it runs.
 */

const BROKER = 'beat-unit';
const schedule = { tick: { task: 'tick', every: '50ms' } };
let stateDir: string;
let apps: App[];

beforeEach(() => {
  stateDir = mkdtempSync(join(tmpdir(), 'warren-beat-memory-'));
  apps = [];
});

afterEach(async () => {
  await Promise.all(apps.map((app) => app.close()));
  resetMemoryBroker(BROKER);
  rmSync(stateDir, { recursive: true, force: true });
});

/** An app on the shared memory broker, with its own connection, sharing the schedule store of the others. */
function beatApp(): App {
  const app = createApp({
    logger: silent,
    definitions: memoryDefinitions(`memory://${BROKER}`, { extra: { schedule } }),
    scheduleStore: join(stateDir, 'beat-state.json'),
  });
  apps.push(app);
  return app;
}

async function startBeat(app: App, lockRetryMs = 10): Promise<{ beat: Beat; fired: Fire[]; roles: string[] }> {
  const beat = await app.startBeat({ lockSuffix: 'unit', lockRetryMs });
  const fired: Fire[] = [];
  const roles: string[] = [];
  beat.on('fired', ({ fire }) => fired.push(fire));
  beat.on('leader', () => roles.push('leader'));
  beat.on('follower', () => roles.push('follower'));
  return { beat, fired, roles };
}

/** The beat fires that reached the queue `jobs`, by entry. */
function queuedFires(): string[] {
  return memoryBroker(BROKER)
    .messages('jobs')
    .map((m) => `${String(m.properties.headers?.['x-warren-beat-entry'])} ${String(m.properties.headers?.task)}`);
}

describe('beat on memory://', () => {
  test('fires the schedule while it holds the lock; each fire reaches the queue its task routes to', async () => {
    const { beat, fired } = await startBeat(beatApp());
    await until(() => fired.length >= 2, 'two fires');
    expect(beat.isLeader).toBe(true);
    expect(memoryBroker(BROKER).queue('warren.beat.lock.unit')).toMatchObject({ exclusive: true, consumerCount: 1 });
    await until(() => queuedFires().length >= 2, 'two fires queued');
    expect(new Set(queuedFires())).toEqual(new Set(['tick tick']));
    expect(fired[1].planned.getTime() - fired[0].planned.getTime()).toBe(50);
  });

  test('a second beat stands by; when the leader\'s connection drops it takes over, and no slot fires twice', async () => {
    const broker = memoryBroker(BROKER);
    // The first retries the lock slowly once it lost it, so the second is the one to take over.
    const first = await startBeat(beatApp(), 2000);
    await until(() => first.fired.length >= 1, 'the first beat firing');
    const second = await startBeat(beatApp());
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(second.fired).toEqual([]);
    expect(second.beat.isLeader).toBe(false);

    broker.dropConnection(broker.queue('warren.beat.lock.unit')!.owner!);
    await until(() => first.roles.includes('follower'), 'the leader to step down');
    await until(() => second.fired.length >= 2, 'the second beat firing');
    expect(second.roles).toEqual(['leader']);
    expect(first.beat.isLeader).toBe(false);

    const ids = [...first.fired, ...second.fired].map((f) => f.taskId);
    expect(new Set(ids).size).toBe(ids.length);
    const slots = [...first.fired, ...second.fired].map((f) => f.planned.getTime());
    expect(new Set(slots).size).toBe(slots.length);
  });

  test('an entry added to the store while beat runs is picked up and fired', async () => {
    const app = beatApp();
    const { fired, beat } = await startBeat(app);
    const reloaded: number[] = [];
    beat.on('reloaded', ({ entries }) => reloaded.push(entries));
    await until(() => fired.length >= 1, 'the first fire');
    await app.schedules.add('added', { task: 'tock', every: '50ms' });
    await until(() => fired.some((f) => f.entry.name === 'added'), 'a fire of the added entry', 3000);
    expect(reloaded).toEqual([2]);
    await until(() => queuedFires().includes('added tock'), 'its task queued');
  });
});
