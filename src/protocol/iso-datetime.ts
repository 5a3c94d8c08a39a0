import { InvalidMessageError } from '../errors';

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/**
 * A date in Python's `datetime.isoformat()` form for an aware UTC datetime, always with six
 * fraction digits: `2026-11-23T12:52:21.358000+00:00`. JavaScript dates hold milliseconds,
 * so the last three digits are always `000`.
 *
 * @throws InvalidMessageError for an invalid Date or a year outside 1–9999 (Python's range).
 */
export function formatIsoDatetime(date: Date, label = 'date'): string {
  const time = date.getTime();
  if (Number.isNaN(time)) throw new InvalidMessageError(`${label} is an invalid Date`);
  const year = date.getUTCFullYear();
  if (year < 1 || year > 9999) {
    throw new InvalidMessageError(`${label} is in year ${year}, outside the years 1-9999 that Python's datetime can hold`);
  }
  return (
    `${pad(year, 4)}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())}` +
    `T${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}` +
    `.${pad(date.getUTCMilliseconds(), 3)}000+00:00`
  );
}

const ISO_DATETIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2})(?::(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?)?(?:([Zz])|([+-])(\d{2})(?::?(\d{2})(?::?(\d{2})(?:\.\d+)?)?)?)?$/;

/**
 * Reads the ISO 8601 dates Python writes: `datetime.isoformat()` with or without a fraction or
 * an offset, kombu 5.2's `…Z`, a date alone (`2026-11-23`, midnight). Digits past the
 * millisecond are dropped (truncated). **A value without an offset is read as UTC.** A Python
 * worker would read it in its `timezone` setting; warren has no such setting at this layer,
 * and Celery's own senders write `+00:00`.
 *
 * @returns the Date, or `null` when the text is not such a date (the caller names the field).
 */
export function parseIsoDatetime(text: string): Date | null {
  const m = ISO_DATETIME.exec(text);
  if (!m) return null;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const [hour, minute, second] = [Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0)];
  const millis = Number((m[7] ?? '').slice(0, 3).padEnd(3, '0'));
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  if (hour > 23 || minute > 59 || second > 59) return null;

  let offsetSeconds = 0;
  if (m[9]) {
    const [offHours, offMinutes, offSeconds] = [Number(m[10]), Number(m[11] ?? 0), Number(m[12] ?? 0)];
    if (offHours > 23 || offMinutes > 59 || offSeconds > 59) return null;
    offsetSeconds = (m[9] === '-' ? -1 : 1) * (offHours * 3600 + offMinutes * 60 + offSeconds);
  }
  // setUTCFullYear, not Date.UTC: Date.UTC maps years 0-99 to 1900-1999.
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, millis);
  return new Date(date.getTime() - offsetSeconds * 1000);
}

function daysInMonth(year: number, month: number): number {
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1] ?? 0;
}
