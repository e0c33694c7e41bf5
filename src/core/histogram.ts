/**
 * Latency histogram with fixed microsecond buckets (Prometheus `le` semantics: a value v lands in the first
 * bucket with v ≤ bound). Observing is allocation-free; rendering and quantiles are cold.
 * HOT PATH: observe() allocates nothing.
 * @module
 */

/** Upper bounds in µs: 1-2-5 steps from 1 µs to 10 s. */
export const LATENCY_BUCKETS_US: readonly number[] = [
  1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000,
  1_000_000, 2_000_000, 5_000_000, 10_000_000,
];

export class LatencyHistogram {
  /** Per-bucket counts (not cumulative); the last slot counts values above every bound (+Inf). */
  readonly counts: Float64Array;
  count = 0;
  sumUs = 0;

  constructor(readonly boundsUs: readonly number[] = LATENCY_BUCKETS_US) {
    this.counts = new Float64Array(boundsUs.length + 1);
  }

  observe(valueUs: number): void {
    const bounds = this.boundsUs;
    let i = 0;
    while (i < bounds.length && valueUs > bounds[i]!) i++;
    this.counts[i]!++;
    this.count++;
    this.sumUs += valueUs;
  }

  reset(): void {
    this.counts.fill(0);
    this.count = 0;
    this.sumUs = 0;
  }

  /** Upper bound of the bucket holding quantile q (0..1); Infinity if it falls in +Inf; NaN when empty. */
  quantileUpperBoundUs(q: number): number {
    if (this.count === 0) return NaN;
    const target = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i]!;
      if (seen >= target) return i < this.boundsUs.length ? this.boundsUs[i]! : Infinity;
    }
    return Infinity;
  }

  /** Adds another histogram with the same bounds (aggregation across workers). */
  merge(other: { counts: ArrayLike<number>; count: number; sumUs: number }): void {
    for (let i = 0; i < this.counts.length; i++) this.counts[i]! += other.counts[i] ?? 0;
    this.count += other.count;
    this.sumUs += other.sumUs;
  }
}
