/**
 * When a market's closed instruments (instrument-watch.ts: no longer listed as trading, their books HALTED /
 * instrument_closed) are asked for next (cold). One deadline per market for all its closed symbols, which ride one
 * listing query together, so hundreds of closed symbols or many markets never make more than one query per market at
 * a time, each through the venue's REST budget:
 * - a closure, or a reopening (a venue-wide break may be ending symbol by symbol), asks again CLOSED_RETRY_BASE_MS
 *   (15 s) later; a closure at a listed expiry does not (that symbol never comes back);
 * - each query since that still leaves a closed symbol (answered or failed) waits twice as long as the one before, up
 *   to CLOSED_RETRY_MAX_MS (60 s): a break of any length (Binance BREAK during maintenance, a Bybit or OKX
 *   suspension) has its books back within a minute of trading resuming;
 * - a market whose closed symbols are all past the expiry their listing gave (delivered, exercised: never listed
 *   again) is asked every listing period (`listingMs`, 5 min), a failed query after at most RELOAD_RETRY_MS;
 * - queries failing in a row (REST down, or the market's listing request failing for good) wait longer each time:
 *   the wait above doubled per failure after the first, up to CLOSED_FAILED_MAX_MS (30 min); an answer ends the
 *   streak (so do the closures and reopenings an answer finds: the first wait again; not those of an answer in part
 *   that left a closed symbol unanswered: the first wait, the streak kept). A closure at a listed expiry
 *   does not: the clock closed it, not an answer, and REST may be failing still (until s-instleft this comment said
 *   every closure did). Until s-binmisc a market whose only books were closed and whose listing failed for good was
 *   asked every minute for ever.
 * Outside a failure streak no wait is longer than the listing period (tests shorten it). Deadlines are against the
 * adapter's clock; one a clock stepped back left further ahead than any wait is brought back (during a failure streak,
 * to the wait the streak had reached).
 * @module
 */
import type { MarketName } from "../../core/types.ts";
import { RELOAD_RETRY_MS } from "./instrument-reload.ts";

/** The first wait after a closure or a reopening. */
export const CLOSED_RETRY_BASE_MS = 15_000;
/** The longest wait while a closed symbol may come back (not past its listed expiry). */
export const CLOSED_RETRY_MAX_MS = 60_000;
/** The longest wait after queries failing in a row. */
export const CLOSED_FAILED_MAX_MS = 1_800_000;

/** A market's closed symbols: none, some that may come back, or only ones past their listed expiry. */
export type ClosedKind = "none" | "may_reopen" | "expired";

export class ClosedSchedule {
  /**
   * Per market: the next query's time, the wait it was set with, the queries since the last closure or reopening, the
   * failures in a row.
   */
  private readonly markets = new Map<MarketName, { dueMs: number; waitMs: number; step: number; failed: number }>();
  readonly baseMs: number;
  readonly maxMs: number;

  constructor(
    private readonly listingMs: number,
    private readonly now: () => number,
    /** What the market's closed symbols are now (the watch's closed set and listed expiries). */
    private readonly kindOf: (market: MarketName) => ClosedKind,
  ) {
    this.maxMs = Math.min(CLOSED_RETRY_MAX_MS, listingMs);
    this.baseMs = Math.min(CLOSED_RETRY_BASE_MS, this.maxMs);
  }

  /** The wait after `step` queries since the last closure or reopening. */
  waitMs(market: MarketName, step: number): number {
    return this.kindOf(market) === "may_reopen" ? Math.min(this.maxMs, this.baseMs * 2 ** Math.min(step, 30)) : this.listingMs;
  }

  /**
   * A symbol of the market closed or reopened (an answer said so): its closed symbols are asked for after the first
   * wait (no later), the failure streak over unless the answer left some of the closed symbols it carried unanswered
   * (`endsStreak` false: a PartialAnswer; until s-instleft2 a reopening in the answered part ended the streak of the
   * part failing for good). One closed past its listed expiry (`expired`: by the clock) never comes back, so it
   * starts a schedule if none is kept, and neither shortens one nor ends its failure streak.
   */
  soon(market: MarketName, expired = false, endsStreak = true): void {
    if (this.kindOf(market) === "none") return void this.markets.delete(market);
    const m = this.markets.get(market);
    if (expired && m !== undefined) return;
    const waitMs = this.waitMs(market, 0);
    this.markets.set(market, { dueMs: Math.min(this.now() + waitMs, m?.dueMs ?? Infinity), waitMs, step: 1, failed: endsStreak ? 0 : (m?.failed ?? 0) });
  }

  /** A query carrying the market's closed symbols was answered (`failed` false) or failed: the next wait. */
  asked(market: MarketName, failed: boolean): void {
    const kind = this.kindOf(market);
    if (kind === "none") return void this.markets.delete(market);
    const m = this.markets.get(market) ?? { dueMs: 0, waitMs: 0, step: 0, failed: 0 };
    const inRow = failed ? m.failed + 1 : 0;
    const waitMs = kind === "expired" && failed ? Math.min(this.listingMs, RELOAD_RETRY_MS) : this.waitMs(market, m.step);
    // Failing in a row: doubled per failure after the first (after a closure 15 s, 30 s, 2 min, 4 min … 30 min).
    const backedOffMs = inRow > 1 ? Math.max(waitMs, Math.min(CLOSED_FAILED_MAX_MS, waitMs * 2 ** Math.min(inRow - 1, 30))) : waitMs;
    this.markets.set(market, { dueMs: this.now() + backedOffMs, waitMs: backedOffMs, step: m.step + 1, failed: inRow });
  }

  /** When the market's closed symbols are to be asked for next (Infinity: none closed). */
  dueMs(market: MarketName): number {
    const m = this.markets.get(market);
    if (m === undefined) return Infinity;
    const kind = this.kindOf(market);
    if (kind === "none") {
      this.markets.delete(market);
      return Infinity;
    }
    // Failing in a row: no further than the backed-off wait it was set with (a step back of the clock during a streak
    // stretched a 2 min wait to 30 min until s-rd13c).
    const kindMs = kind === "may_reopen" ? this.maxMs : this.listingMs;
    const longestMs = m.failed > 1 ? Math.max(m.waitMs, kindMs) : kindMs;
    const now = this.now();
    if (m.dueMs > now + longestMs) m.dueMs = now + longestMs; // a clock stepped back
    return m.dueMs;
  }
}
