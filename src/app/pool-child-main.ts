/**
 * The program a process-pool child runs (`child_process.fork`ed by the worker's `ProcessPool`):
 * load the tasks module once, then run the tasks the worker hands over IPC. A process concern,
 * like `cli/`: it touches `process` (signals, exit, the IPC channel) and nothing else does.
 */
import { Worker as Thread } from 'node:worker_threads';
import { LOG_LEVELS, createLogger, type LogLevel } from '../logging/logger';
import { PoolChild } from '../worker/pool/pool-child';
import type { FromChild, InitMessage, ToChild } from '../worker/pool/pool-messages';
import { loadApp } from './load-app';

/**
 * Ends this process once its parent is gone, even while a task spins in a busy loop (which
 * would keep the IPC channel's `disconnect` from ever being handled): a thread of its own reads
 * the live parent pid from /proc (`process.ppid` is fixed at start-up in a thread) and, failing
 * that, asks whether the parent still exists; when it changed, it SIGKILLs this process.
 */
const ORPHAN_WATCH = `
const { workerData } = require('node:worker_threads');
const { readFileSync } = require('node:fs');
const parentPid = workerData;
function parentAlive() {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === parentPid;
  } catch {
    try { process.kill(parentPid, 0); return true; } catch { return false; }
  }
}
setInterval(() => { if (!parentAlive()) process.kill(process.pid, 'SIGKILL'); }, 250);
`;

function send(message: FromChild): void {
  process.send?.(message);
}

function watchParent(parentPid: number): Promise<void> {
  const thread = new Thread(ORPHAN_WATCH, { eval: true, workerData: parentPid });
  thread.unref();
  // Online before the first task: a task that never yields must find the watch already running.
  return new Promise((resolve) => thread.once('online', () => resolve()));
}

async function main(init: InitMessage): Promise<void> {
  // Ctrl-C on a terminal reaches the whole process group: the worker decides what its children do.
  process.on('SIGINT', () => undefined);
  // The worker is gone (its IPC channel closed): nothing more can come or go.
  process.on('disconnect', () => process.exit(0));
  await watchParent(init.parentPid);
  const level = (LOG_LEVELS as readonly string[]).includes(init.logLevel) ? (init.logLevel as LogLevel) : 'info';
  const logger = createLogger({ level }).child({ component: 'pool-process', pid: process.pid });
  let app;
  try {
    app = await loadApp(init.module);
    app.configure({ ...init.configure, logger });
  } catch (err) {
    const error = err instanceof Error ? err : new Error(String(err));
    const cause = error.cause instanceof Error ? error.cause : undefined;
    send({ type: 'load-failed', message: cause ? `${error.message}: ${cause.message}` : error.message, stack: (cause ?? error).stack });
    process.exit(1);
  }
  const child = new PoolChild({
    tasks: app.tasks,
    logger,
    hostname: init.hostname,
    send,
    onExit: () => process.exit(0),
  });
  const escaped = (error: unknown): void => {
    if (child.handleEscapedError(error)) return;
    logger.fatal({ err: error instanceof Error ? (error.stack ?? error.message) : String(error) }, 'an error escaped code that belongs to no task; the pool process exits');
    process.exit(1);
  };
  process.on('uncaughtException', escaped);
  process.on('unhandledRejection', escaped);
  process.on('message', (message: ToChild) => child.onMessage(message));
  send({ type: 'ready', pid: process.pid });
}

process.once('message', (message: ToChild) => {
  if (message.type !== 'init') {
    process.exit(1);
  }
  void main(message);
});
