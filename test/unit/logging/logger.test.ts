import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../../../src/errors';
import { createLogger, defaultLogFormat, defaultLogLevel, normalizeLogLevel } from '../../../src/logging/logger';
import { LOG_BATCH_MS } from '../../../src/logging/batched-output';

describe('the logger defaults', () => {
  const saved = { format: process.env.WARREN_LOG_FORMAT, level: process.env.WARREN_LOG_LEVEL, tty: process.stderr.isTTY };
  afterEach(() => {
    for (const [name, value] of [['WARREN_LOG_FORMAT', saved.format], ['WARREN_LOG_LEVEL', saved.level]] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    process.stderr.isTTY = saved.tty;
  });

  test('format: readable lines on a terminal, JSON lines elsewhere', () => {
    delete process.env.WARREN_LOG_FORMAT;
    process.stderr.isTTY = true;
    expect(defaultLogFormat()).toBe('pretty');
    process.stderr.isTTY = false;
    expect(defaultLogFormat()).toBe('json');
  });

  test('WARREN_LOG_FORMAT chooses, whatever stderr is; empty counts as unset', () => {
    process.stderr.isTTY = true;
    process.env.WARREN_LOG_FORMAT = 'json';
    expect(defaultLogFormat()).toBe('json');
    process.stderr.isTTY = false;
    process.env.WARREN_LOG_FORMAT = 'pretty';
    expect(defaultLogFormat()).toBe('pretty');
    process.env.WARREN_LOG_FORMAT = '';
    expect(defaultLogFormat()).toBe('json');
  });

  test('WARREN_LOG_LEVEL, else the caller\'s default', () => {
    delete process.env.WARREN_LOG_LEVEL;
    expect(defaultLogLevel('warn')).toBe('warn');
    process.env.WARREN_LOG_LEVEL = 'debug';
    expect(defaultLogLevel('warn')).toBe('debug');
  });

  test("any case, and Celery's names: INFO, WARNING, CRITICAL", () => {
    for (const [given, level] of [['INFO', 'info'], ['WARNING', 'warn'], ['warning', 'warn'], ['CRITICAL', 'fatal'], ['Error', 'error']]) {
      process.env.WARREN_LOG_LEVEL = given;
      expect(defaultLogLevel()).toBe(level);
    }
    expect(normalizeLogLevel(' Debug ')).toBe('debug');
    expect(normalizeLogLevel('LOUD')).toBe('loud');
  });

  test('an unknown value is a UsageError naming the variable and the choices', () => {
    process.env.WARREN_LOG_FORMAT = 'xml';
    expect(() => defaultLogFormat()).toThrow(UsageError);
    expect(() => defaultLogFormat()).toThrow('environment variable WARREN_LOG_FORMAT is "xml" (expected one of json, pretty)');
    process.env.WARREN_LOG_LEVEL = 'loud';
    expect(() => defaultLogLevel()).toThrow('environment variable WARREN_LOG_LEVEL is "loud" (expected one of fatal, error, warn, info, debug, trace, silent)');
  });
});

describe('a log file (--logfile)', () => {
  const saved = process.env.WARREN_LOG_FORMAT;
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'warren-logfile-'));
    delete process.env.WARREN_LOG_FORMAT;
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
    if (saved === undefined) delete process.env.WARREN_LOG_FORMAT;
    else process.env.WARREN_LOG_FORMAT = saved;
  });

  test('readable lines without colours, appended; loggers naming the same file share it; json on request', async () => {
    const file = join(dir, 'w.log');
    createLogger({ file }).warn({ queue: 'q1' }, 'first');
    createLogger({ file }).error('second');
    createLogger({ file, format: 'json' }).warn('third');
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} WARN  first queue=q1$/);
    expect(lines[1]).toMatch(/ ERROR second$/);
    expect(JSON.parse(lines[2])).toMatchObject({ level: 40, msg: 'third' });
    // Lines below warn wait for their batch, as on stderr.
    createLogger({ file }).info('fourth');
    await new Promise((resolve) => setTimeout(resolve, LOG_BATCH_MS * 3));
    expect(readFileSync(file, 'utf8')).toMatch(/INFO  fourth\n$/);
    expect(readFileSync(file, 'utf8')).not.toContain('\u001b[');
  });

  test('a file that cannot be opened: a UsageError naming it', () => {
    const file = join(dir, 'missing', 'w.log');
    expect(() => createLogger({ file })).toThrow(new UsageError(`log file ${file}: cannot open it for appending (ENOENT)`));
  });
});
