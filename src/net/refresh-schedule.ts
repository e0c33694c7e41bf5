/**
 * When each book's periodic refresh is due (publish.snapshot_interval_ms, docs/wire-protocol.md §5.5): book i of n
 * is due at cycleStart + i × interval / n, so every book is refreshed exactly once per interval and the refreshes
 * are spread evenly over it. The publisher calls tick() from a timer (every REFRESH_TICK_MS at most); a tick
 * refreshes the books that came due since the last one.
 *
 * Before wire v2 the publisher refreshed ceil(n × tick / interval) books per tick, at least one: with 3 books, a
 * 5 s interval and a 50 ms tick each book went out every 150 ms (32 % of the bytes were refreshes).
 * @module
 */
export class RefreshSchedule {
  private cycleStartMs = Number.NaN;
  /** Next book (index) owed in the current cycle. */
  private cursor = 0;

  constructor(readonly intervalMs: number) {
    if (!(intervalMs > 0)) throw new RangeError(`refresh interval ${intervalMs} ms must be positive`);
  }

  /**
   * Calls refresh(i) for every book that came due by nowMs, in index order; n is the number of books now (it may
   * grow between ticks: a new book joins the current cycle at its slot). Returns the number refreshed.
   */
  tick(nowMs: number, n: number, refresh: (index: number) => void): number {
    if (n <= 0) return 0;
    if (Number.isNaN(this.cycleStartMs)) this.cycleStartMs = nowMs;
    let count = 0;
    while (nowMs - this.cycleStartMs >= this.intervalMs) {
      // A cycle ended: the books it still owes (a late timer) go now, then the next cycle starts.
      while (this.cursor < n) {
        refresh(this.cursor++);
        count++;
      }
      this.cursor = 0;
      this.cycleStartMs += this.intervalMs;
      // More than a whole cycle behind (a stalled loop): start afresh instead of refreshing everything twice.
      if (nowMs - this.cycleStartMs >= this.intervalMs) this.cycleStartMs = nowMs;
    }
    const dueCount = Math.min(n, Math.floor(((nowMs - this.cycleStartMs) * n) / this.intervalMs) + 1);
    while (this.cursor < dueCount) {
      refresh(this.cursor++);
      count++;
    }
    return count;
  }
}
