import type { TaskStatus } from '../protocol';

/** One header task's part of a chord, as Celery's `on_chord_part_return` records it. */
export interface ChordPart {
  groupId: string;
  /** Its place in the header; null counts it at the end (Celery's `+inf`). */
  groupIndex: number | null;
  taskId: string;
  status: TaskStatus;
  /** The return value, or the encoded error. */
  result: unknown;
}

/** What counting one part found: not complete yet, or complete with the header's parts in order. */
export type ChordCount = { complete: false } | { complete: true; parts: Array<{ taskId: string; status: TaskStatus; result: unknown }> };

/** A result backend that counts chords (Redis). */
export interface ChordCounter {
  /** Records the header's size before its last task is sent. */
  setChordSize(groupId: string, size: number): Promise<void>;
  /** Counts one part; the caller whose part completes it gets the parts. */
  countChordPart(part: ChordPart): Promise<ChordCount>;
  /** Deletes the chord's counters once its body was applied (or failed). */
  forgetChord(groupId: string): Promise<void>;
}
