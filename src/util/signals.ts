import { constants } from 'node:os';

const SIGNALS = constants.signals as Readonly<Record<string, number | undefined>>;

/**
 * The signal a `revoke --terminate` names, read as Celery's `signals.signum` reads it: a name
 * with or without `SIG`, in any case (`SIGKILL`, `KILL`, `kill`), or its number (`9`).
 * Undefined when this system knows no such signal.
 */
export function signalName(signal: string | number): NodeJS.Signals | undefined {
  const text = String(signal).trim().toUpperCase();
  if (/^\d+$/.test(text)) return Object.entries(SIGNALS).find(([, number]) => number === Number(text))?.[0] as NodeJS.Signals | undefined;
  const name = text.startsWith('SIG') ? text : `SIG${text}`;
  return SIGNALS[name] === undefined ? undefined : (name as NodeJS.Signals);
}

/** The number of a signal {@link signalName} knows (`SIGTERM` -> 15), as Celery's `signum` field. */
export function signalNumber(signal: string | number): number | undefined {
  const name = signalName(signal);
  return name === undefined ? undefined : SIGNALS[name];
}
