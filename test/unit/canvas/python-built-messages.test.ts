import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Chain, Chord, Group, prepareApply, Signature, type AnySignature } from '../../../src/canvas';
import { ChordUnsupportedError } from '../../../src/errors';
import { FakeRuntime, normalizeIds, type SentMessage } from './canvas-runtime-fake';

/*
 * warren's canvas builds the messages Celery 5.2 builds. The fixture holds what Debian's Celery
 * 5.2.6 published for each workflow (read back from the queue with basic_get, no worker running):
 *
 *   chain:      chain(add.s(2, 3), mul.s(10), add.si(1, 1)).apply_async()
 *   link:       add.apply_async((2, 3), link=mul.s(10), link_error=onerr.s())
 *   group:      group(add.s(1, 1), add.s(2, 2)).apply_async()
 *   chord:      chord([add.s(1, 1), mul.s(3, 3)], tsum.s()).apply_async()
 *   chainchord: chain(add.s(1, 1), group(add.s(1), add.s(2)), tsum.s()).apply_async()
 *   chaingroup: chain(add.s(1, 1), group(add.s(1), add.s(2))).apply_async()
 *
 * Ids differ run to run: both sides are compared with each id named by its first appearance.
 */
const python = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'python-workflows.json'), 'utf8')) as Record<string, SentMessage[]>;

function normalizedPython(name: string): unknown {
  const messages = python[name];
  return normalizeIds(messages, messages[0].reply_to);
}

let runtime: FakeRuntime;
beforeEach(() => {
  runtime = new FakeRuntime();
});

const s = (task: string, ...args: unknown[]): Signature => new Signature(task, args, {}, {}, { runtime });
const si = (task: string, ...args: unknown[]): Signature => new Signature(task, args, {}, {}, { runtime, immutable: true });

async function apply(signature: AnySignature): Promise<unknown> {
  const { copy } = prepareApply(signature);
  await copy.applyAsync();
  return normalizeIds(runtime.messages(), runtime.replyTo);
}

describe('workflows built by warren are the messages Celery 5.2 builds', () => {
  test('a chain: the first task, with the rest reversed in its chain, each frozen with its id and reply queue', async () => {
    expect(await apply(new Chain([s('cap.add', 2, 3), s('cap.mul', 10), si('cap.add', 1, 1)], {}, runtime))).toEqual(normalizedPython('chain'));
  });

  test('link and link_error: callbacks and errbacks in the embed, unfrozen', async () => {
    const task = s('cap.add', 2, 3).link(s('cap.mul', 10)).linkError(s('cap.onerr'));
    expect(await apply(task)).toEqual(normalizedPython('link'));
  });

  test('a group: each task with the group id, no index', async () => {
    expect(await apply(new Group([s('cap.add', 1, 1), s('cap.add', 2, 2)], {}, runtime))).toEqual(normalizedPython('group'));
  });

  test('a chord: header tasks with the group id, their index and the body as chord; the size recorded first', async () => {
    expect(await apply(new Chord([s('cap.add', 1, 1), s('cap.mul', 3, 3)], s('cap.tsum'), {}, runtime))).toEqual(normalizedPython('chord'));
    expect(runtime.chordSizes).toEqual([[runtime.sent[0].groupId, 2]]);
  });

  test('a group followed by a task in a chain is sent as a chord in the chain', async () => {
    const chain = new Chain([s('cap.add', 1, 1), new Group([s('cap.add', 1), s('cap.add', 2)], {}, runtime), s('cap.tsum')], {}, runtime);
    expect(await apply(chain)).toEqual(normalizedPython('chainchord'));
  });

  test('a group at the end of a chain stays a group in the chain', async () => {
    const chain = new Chain([s('cap.add', 1, 1), new Group([s('cap.add', 1), s('cap.add', 2)], {}, runtime)], {}, runtime);
    expect(await apply(chain)).toEqual(normalizedPython('chaingroup'));
  });

  test('on a backend that cannot count chords, a chord is refused before anything is sent', async () => {
    runtime.chords = false;
    const chord = new Chord([s('cap.add', 1, 1)], s('cap.tsum'), {}, runtime);
    await expect(apply(chord)).rejects.toThrow(ChordUnsupportedError);
    const chain = new Chain([s('cap.add', 1, 1), new Group([s('cap.add', 1), s('cap.add', 2)], {}, runtime), s('cap.tsum')], {}, runtime);
    expect(() => prepareApply(chain)).toThrow(
      'the rpc:// result backend does not support chords: a chord needs a backend that counts its header\'s results (redis://, rediss:// or redis+cluster://); a group chained to a task is a chord too',
    );
    expect(runtime.sent).toEqual([]);
  });
});
