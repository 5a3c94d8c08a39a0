import type { Logger } from '../logging/logger';
import type { Worker } from '../worker';

/**
 * The process-level guards of `warren worker`, so that task code cannot take the worker down
 * (and every task running with it):
 * - an error that escapes task code (a throw in a timer or callback, a rejection nobody
 *   awaited) fails the task it came from and the worker goes on (`worker.handleEscapedError`);
 *   one that belongs to no task calls `onFatal`, which stops the worker with status 1;
 * - `process.exit()` called by a running task throws `ProcessExitError` inside the task instead
 *   (as Python's `sys.exit()` raises `SystemExit`): the task fails, the worker goes on;
 * - `process.exit(0)` from any other code while the worker is not stopping exits with status 1:
 *   a supervisor reads 0 as a clean stop, and this was not one.
 */
export function guardWorkerProcess(worker: Worker, logger: Logger, onFatal: (error: unknown) => void): void {
  const escaped = (origin: 'uncaughtException' | 'unhandledRejection') => (error: unknown): void => {
    if (worker.handleEscapedError(error)) return;
    logger.fatal({ origin, err: error instanceof Error ? (error.stack ?? error.message) : String(error) }, 'an error escaped code that belongs to no task; stopping the worker');
    onFatal(error);
  };
  process.on('uncaughtException', escaped('uncaughtException'));
  process.on('unhandledRejection', escaped('unhandledRejection'));

  const exit = process.exit.bind(process);
  process.exit = ((code?: number | string | null) => {
    const numeric = code === undefined || code === null ? undefined : Number(code);
    const refused = worker.exitCalled(numeric);
    if (refused) {
      logger.error({ code: numeric }, 'a task called process.exit(); it fails instead, and the worker goes on');
      throw refused;
    }
    const status = numeric ?? (typeof process.exitCode === 'number' ? process.exitCode : 0);
    if (!worker.isStopping && status === 0) {
      logger.error('process.exit(0) was called while the worker was running, not stopping: exiting with status 1, since this was no clean stop');
      return exit(1);
    }
    return exit(code ?? undefined);
  }) as typeof process.exit;
}
