const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|m|h|d)?$/;

/** The examples every duration message shows. */
export const DURATION_EXAMPLES = '250ms, 10s, 1.5m, 2h';

/**
 * Milliseconds in a duration: `250ms`, `10s`, `1.5m`, `2h`, `1d`, or a number (or numeric
 * string) of seconds. Negative, empty and unit-less garbage are refused.
 *
 * @throws Error whose message is ready to be a definitions problem:
 *   `"10 parsecs" is not a duration (expected a number of seconds or a string like 250ms, 10s, 1.5m, 2h)`
 */
export function parseDuration(text: string | number): number {
  const ms = durationMs(text);
  if (ms === undefined) {
    const shown = typeof text === 'string' ? JSON.stringify(text) : String(text);
    throw new Error(`${shown} is not a duration (expected a number of seconds or a string like ${DURATION_EXAMPLES})`);
  }
  return ms;
}

/** Like {@link parseDuration}, but undefined instead of throwing. */
export function durationMs(text: string | number): number | undefined {
  if (typeof text === 'number') return Number.isFinite(text) && text >= 0 ? roundMs(text * 1000) : undefined;
  const match = DURATION.exec(text.trim());
  if (!match) return undefined;
  return roundMs(Number(match[1]) * UNIT_MS[match[2] ?? 's']);
}

/** Rounds away binary noise (1.1 * 1000 = 1100.0000000000002) but keeps microseconds. */
function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
