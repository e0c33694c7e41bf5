/**
 * When each book's periodic refresh is due (publish.snapshot_interval_ms, docs/wire-protocol.md §5.5): book i of the
 * n books a cycle starts with is due at cycleStart + i × interval / n, so every book is refreshed once per interval
 * and the refreshes are spread evenly over it. The publisher calls tick() from a timer (every REFRESH_TICK_MS at
 * most); a tick refreshes the books that came due since the last one.
 *
 * Books that join during a cycle (n grew to n′: another venue's list registered) leave the others' slots as they
 * were; book j of them is due at cycleStart + j × interval / n′, the slot it will have (or a later one) in the next
 * cycles, and one whose slot has passed waits for the next cycle's: a book is first refreshed within one interval of
 * joining, never two refreshes of it more than an interval apart, and each lot is refreshed at most at the steady
 * rate (n′ per interval), so a tick holds a slice per lot that joined, never a lot's books whose slots passed. Until 2026-12-07 every slot was i × interval / n with the n of the tick: 20,000 books joining 100
 * halfway through a cycle made every book whose slot had passed due at once, ~10,000 refreshes in one turn ahead of
 * live deltas (test/net/refresh-cadence.test.ts).
 *
 * Before wire v2 the publisher refreshed ceil(n × tick / interval) books per tick, at least one: with 3 books, a
 * 5 s interval and a 50 ms tick each book went out every 150 ms (32 % of the bytes were refreshes).
 * @module
 */

/** Books [from, to) due at cycleStart + j × interval / n; `cursor` the next owed. */
interface Slots {
  from: number;
  to: number;
  n: number;
  cursor: number;
}

export class RefreshSchedule {
  private cycleStartMs = Number.NaN;
  /** The books the cycle started with (first), then each lot that joined during it (cold: one object per lot). */
  private readonly lots: Slots[] = [{ from: 0, to: 0, n: 0, cursor: 0 }];
  /** Books known to this cycle (the last n seen). */
  private seen = 0;

  constructor(readonly intervalMs: number) {
    if (!(intervalMs > 0)) throw new RangeError(`refresh interval ${intervalMs} ms must be positive`);
  }

  /**
   * Calls refresh(i) for every book that came due by nowMs; n is the number of books now (it may grow between
   * ticks, never shrink). Returns the number refreshed.
   */
  tick(nowMs: number, n: number, refresh: (index: number) => void): number {
    if (n <= 0) return 0;
    const intervalMs = this.intervalMs;
    if (Number.isNaN(this.cycleStartMs)) this.startCycle(nowMs, n);
    const lots = this.lots;
    let count = 0;
    while (nowMs - this.cycleStartMs >= intervalMs) {
      // A cycle ended: the books it still owes (a late timer) go now, then the next cycle starts.
      for (let l = 0; l < lots.length; l++) {
        const lot = lots[l]!;
        while (lot.cursor < lot.to) {
          refresh(lot.cursor++);
          count++;
        }
      }
      // More than a whole cycle behind (a stalled loop): start afresh instead of refreshing everything twice.
      this.startCycle(nowMs - this.cycleStartMs >= 2 * intervalMs ? nowMs : this.cycleStartMs + intervalMs, n);
    }
    const elapsedMs = nowMs - this.cycleStartMs;
    if (n > this.seen) {
      // Cold: books joined. Those whose slot has passed are not owed this cycle (the next one's slot is sooner than
      // an interval from now).
      lots.push({ from: this.seen, to: n, n, cursor: Math.max(this.seen, Math.ceil((elapsedMs * n) / intervalMs)) });
      this.seen = n;
    }
    for (let l = 0; l < lots.length; l++) {
      const lot = lots[l]!;
      const due = Math.min(lot.to, Math.floor((elapsedMs * lot.n) / intervalMs) + 1);
      while (lot.cursor < due) {
        refresh(lot.cursor++);
        count++;
      }
    }
    return count;
  }

  private startCycle(startMs: number, n: number): void {
    this.cycleStartMs = startMs;
    const first = this.lots[0]!;
    first.to = first.n = n;
    first.cursor = 0;
    this.lots.length = 1;
    this.seen = n;
  }
}
