import { reportCountWords } from "../core/log.ts";

/**
 * Cold: a refusal said in an 'error' at once, then at most once per `intervalMs` with the count since (each one
 * counted by its caller as well), so a flood of them is a few events, not one per datagram. @module
 */
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
  countWords(n: number): string {
    return reportCountWords(this.said === 1, n);
  }
}
