/**
 * A report said at once, then at most once per `intervalMs` with the count since, so a flood is a few reports, not
 * one per event: the subscriber's and the bridge's `error` events, and every RateLimitedLog line (core/log.ts).
 * `due()` allocates nothing; the report itself (cold) is its caller's. @module
 */

/**
 * How a rate-limited report words its count `n` (this one included): the first has no earlier report to count from
 * ("1 dropped since the last such report" said so of the first until 2026-12-07). `what`: what the n are.
 */
export function reportCountWords(first: boolean, n: number, what = "dropped"): string {
  return first ? "the first such report" : `${n} ${what} since the last such report`;
}

export class ReportLimit {
  private since = 0;
  private toldMs = -Infinity;
  /** Reports said so far (due() returned more than 0). */
  private said = 0;
  constructor(private readonly intervalMs: number) {}

  /** One more: how many to say now (this one included), or 0 when one was said within the interval (told with the next). */
  due(nowMs: number): number {
    this.since++;
    if (nowMs - this.toldMs < this.intervalMs) return 0;
    const n = this.since;
    this.since = 0;
    this.toldMs = nowMs;
    this.said++;
    return n;
  }

  /**
   * What the report due() just allowed says of its count `n`: the first has no earlier report to count from (it read
   * "1 dropped since the last such report" before 2026-12-07).
   */
  countWords(n: number, what = "dropped"): string {
    return reportCountWords(this.said === 1, n, what);
  }
}
