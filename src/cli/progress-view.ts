import type { ResultProgress } from '../result';

/** What {@link ProgressView} writes to: a terminal (redrawn in place) or a file or pipe (a line each). */
export interface ProgressOutput {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/**
 * `warren send --wait`'s view of a task's progress (`ctx.progress`, or Python's
 * `update_state('PROGRESS', meta={'current': …, 'total': …})`). On a terminal, one bar redrawn
 * in place, with the rate and the time left:
 *
 * `[██████████░░░░░░░░░░░░░░░░░░░░]  30/100  30%  12.5/s  ETA 6s`
 *
 * Elsewhere (a file, a pipe, CI logs), a plain line per update: `progress 30/100 (30%) stage=copy`.
 * Twenty lines of its own rather than a dependency: one bar, redrawn, is all it needs.
 */
export class ProgressView {
  private first: { at: number; current: number } | undefined;
  private drawn = false;

  constructor(
    private readonly out: ProgressOutput,
    private readonly now: () => number = () => performance.now(),
  ) {}

  update(progress: ResultProgress): void {
    const at = this.now();
    this.first ??= { at, current: progress.current };
    if (this.out.isTTY) {
      this.out.write(`\r${renderBar(progress, this.first, at, this.out.columns ?? 80)}\x1b[K`);
      this.drawn = true;
    } else {
      this.out.write(`${renderLine(progress)}\n`);
    }
  }

  /** The task is done: the bar's line is ended, so what comes next starts on a line of its own. */
  finish(): void {
    if (this.drawn) this.out.write('\n');
    this.drawn = false;
  }
}

function percent({ current, total }: ResultProgress): number {
  return total > 0 ? Math.max(0, Math.min(100, Math.floor((current / total) * 100))) : 0;
}

/** `progress 30/100 (30%) stage=copy`. */
export function renderLine(progress: ResultProgress): string {
  const extra = Object.entries(progress.meta).map(([key, value]) => ` ${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
  return `progress ${progress.current}/${progress.total} (${percent(progress)}%)${extra.join('')}`;
}

/** The bar, `width` columns at most, with the rate since the first update and the time left at that rate. */
export function renderBar(progress: ResultProgress, first: { at: number; current: number }, at: number, width: number): string {
  const { current, total } = progress;
  const seconds = (at - first.at) / 1000;
  const rate = seconds > 0 ? (current - first.current) / seconds : 0;
  const eta = rate > 0 && total >= current ? formatSeconds((total - current) / rate) : '?';
  const tail = `  ${current}/${total}  ${String(percent(progress)).padStart(3)}%  ${rate > 0 ? `${rate.toFixed(1)}/s` : '-/s'}  ETA ${eta}`;
  const barWidth = Math.max(10, Math.min(40, width - tail.length - 3));
  const filled = Math.round((percent(progress) / 100) * barWidth);
  return `[${'█'.repeat(filled)}${'░'.repeat(barWidth - filled)}]${tail}`;
}

function formatSeconds(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
