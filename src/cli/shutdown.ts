import type { App } from '../app';
import type { Logger } from '../logging/logger';

/**
 * Resolves once the process was asked to stop and the app closed: the first SIGINT or SIGTERM
 * (or `stop` resolving) closes the app gracefully (`describe()` says what is still running); a
 * second signal exits at once, and the broker takes back whatever was unacknowledged.
 */
export function closeOnSignal(
  app: App,
  logger: Logger,
  describe: () => Record<string, unknown> = () => ({}),
  stop?: Promise<string>,
): Promise<void> {
  return new Promise<void>((resolve) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals | string): void => {
      signals += 1;
      if (signals > 1) {
        logger.warn({ signal }, 'second signal: stopping now; unfinished work goes back to the broker');
        process.exit(1);
      }
      logger.info({ signal, ...describe() }, 'shutting down');
      app.close().then(resolve, (err: unknown) => {
        logger.error({ err }, 'error while shutting down');
        resolve();
      });
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    // A stop that comes once the shutdown is under way (the worker closing because of the signal) is no second signal.
    void stop?.then((reason) => {
      if (signals === 0) onSignal(reason);
    });
  });
}
