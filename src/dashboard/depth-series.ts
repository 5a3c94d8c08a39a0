/** One queue's depth at one time: `[unix ms, ready messages]`. */
export type DepthPoint = [number, number];

export interface DepthSeriesOptions {
  /** How far back points are kept. @defaultValue one hour */
  windowMs?: number;
  /** Points kept per queue at most: samples closer than `windowMs / maxPoints` share a point. @defaultValue 720 (one per 5 s) */
  maxPoints?: number;
}

/**
 * Each queue's depth over the last hour, for the chart: one point per slot of
 * `windowMs / maxPoints` (a later sample in the same slot replaces the earlier), points older
 * than the window dropped. Bounded per queue whatever the sampling rate; pure.
 */
export class DepthSeries {
  private readonly series = new Map<string, DepthPoint[]>();
  private readonly windowMs: number;
  private readonly spacingMs: number;
  private readonly maxPoints: number;

  constructor(options: DepthSeriesOptions = {}) {
    this.windowMs = options.windowMs ?? 3_600_000;
    this.maxPoints = options.maxPoints ?? 720;
    this.spacingMs = this.windowMs / this.maxPoints;
  }

  add(queue: string, at: number, ready: number): void {
    const points = this.series.get(queue) ?? [];
    const last = points[points.length - 1];
    if (last && Math.floor(last[0] / this.spacingMs) === Math.floor(at / this.spacingMs)) last[1] = ready;
    else points.push([at, ready]);
    while (points.length > 0 && (points[0][0] < at - this.windowMs || points.length > this.maxPoints)) points.shift();
    this.series.set(queue, points);
  }

  /** The points of a queue, oldest first. */
  points(queue: string): readonly DepthPoint[] {
    return this.series.get(queue) ?? [];
  }

  /** Ready messages per second over the last `spanMs` (positive: growing), from the first and last point in it. */
  growth(queue: string, now: number, spanMs = 30_000): number {
    const points = this.points(queue).filter(([at]) => at >= now - spanMs);
    if (points.length < 2) return 0;
    const [t0, d0] = points[0];
    const [t1, d1] = points[points.length - 1];
    return t1 > t0 ? ((d1 - d0) * 1000) / (t1 - t0) : 0;
  }
}
