/**
 * Schemas for the values with a meaning of their own: durations, time zones, dates, cron
 * expressions, broker URLs, misfire policies.
 */
import { CronExpressionParser } from 'cron-parser';
import type { CronFields, MisfirePolicy } from './types';
import { maskUrl } from '../util/mask-url';
import { DURATION_EXAMPLES, durationMs } from './duration';
import { childPath } from './problem-path';
import { RESULT_BACKEND_EXPECTED, resultBackendUrlProblem } from './result-backend-url';
import { describeValue, integer, isMapping, object, oneOf, optional, report, required, type Schema } from './schema';

/** An interval such as `every`: a number of seconds or a duration string, above zero; in ms. */
const INTERVAL_EXPECTED = `a number of seconds or a string like ${DURATION_EXAMPLES}`;

export const interval: Schema<number> = {
  expected: INTERVAL_EXPECTED,
  check(value, path, context) {
    const ms = typeof value === 'number' || typeof value === 'string' ? durationMs(value) : undefined;
    if (ms === undefined) return report(context, path, `${describeValue(value)} is not a duration (expected ${INTERVAL_EXPECTED})`);
    if (ms <= 0) return report(context, path, `${describeValue(value)} is out of range (expected a duration above 0)`);
    return ms;
  },
};

/** Seconds (a number, or a duration string turned into seconds), above zero. */
export const seconds: Schema<number> = {
  expected: `a number of seconds above 0, or a string like ${DURATION_EXAMPLES}`,
  check(value, path, context) {
    const ms = interval.check(value, path, context);
    return ms === undefined ? undefined : ms / 1000;
  },
};

/**
 * A broker-side duration in whole milliseconds (`messageTtl`, `expires`): a number means
 * milliseconds here, as it does in RabbitMQ; a string is a duration like `60s`.
 */
export function milliseconds(min: number): Schema<number> {
  const expected = `a whole number of milliseconds >= ${min}, or a string like ${DURATION_EXAMPLES}`;
  return {
    expected,
    check(value, path, context) {
      const ms = typeof value === 'number' ? value : typeof value === 'string' ? durationMs(value) : undefined;
      if (ms === undefined || Number.isNaN(ms)) return report(context, path, `${describeValue(value)} is not a duration (expected ${expected})`);
      if (!Number.isInteger(ms)) return report(context, path, `${describeValue(value)} is not a whole number of milliseconds (expected ${expected})`);
      if (ms < min) return report(context, path, `${describeValue(value)} is out of range (expected ${expected})`);
      return ms;
    },
  };
}

/** Whether the runtime's time-zone database knows `name`. */
export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

export const timeZone: Schema<string> = {
  expected: 'e.g. UTC, Europe/Berlin',
  check(value, path, context) {
    if (typeof value === 'string' && value !== '' && isTimeZone(value)) return value;
    return report(context, path, `${describeValue(value)} is not an IANA time zone (expected e.g. UTC, Europe/Berlin)`);
  },
};

/** A date-time with `T` and an explicit offset, so that it means one instant wherever it is read. */
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i;

const INSTANT_EXPECTED = 'an ISO 8601 date-time with an offset, like 2026-12-01T08:00:00Z or 2026-12-01T08:00:00+08:00';

export const instant: Schema<Date> = {
  expected: INSTANT_EXPECTED,
  check(value, path, context) {
    const date = value instanceof Date ? new Date(value.getTime()) : typeof value === 'string' && ISO_INSTANT.test(value) ? new Date(value) : undefined;
    if (date === undefined || Number.isNaN(date.getTime())) {
      return report(context, path, `${describeValue(value)} is not a date-time (expected ${INSTANT_EXPECTED})`);
    }
    return date;
  },
};

const BROKER_PROTOCOLS = ['amqp:', 'amqps:', 'memory:'];

/** Whether `url` is one warren can connect to. */
export function isBrokerUrl(url: string): boolean {
  try {
    return BROKER_PROTOCOLS.includes(new URL(url).protocol);
  } catch {
    return false;
  }
}

/** The message for a URL that {@link isBrokerUrl} refuses; the password is masked. */
export function brokerUrlProblem(url: unknown): string {
  const shown = typeof url === 'string' ? JSON.stringify(maskUrl(url)) : describeValue(url);
  return `${shown} is not a broker URL (expected amqp://, amqps:// or memory://)`;
}

