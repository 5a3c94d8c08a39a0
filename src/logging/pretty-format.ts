/**
 * warren's human-readable log format: one pino JSON record in, one line out (plus an error's
 * stack below it, indented), in the spirit of pino-pretty:
 *
 * ```
 * 14:03:07.412 INFO  [worker] worker ready hostname=w1@host queues=for_task1 concurrency=8 prefetch=8
 * 14:03:09.020 WARN  [worker] task retrying task=app1.tasks1.deal1 taskId=5b1f… countdown=2
 * ```
 *
 * Pure: no I/O. The logger decides where the line goes and whether it is coloured.
 */

export interface PrettyFormatOptions {
  /** ANSI colours (level, component, keys). @defaultValue false */
  colors?: boolean;
  /** Renders the time; tests pin it. @defaultValue local `HH:MM:SS.mmm` */
  formatTime?: (time: Date) => string;
}

const LEVELS: Readonly<Record<number, { label: string; color: string }>> = {
  10: { label: 'TRACE', color: '90' },
  20: { label: 'DEBUG', color: '34' },
  30: { label: 'INFO', color: '32' },
  40: { label: 'WARN', color: '33' },
  50: { label: 'ERROR', color: '31' },
  60: { label: 'FATAL', color: '41;97' },
};

/** Keys the line shows in its own places, or that every record of warren's carries. */
const SHOWN_ELSEWHERE = new Set(['level', 'time', 'msg', 'component', 'err', 'pid']);

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

function localTime(time: Date): string {
  return `${pad(time.getHours())}:${pad(time.getMinutes())}:${pad(time.getSeconds())}.${pad(time.getMilliseconds(), 3)}`;
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  // Durations measured with performance.now(): three decimals are plenty to read.
  if (typeof value === 'number' && !Number.isInteger(value)) return String(Math.round(value * 1000) / 1000);
  if (Array.isArray(value) && value.every((item) => typeof item === 'string' && /^[^\s",=]+$/.test(item))) {
    return value.length > 0 ? value.join(',') : '[]';
  }
  return JSON.stringify(value) ?? String(value);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `err` as pino's serializer writes it (`{ type, message, stack, code, … }`), or a plain string. */
function formatError(err: unknown): { inline: string; stack: string | undefined } {
  if (!isRecord(err)) return { inline: formatValue(err), stack: undefined };
  const type = typeof err.type === 'string' ? err.type : 'Error';
  const code = typeof err.code === 'string' ? ` [${err.code}]` : '';
  const message = typeof err.message === 'string' ? err.message : JSON.stringify(err);
  const stack = typeof err.stack === 'string' ? err.stack.split('\n').slice(1).join('\n') : undefined;
  return { inline: JSON.stringify(`${type}${code}: ${message}`), stack: stack || undefined };
}

/** One log record (a line of pino JSON) as a line for a person. A line that is not JSON passes unchanged. */
export function formatLogRecord(json: string, options: PrettyFormatOptions = {}): string {
  let record: unknown;
  try {
    record = JSON.parse(json);
  } catch {
    return json.endsWith('\n') ? json : `${json}\n`;
  }
  if (!isRecord(record)) return `${json.trimEnd()}\n`;
  const paint = (code: string, text: string): string => (options.colors ? `\u001b[${code}m${text}\u001b[0m` : text);
  const level = LEVELS[Number(record.level)] ?? { label: String(record.level).toUpperCase(), color: '0' };
  const time = typeof record.time === 'number' || typeof record.time === 'string' ? new Date(record.time) : new Date();
  const parts = [paint('2', (options.formatTime ?? localTime)(time)), paint(level.color, level.label.padEnd(5))];
  if (record.component !== undefined) parts.push(paint('36', `[${formatValue(record.component)}]`));
  if (typeof record.msg === 'string' && record.msg !== '') parts.push(record.msg);
  const error = record.err === undefined ? undefined : formatError(record.err);
  if (error) parts.push(`${paint('2', 'err=')}${error.inline}`);
  for (const [key, value] of Object.entries(record)) {
    if (SHOWN_ELSEWHERE.has(key) || value === undefined) continue;
    if (key === 'name' && value === 'warren') continue;
    parts.push(`${paint('2', `${key}=`)}${formatValue(value)}`);
  }
  const stack = error?.stack ? `\n${error.stack.replace(/^\s*/gm, '    ')}` : '';
  return `${parts.join(' ')}${stack}\n`;
}
