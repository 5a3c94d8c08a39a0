import { spawn } from 'node:child_process';
import { closeSync, readFileSync, statSync } from 'node:fs';
import { openLogFile } from '../logging/logger';
import { CommandExit } from './exit-codes';

/** Set in the environment of the process `--detach` starts: it is the one that runs. */
const DETACHED_ENV = 'WARREN_DETACHED';

/** Whether this process is the background one a `--detach` started. */
export function isDetachedChild(): boolean {
  return process.env[DETACHED_ENV] === '1';
}

/** In the background process: tells the process that started it that it is running, and lets it go. */
export function reportDetachedReady(): void {
  if (!isDetachedChild() || !process.send) return;
  process.send('ready', () => process.disconnect());
}

/**
 * `--detach` (Celery's): starts this same command again as a background process (its own
 * session, stdin closed, stdout and stderr appended to `logfile`), waits until it says it is
 * running, and prints its pid. A background process that exits first has started nothing: the
 * lines it wrote to the log file since are printed, and CommandExit ends this one with its code.
 * @throws UsageError when the log file cannot be opened; CommandExit as above
 */
export async function detach(what: 'worker' | 'beat', logfile: string): Promise<void> {
  const fd = openLogFile(logfile);
  const from = statSync(logfile).size;
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    detached: true,
    stdio: ['ignore', fd, fd, 'ipc'],
    env: { ...process.env, [DETACHED_ENV]: '1' },
  });
  closeSync(fd);
  const outcome = await new Promise<{ ready: true } | { ready: false; code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('message', (message) => {
      if (message === 'ready') resolve({ ready: true });
    });
    child.once('exit', (code, signal) => resolve({ ready: false, code, signal }));
    child.once('error', () => resolve({ ready: false, code: null, signal: null }));
  });
  if (outcome.ready) {
    child.unref();
    child.channel?.unref();
    process.stdout.write(`warren ${what} running in the background, pid ${child.pid}; logs in ${logfile}\n`);
    return;
  }
  const written = readFileSync(logfile).subarray(from).toString().trimEnd();
  const how = outcome.signal ? `was killed by ${outcome.signal}` : `exited with ${outcome.code ?? 'an error'}`;
  process.stderr.write(`warren: the background ${what} ${how} before it was running; nothing runs${written ? `. It wrote to ${logfile}:\n${written}` : ''}\n`);
  throw new CommandExit(outcome.code !== null && outcome.code !== 0 ? outcome.code : 1);
}