export const brokerUrl: Schema<string> = {
  expected: 'a broker URL',
  check(value, path, context) {
    if (typeof value === 'string' && isBrokerUrl(value)) return value;
    return report(context, path, brokerUrlProblem(value));
  },
};

/** `resultBackend`: rpc://, redis://, rediss://, redis+cluster://. */
export const resultBackendUrl: Schema<string> = {
  expected: RESULT_BACKEND_EXPECTED,
  check(value, path, context) {
    const problem = resultBackendUrlProblem(value);
    return problem === undefined ? (value as string) : report(context, path, problem);
  },
};

const CRON_EXPECTED = 'a string of 5 or 6 fields like "30 7 * * 1", or a mapping with minute, hour, dayOfMonth, monthOfYear, dayOfWeek';

/** The parser's complaint about a cron expression, or undefined when it is one warren accepts. */
function cronProblem(expression: string): string | undefined {
  const count = expression.split(' ').length;
  if (count < 5 || count > 6) return `${count} field${count === 1 ? '' : 's'}`;
  try {
    CronExpressionParser.parse(expression, { tz: 'UTC' });
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

const CRON_FIELD_EXPECTED = 'a cron field like *, 7, 0-30/5 or 1,3';

const cronField: Schema<string> = {
  expected: CRON_FIELD_EXPECTED,
  check(value, path, context) {
    if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return String(value);
    if (typeof value === 'string' && value.trim() !== '' && !/\s/.test(value.trim())) return value.trim();
    return report(context, path, `${describeValue(value)} is not a cron field (expected ${CRON_FIELD_EXPECTED})`);
  },
};

const cronObject = object<Partial<CronFields>>(CRON_EXPECTED, {
  minute: optional(cronField),
  hour: optional(cronField),
  dayOfMonth: optional(cronField),
  monthOfYear: optional(cronField),
  dayOfWeek: optional(cronField),
});

/** A cron expression, as a string or Celery-crontab fields; normalized to single-spaced fields. */
export const cron: Schema<string> = {
  expected: CRON_EXPECTED,
  check(value, path, context) {
    let expression: string;
    if (typeof value === 'string') {
      expression = value.trim().split(/\s+/).join(' ');
    } else if (isMapping(value)) {
      const fields = cronObject.check(value, path, context);
      if (fields === undefined) return undefined;
      const { minute = '*', hour = '*', dayOfMonth = '*', monthOfYear = '*', dayOfWeek = '*' } = fields;
      expression = [minute, hour, dayOfMonth, monthOfYear, dayOfWeek].join(' ');
    } else {
      return report(context, path, `${describeValue(value)} is not a cron expression (expected ${CRON_EXPECTED})`);
    }
    const problem = cronProblem(expression);
    if (problem === undefined) return expression;
    return report(context, path, `${JSON.stringify(expression)} is not a cron expression: ${problem} (expected ${CRON_EXPECTED})`);
  },
};

const MISFIRE_WORDS = ['run-once', 'skip', 'catch-up'] as const;
/** How many missed runs `catch-up` fires when no `max` is given. */
export const DEFAULT_CATCH_UP_MAX = 100;
const MISFIRE_EXPECTED = 'one of run-once, skip, catch-up, or a mapping like { policy: catch-up, max: 10 }';

const misfireWord = oneOf('a misfire policy', MISFIRE_WORDS);
const misfireObject = object<{ policy: (typeof MISFIRE_WORDS)[number]; max?: number }>(
  MISFIRE_EXPECTED,
  { policy: required(misfireWord), max: optional(integer(1)) },
  {
    refine(value, path, context) {
      if (value.max !== undefined && value.policy !== 'catch-up') {
        report(context, childPath(path, 'max'), 'max without policy catch-up (expected max only with catch-up)');
      }
    },
  },
);

export const misfire: Schema<MisfirePolicy> = {
  expected: MISFIRE_EXPECTED,
  check(value, path, context) {
    const chosen = typeof value === 'string' ? { policy: misfireWord.check(value, path, context) } : misfireObject.check(value, path, context);
    if (chosen?.policy === undefined) return undefined;
    if (chosen.policy !== 'catch-up') return { policy: chosen.policy };
    return { policy: 'catch-up', max: ('max' in chosen ? chosen.max : undefined) ?? DEFAULT_CATCH_UP_MAX };
  },
};
