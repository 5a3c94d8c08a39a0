import { existsSync, readFileSync } from 'node:fs';

/**
 * Whether a process still runs, whoever owns it. A zombie (exited, not yet reaped by its parent)
 * counts as gone: `process.kill(pid, 0)` would still find it.
 */
export function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/**
 * The pids in a marks file (the test tasks modules append `<label> <pid>` to WARREN_TEST_MARKS
 * as a task starts) on lines labelled `label`, in order; none while the file does not exist.
 */
export function markedPids(file: string, label: string): number[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .filter((line) => line.startsWith(`${label} `))
    .map((line) => Number(line.split(' ')[1]));
}
