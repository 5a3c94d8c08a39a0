import pino, { type Logger, type LoggerOptions } from 'pino';

export type { Logger };

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/**
 * The one root logger of a process. `cli/` or `createApp` makes it; everything below
 * receives a child with bindings (`component`, `queue`, `task`, `taskId`).
 * Writes JSON lines to stderr, so a command's own output on stdout stays clean.
 */
export function createLogger(options: { level?: LogLevel; name?: string } & Pick<LoggerOptions, 'base'> = {}): Logger {
  return pino(
    { name: options.name ?? 'warren', level: options.level ?? 'info', base: options.base },
    pino.destination({ fd: 2, sync: true }),
  );
}
