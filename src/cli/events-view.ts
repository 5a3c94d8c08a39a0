import type { FleetState } from '../control';
import { plural } from './fleet-options';

/**
 * The screen of `warren events`: the workers with their state, active and processed counts and
 * the age of their last heartbeat, the task rates, the latest failures. Pure: state and clock
 * in, lines out (no colours; the terminal is cleared by the caller).
 */
export function renderFleet(state: FleetState, now: number, header: string, width = 120): string {
  const clip = (line: string): string => (line.length > width ? `${line.slice(0, width - 1)}…` : line);
  const time = new Date(now).toISOString().slice(11, 19);
  const lines = [`${header}   ${time} UTC`, ''];
  const workers = state.workerList(now);
  lines.push(`workers (${workers.filter((w) => w.alive).length} online)`);
  if (workers.length === 0) lines.push('  none heard from yet (a worker sends a heartbeat every 2 s)');
  const rows = workers.map((w) => [
    w.hostname,
    w.alive ? 'online' : 'offline',
    w.active === undefined ? '' : `active ${w.active}`,
    w.processed === undefined ? '' : `processed ${w.processed}`,
    `heard ${Math.max(0, Math.round((now - w.lastHeard) / 100) / 10)} s ago`,
    w.software ?? '',
  ]);
  const widths = rows.reduce<number[]>((acc, row) => row.map((cell, i) => Math.max(acc[i] ?? 0, cell.length)), []);
  for (const row of rows) lines.push(clip(`  ${row.map((cell, i) => cell.padEnd(widths[i])).join('  ').trimEnd()}`));
  const r = state.rates(now);
  const rate = (n: number): string => (Math.round(n * 10) / 10).toFixed(1);
  lines.push('', `tasks per second (last 10 s): received ${rate(r.received)}  started ${rate(r.started)}  succeeded ${rate(r.succeeded)}  failed ${rate(r.failed)}  retried ${rate(r.retried)}  revoked ${rate(r.revoked)}`);
  const failures = state.latestFailures();
  lines.push('', `latest failures (${plural(failures.length, 'failure')})`);
  if (failures.length === 0) lines.push('  none');
  for (const f of failures) {
    lines.push(clip(`  ${new Date(f.at).toISOString().slice(11, 19)}  ${f.name ?? '?'}[${f.uuid}] on ${f.hostname}: ${f.exception}`));
  }
  return `${lines.join('\n')}\n`;
}
