import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { UsageError } from '../errors';

/** Whether a process with this pid runs (one of another user counts: it answers EPERM). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Writes this process's pid to `path` (Celery's `--pidfile`); the file is removed when the
 * process exits, or by the function returned. A file left by a process that no longer runs (or
 * holding no pid) is replaced.
 * @throws UsageError when the file names a process that still runs (the worker or beat is
 * already running), or cannot be written: the caller has started nothing yet.
 */
export function takePidfile(path: string): () => void {
  for (let attempt = 0; attempt < 2; attempt += 1) {
    let fd: number;
    try {
      fd = openSync(path, 'wx');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST') throw new UsageError(`--pidfile ${path}: cannot create it (${code ?? (err as Error).message})`);
      const pid = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && running(pid)) {
        throw new UsageError(`--pidfile ${path} names process ${pid}, which is running: is this worker or beat already running? (nothing was started)`);
      }
      unlinkSync(path); // stale: its process is gone
      continue;
    }
    writeSync(fd, `${process.pid}\n`);
    closeSync(fd);
    const release = (): void => {
      process.removeListener('exit', release);
      try {
        // Only our own: a process started after this one may have taken the path since.
        if (readFileSync(path, 'utf8').trim() === String(process.pid)) unlinkSync(path);
      } catch {
        // Already gone.
      }
    };
    process.once('exit', release);
    return release;
  }
  throw new UsageError(`--pidfile ${path}: another process keeps creating it`);
}
