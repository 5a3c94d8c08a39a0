import { existsSync, readFileSync } from 'node:fs';

/** One line the `record` test task wrote: `start|done <task id> <hostname>`. */
export interface RecordLine {
  event: 'start' | 'done';
  taskId: string;
  hostname: string;
}

/** The lines the `record` task appended to `file` so far. */
export function readRecord(file: string): RecordLine[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [event, taskId, hostname] = line.split(' ');
      return { event: event as RecordLine['event'], taskId, hostname };
    });
}

/** What a fault test reports: sent, confirmed by the broker, processed, duplicates, lost. */
export interface FaultCounts {
  sent: number;
  confirmed: number;
  processed: number;
  duplicates: number;
  lost: number;
}

/**
 * Counts against the ids the broker confirmed: `processed` is how many of them have a `done`
 * line, `duplicates` the extra `done` lines (a task run again after its worker died before the
 * ack), `lost` the confirmed ids with none.
 */
export function faultCounts(sent: number, confirmedIds: readonly string[], record: readonly RecordLine[]): FaultCounts {
  const done = new Map<string, number>();
  for (const line of record) if (line.event === 'done') done.set(line.taskId, (done.get(line.taskId) ?? 0) + 1);
  const processed = confirmedIds.filter((id) => done.has(id)).length;
  const duplicates = confirmedIds.reduce((sum, id) => sum + Math.max(0, (done.get(id) ?? 0) - 1), 0);
  return { sent, confirmed: confirmedIds.length, processed, duplicates, lost: confirmedIds.length - processed };
}

/** Prints the counts in one line, the figure a fault test exists to show. */
export function printCounts(test: string, counts: FaultCounts, extra: Record<string, unknown> = {}): void {
  const parts = Object.entries({ ...counts, ...extra }).map(([key, value]) => `${key} ${value}`);
  process.stdout.write(`[fault] ${test}: ${parts.join(' / ')}\n`);
}
