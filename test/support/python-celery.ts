import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { runProcess } from './run-process';
import { REPO_ROOT } from './worker-process';

/**
 * Debian's interpreter, the one `apt-get install python3-celery` installs Celery for. The
 * `python3` on PATH may be another interpreter without Celery, so never rely on PATH.
 */
export const PYTHON = '/usr/bin/python3';

/** The Python side of the interop tests: `interop_config.py`, `client.py`, `worker_app.py`. */
export const CELERY_FIXTURES = join(REPO_ROOT, 'test', 'fixtures', 'celery');

const INSTALL_HINT = 'apt-get update && apt-get install -y python3-celery';

/**
 * The installed Python Celery's version (`5.2.6 (dawn-chorus)`). Interop tests must not skip
 * when the real peer is missing: this throws, with the command that installs it.
 */
export function requirePythonCelery(): string {
  try {
    return execFileSync(PYTHON, ['-m', 'celery', '--version'], { encoding: 'utf8', timeout: 20_000, stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    throw new Error(
      `the Celery interop tests need Python Celery as the real peer, but \`${PYTHON} -m celery --version\` failed:\n${detail}\n` +
        `Install it with: ${INSTALL_HINT}`,
    );
  }
}

/** What the Python side needs to know: the broker, the run's prefix, and its queue. */
export interface PythonCeleryConfig {
  brokerUrl: string;
  /** Task names are `<prefix>.<name>`. */
  prefix: string;
  /** The queue the Python client sends to, or the Python worker consumes. */
  queue: string;
  /** The result backend of the Python side (workflow tests: the Redis warren uses too). */
  backend?: string;
  /** Workflow tests: the queue of warren's `js_*` tasks. */
  jsQueue?: string;
}

function pythonEnv(config: PythonCeleryConfig): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PYTHONPATH: CELERY_FIXTURES,
    PYTHONDONTWRITEBYTECODE: '1', // no __pycache__ in the fixtures folder
    PYTHONUNBUFFERED: '1',
    CELERY_INTEROP_BROKER_URL: config.brokerUrl,
    CELERY_INTEROP_PREFIX: config.prefix,
    CELERY_INTEROP_QUEUE: config.queue,
    ...(config.backend ? { CELERY_INTEROP_BACKEND: config.backend } : {}),
    ...(config.jsQueue ? { CELERY_INTEROP_JS_QUEUE: config.jsQueue } : {}),
  };
}

export interface PythonRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `test/fixtures/celery/<script> <args>` (client.py unless said) to completion (killed after `timeoutMs`). */
export function runPythonClient(config: PythonCeleryConfig, args: readonly string[], timeoutMs = 15_000, script = 'client.py'): Promise<PythonRun> {
  return runProcess(PYTHON, [join(CELERY_FIXTURES, script), ...args], pythonEnv(config), timeoutMs);
}

/**
 * Runs client.py (or `script`) and parses the one JSON line it prints; fails with its exit
 * code, stdout and stderr when it exits non-zero or prints no JSON.
 */
export async function runPythonClientJson<T = Record<string, unknown>>(
  config: PythonCeleryConfig,
  args: readonly string[],
  timeoutMs?: number,
  script = 'client.py',
): Promise<T> {
  const run = await runPythonClient(config, args, timeoutMs, script);
  const last = run.stdout.trim().split('\n').pop() ?? '';
  if (run.code !== 0 || !last.startsWith('{')) {
    throw new Error(`${script} ${args.join(' ')} exited with ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
  }
  return JSON.parse(last) as T;
}

/**
 * A real `celery worker` process over `test/fixtures/celery/worker_app.py`, consuming one
 * queue with the solo pool and no gossip, mingle, heartbeat events or remote control, so it
 * touches no broker object outside the test's prefix.
 */
export class PythonCeleryWorker {
  readonly child: ChildProcess;
  /** Resolves on Celery's `<node> ready.` log line; rejects if the process exits first or takes too long. */
  readonly ready: Promise<void>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private logs = '';

  constructor(config: PythonCeleryConfig, options: { nodeName?: string; readyTimeoutMs?: number; module?: string } = {}) {
    const nodeName = options.nodeName ?? `${config.prefix}@%h`;
    this.child = spawn(
      PYTHON,
      ['-m', 'celery', '-A', options.module ?? 'worker_app', 'worker', '-Q', config.queue, '-n', nodeName,
        '--pool', 'solo', '-c', '1', '--without-heartbeat', '--without-gossip', '--without-mingle', '-l', 'info'],
      { cwd: CELERY_FIXTURES, env: pythonEnv(config), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => resolve({ code, signal }));
      // A process that could not be spawned (no interpreter) emits `error` and never `exit`.
      this.child.once('error', () => {
        if (this.child.pid === undefined) resolve({ code: null, signal: null });
      });
    });
    const readyTimeoutMs = options.readyTimeoutMs ?? 15_000;
    this.ready = new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`the Python Celery worker was not ready within ${readyTimeoutMs} ms:\n${this.logs}`)),
        readyTimeoutMs,
      );
      const onData = (chunk: Buffer): void => {
        this.logs += chunk.toString();
        if (/\] \S+ ready\.\s*$/m.test(this.logs)) {
          clearTimeout(timer);
          resolve();
        }
      };
      this.child.stdout!.on('data', onData);
      this.child.stderr!.on('data', onData);
      this.child.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      void this.exited.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new Error(`the Python Celery worker exited (code ${code}, signal ${signal}) before it was ready:\n${this.logs}`));
      });
    });
    // `ready` may reject after a test already failed for another reason; keep that from
    // becoming an unhandled rejection.
    this.ready.catch(() => undefined);
  }

  /** Everything the worker printed so far (banner on stdout, log lines on stderr). */
  get output(): string {
    return this.logs;
  }

  /** SIGTERM (Celery's warm shutdown), then SIGKILL if it has not exited within `graceMs`. */
  async stop(graceMs = 5000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.pid === undefined || this.child.exitCode !== null || this.child.signalCode !== null) return this.exited;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}
