import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { runProcess, type ProcessRun } from './run-process';

export const REPO_ROOT = join(__dirname, '..', '..');
export const CLI = join(REPO_ROOT, 'bin', 'warren.js');
export const TEST_TASKS = join(REPO_ROOT, 'test', 'fixtures', 'tasks', 'test-tasks.js');
/** Tasks for the process pool: CPU-bound, endless, exiting, memory-hungry, reporting progress. */
export const POOL_TASKS = join(REPO_ROOT, 'test', 'fixtures', 'tasks', 'pool-tasks.js');

export type CliResult = ProcessRun;

/** Runs the `warren` command to completion (in `cwd`, default this process's working directory). */
export function runCli(args: readonly string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 20_000, cwd?: string): Promise<CliResult> {
  return runProcess(process.execPath, [CLI, ...args], { ...process.env, WARREN_LOG_FORMAT: 'json', ...env }, timeoutMs, cwd);
}

/** A long-running `warren` process: `worker` (ready once it logs "worker ready") or `beat` ("beat started"). */
export class WorkerProcess {
  readonly child: ChildProcess;
  readonly ready: Promise<void>;
  readonly exited: Promise<number | null>;
  private logs = '';

  constructor(args: readonly string[], env: NodeJS.ProcessEnv, command: 'worker' | 'beat' = 'worker') {
    const readyMessage = command === 'worker' ? '"worker ready"' : '"beat started"';
    this.child = spawn(process.execPath, [CLI, command, ...args], { env: { ...process.env, WARREN_LOG_FORMAT: 'json', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (chunk: Buffer) => (this.logs += chunk.toString()));
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
    this.ready = new Promise((resolve, reject) => {
      this.child.stderr!.on('data', (chunk: Buffer) => {
        this.logs += chunk.toString();
        if (this.logs.includes(readyMessage)) resolve();
      });
      void this.exited.then((code) => reject(new Error(`${command} exited with ${code} before it was ready:\n${this.logs}`)));
    });
  }

  /** Everything the process wrote so far (JSON log lines on stderr). */
  get output(): string {
    return this.logs;
  }

  /** Log lines (parsed) whose msg matches. */
  logLines(msg: string): Array<Record<string, unknown>> {
    return this.logs
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((entry) => entry.msg === msg);
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }
}

/** Starts a worker over the test tasks module for the given queues. */
export function startTestWorker(options: {
  prefix: string;
  definitions: string;
  queues: readonly string[];
  name: string;
  concurrency?: number;
  env?: NodeJS.ProcessEnv;
  extraArgs?: readonly string[];
  /** The tasks module. @defaultValue TEST_TASKS */
  app?: string;
}): WorkerProcess {
  return new WorkerProcess(
    [
      '-A', options.app ?? TEST_TASKS,
      '-Q', options.queues.join(','),
      '-n', options.name,
      '-c', String(options.concurrency ?? 2),
      '--definitions', options.definitions,
      '-l', 'debug',
      ...(options.extraArgs ?? []),
    ],
    { WARREN_TEST_PREFIX: options.prefix, ...options.env },
  );
}
