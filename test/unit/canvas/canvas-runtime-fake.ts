import { randomUUID } from 'node:crypto';
import { ChordUnsupportedError } from '../../../src/errors';
import type { CanvasRuntime, OutgoingTask } from '../../../src/canvas';
import { encodeTaskMessage, loads } from '../../../src/protocol';

/** The parts of a sent message the comparisons look at, as Python's capture keeps them. */
export interface SentMessage {
  headers: { task: string; id: string; group: string | null; group_index: number | null; root_id: string; parent_id: string | null };
  reply_to: string;
  correlation_id: string;
  body: unknown;
}

/** A runtime that records what would be sent, encoded as warren encodes it. */
export class FakeRuntime implements CanvasRuntime {
  readonly sent: OutgoingTask[] = [];
  readonly chordSizes: Array<[string, number]> = [];
  readonly replyTo = 'f0f0f0f0-0000-4000-8000-00000000reply';
  chords = true;
  current: { id: string; rootId: string } | undefined;

  newId(): string {
    return randomUUID();
  }

  async send(task: OutgoingTask): Promise<void> {
    this.sent.push(task);
  }

  ensureChordsAllowed(): void {
    if (!this.chords) throw new ChordUnsupportedError('rpc://');
  }

  async setChordSize(groupId: string, size: number): Promise<void> {
    this.chordSizes.push([groupId, size]);
  }

  /** Each sent task as the message warren publishes for it. */
  messages(): SentMessage[] {
    return this.sent.map((task) => {
      const { body, properties } = encodeTaskMessage({
        id: task.taskId,
        task: task.task,
        args: task.args,
        kwargs: task.kwargs,
        replyTo: task.replyTo,
        rootId: task.rootId,
        parentId: task.parentId,
        group: task.groupId,
        groupIndex: task.groupIndex,
        embed: task.embed,
      });
      const h = properties.headers;
      return {
        headers: { task: h.task, id: h.id, group: h.group, group_index: h.group_index, root_id: h.root_id, parent_id: h.parent_id },
        reply_to: properties.replyTo,
        correlation_id: properties.correlationId,
        body: loads(body.toString('utf8')),
      };
    });
  }
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|f0f0f0f0-0000-4000-8000-00000000reply/g;

/**
 * The messages with every id replaced by `<n>` in order of first appearance (and the reply
 * queue by `<reply>`): two workflows built alike compare equal whatever ids they drew.
 */
export function normalizeIds(messages: unknown, replyTo: string): unknown {
  const names = new Map<string, string>([[replyTo, '<reply>']]);
  const text = JSON.stringify(messages).replace(UUID, (id) => {
    if (!names.has(id)) names.set(id, `<${names.size}>`);
    return names.get(id) as string;
  });
  return JSON.parse(text) as unknown;
}
