/**
 * A venue's closed topics (instrument-watch.ts: no longer listed as trading, their books HALTED / instrument_closed),
 * by subscription index and per market, with what the schedule asks of a market every check answered without a walk
 * (cold, but asked each second for each market while thousands of options may be closed): how many it has, and
 * whether one of them may still be listed again (ClosedKind). Every change goes through add, delete and
 * expiryChanged, so nothing derived is cleared by hand elsewhere.
 * @module
 */
import type { MarketName } from "../../core/types.ts";
import type { ClosedKind } from "./closed-schedule.ts";

interface MarketClosed {
  readonly indexes: Set<number>;
  /** The latest listed expiry among them (Infinity while one has none); null after a change, until next asked. */
  latestExpiryMs: number | null;
}

export class ClosedTopics {
  private readonly all = new Set<number>();
  private readonly byMarket = new Map<MarketName, MarketClosed>();

  constructor(
    private readonly marketOf: (index: number) => MarketName,
    /** The topic's listed expiry (wall clock ms), undefined for none or unknown. */
    private readonly expiryOf: (index: number) => number | undefined,
    /** Whether its listing is asked for (not a config override's): one never asked is left out of kindAt. */
    private readonly asked: (index: number) => boolean = () => true,
  ) {}

  get size(): number {
    return this.all.size;
  }

  has(index: number): boolean {
    return this.all.has(index);
  }

  values(): IterableIterator<number> {
    return this.all.values();
  }

  add(index: number): void {
    if (this.all.has(index)) return;
    this.all.add(index);
    const market = this.marketOf(index);
    let m = this.byMarket.get(market);
    if (m === undefined) this.byMarket.set(market, (m = { indexes: new Set(), latestExpiryMs: null }));
    m.indexes.add(index);
    if (m.latestExpiryMs !== null && this.asked(index)) m.latestExpiryMs = Math.max(m.latestExpiryMs, this.expiryOf(index) ?? Infinity);
  }

  delete(index: number): void {
    if (!this.all.delete(index)) return;
    const m = this.byMarket.get(this.marketOf(index))!;
    m.indexes.delete(index);
    m.latestExpiryMs = null; // a break's end reopens thousands together: recomputed once, when next asked
  }

  /** The topic's listed expiry changed (any topic: only a closed one's counts). */
  expiryChanged(index: number): void {
    if (this.all.has(index)) this.byMarket.get(this.marketOf(index))!.latestExpiryMs = null;
  }

  /** How many of the market's topics are closed. */
  countIn(market: MarketName): number {
    return this.byMarket.get(market)?.indexes.size ?? 0;
  }

  /**
   * The market's closed topics whose listing is asked for, at `nowMs` (wall clock): none, some that may be listed
   * again, or all past their listed expiry. None asked for is "none": no schedule is kept for them.
   */
  kindAt(market: MarketName, nowMs: number): ClosedKind {
    const m = this.byMarket.get(market);
    if (m === undefined || m.indexes.size === 0) return "none";
    if (m.latestExpiryMs === null) {
      let latest = -Infinity;
      for (const index of m.indexes) if (this.asked(index)) latest = Math.max(latest, this.expiryOf(index) ?? Infinity);
      m.latestExpiryMs = latest;
    }
    if (m.latestExpiryMs === -Infinity) return "none";
    return m.latestExpiryMs > nowMs ? "may_reopen" : "expired";
  }
}
