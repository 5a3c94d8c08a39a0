import { openSync } from 'node:fs';
import pino, { type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { UsageError } from '../errors';
import { formatLogRecord } from './pretty-format';
import { BatchedOutput } from './batched-output';

export type { Logger };

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** `json`: one pino JSON record a line. `pretty`: one readable line a record (see `formatLogRecord`). */
export type LogFormat = 'json' | 'pretty';

export const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
export const LOG_FORMATS: readonly LogFormat[] = ['json', 'pretty'];

/** Celery's level names (`-l WARNING`, `--loglevel=CRITICAL`) that are not pino's. */
const CELERY_LEVELS: Readonly<Record<string, LogLevel>> = { warning: 'warn', critical: 'fatal' };

/**
 * A log level as given (`-l`, `WARREN_LOG_LEVEL`): any case, and Celery's names too, so
 * `-l INFO` and `-l WARNING` work as they do for `celery worker`. Anything else comes back
 * lowercased, for the caller to refuse against {@link LOG_LEVELS}.
 */
export function normalizeLogLevel(value: string): string {
  const lower = value.trim().toLowerCase();
  return CELERY_LEVELS[lower] ?? lower;
}

export interface CreateLoggerOptions extends Pick<LoggerOptions, 'base'> {
  /** @defaultValue env `WARREN_LOG_LEVEL`, else 'info' */
  level?: LogLevel;
  /** @defaultValue 'warren' */
  name?: string;
  /**
   * @defaultValue env `WARREN_LOG_FORMAT`, else `pretty` when stderr is a terminal and `json`
   * otherwise (a file, a pipe, a log collector)
   */
  format?: LogFormat;
  /**
   * Append the lines to this file instead of stderr (`--logfile`, Celery's `-f`); readable lines
   * (`pretty`, no colours) unless `format` or `WARREN_LOG_FORMAT` says `json`. Every logger of the
   * process that names the same file shares one handle.
   * @defaultValue env `WARREN_LOG_FILE`, else stderr
   */
  file?: string;
}

/** A value of `WARREN_LOG_LEVEL` / `WARREN_LOG_FORMAT`, checked; unset or empty is undefined. */
function fromEnv<T extends string>(name: string, allowed: readonly T[], normalize: (value: string) => string = (value) => value): T | undefined {
  const given = process.env[name];
  if (given === undefined || given === '') return undefined;
  const value = normalize(given);
  if (!(allowed as readonly string[]).includes(value)) {
    throw new UsageError(`environment variable ${name} is ${JSON.stringify(given)} (expected one of ${allowed.join(', ')})`);
  }
  return value as T;
}

/** The level when none is given: `WARREN_LOG_LEVEL`, else `fallback`. */
export function defaultLogLevel(fallback: LogLevel = 'info'): LogLevel {
  return fromEnv('WARREN_LOG_LEVEL', LOG_LEVELS, normalizeLogLevel) ?? fallback;
}

/** The format when none is given: `WARREN_LOG_FORMAT`, else `pretty` on a terminal, `json` elsewhere. */
export function defaultLogFormat(): LogFormat {
  return fromEnv('WARREN_LOG_FORMAT', LOG_FORMATS) ?? (process.stderr.isTTY ? 'pretty' : 'json');
}

/** The process's stderr for logs, shared by every root logger, written at exit too. */
let stderrOutput: BatchedOutput | undefined;

function stderr(): BatchedOutput {
  if (!stderrOutput) {
    const fd2 = pino.destination({ fd: 2, sync: true });
    const output = new BatchedOutput((text) => void fd2.write(text));
    process.once('exit', () => output.flush());
    stderrOutput = output;
  }
  return stderrOutput;
}

/** Log files by path, each shared by every root logger that names it, written at exit too. */
const fileOutputs = new Map<string, BatchedOutput>();

/**
 * Opens a log file for appending and returns its descriptor (the loggers' file, and `--detach`'s
 * stdout and stderr).
 * @throws UsageError when it cannot be opened (its folder is missing, no permission)
 */
export function openLogFile(path: string): number {
  try {
    return openSync(path, 'a');
  } catch (err) {
    throw new UsageError(`log file ${path}: cannot open it for appending (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/**
 * The output of the loggers that write to `path`, opened once.
 * @throws UsageError when the file cannot be opened
 */
export function logFileOutput(path: string): BatchedOutput {
  let output = fileOutputs.get(path);
  if (!output) {
    const stream = pino.destination({ fd: openLogFile(path), sync: true });
    const opened = new BatchedOutput((text) => void stream.write(text));
    process.once('exit', () => opened.flush());
    fileOutputs.set(path, opened);
    output = opened;
  }
  return output;
}

/**
 * The one root logger of a process. `cli/` or `createApp` makes it; everything below
 * receives a child with bindings (`component`, `queue`, `task`, `taskId`).
 * Writes to stderr (or to `file`), so a command's own output on stdout stays clean: `warn` and worse at once and
 * synchronously, so the last lines before an exit or a crash are not lost; lower levels within
 * 20 ms, together (see `BatchedOutput`).
 * @throws UsageError when `WARREN_LOG_LEVEL` or `WARREN_LOG_FORMAT` holds an unknown value, or
 * the log file cannot be opened.
 */
export function createLogger(options: CreateLoggerOptions = {}): Logger {
  const level = options.level ?? defaultLogLevel();
  const file = options.file ?? (process.env.WARREN_LOG_FILE || undefined);
  const format = options.format ?? (file === undefined ? defaultLogFormat() : (fromEnv('WARREN_LOG_FORMAT', LOG_FORMATS) ?? 'pretty'));
  const colors = file === undefined && process.stderr.isTTY === true && process.env.NO_COLOR === undefined;
  const output = file === undefined ? stderr() : logFileOutput(file);
  const destination: DestinationStream = output.destination(format === 'pretty' ? (line) => formatLogRecord(line, { colors }) : undefined);
  return pino({ name: options.name ?? 'warren', level, base: options.base }, destination);
}
