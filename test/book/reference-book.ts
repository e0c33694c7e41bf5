/**
 * Reference model of the book builder for tests: each side is a sorted array of decimal strings, compared as
 * decimals digit by digit. Deliberately naive (no fixed-point, no typed arrays, no cleverness) so that agreeing
 * with it means something. Mirrors BookBuilder's documented semantics: state machine, changes, counters.
 * @module
 */
import type { BookUpdate } from "../../src/core/book-update.ts";
import type { BookView } from "../../src/core/book-view.ts";
import type { ChangeSet } from "../../src/core/change-set.ts";
import { formatFixed, parseFixed } from "../../src/core/fixed.ts";
import { BookState, type Instrument, StatusReason } from "../../src/core/types.ts";

export type RefLevel = [price: string, qty: string];

export interface RefChange {
  side: "bid" | "ask";
  price: string;
  qty: string;
}

/** Canonical form of a non-negative decimal: no leading zeros, no trailing fraction zeros ("007.50" → "7.5"). */
export function normDecimal(s: string): string {
  // Hand-written rather than regex: the randomized test calls this millions of times.
  const n = s.length;
  let dot = -1;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 46 && dot < 0 && i > 0 && i < n - 1) dot = i;
    else if (c < 48 || c > 57) throw new Error(`reference: not a decimal: ${JSON.stringify(s)}`);
  }
  if (n === 0) throw new Error("reference: empty decimal");
  let start = 0;
  const intEnd = dot < 0 ? n : dot;
  while (start < intEnd - 1 && s.charCodeAt(start) === 48) start++;
  let end = n;
  if (dot >= 0) {
    while (end > dot + 1 && s.charCodeAt(end - 1) === 48) end--;
    if (end === dot + 1) end = dot;
  }
  return start === 0 && end === n ? s : s.slice(start, end);
}

/** Compares two canonical decimals: negative, zero or positive. */
export function compareDecimal(a: string, b: string): number {
  let da = a.indexOf(".");
  let db = b.indexOf(".");
  if (da < 0) da = a.length;
  if (db < 0) db = b.length;
  if (da !== db) return da - db; // no leading zeros: a longer integer part is larger
  // Same integer length: compare digit by digit; a missing fraction digit counts as 0.
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ca = i < a.length ? a.charCodeAt(i) : i === da ? 46 : 48;
    const cb = i < b.length ? b.charCodeAt(i) : i === db ? 46 : 48;
    if (ca !== cb) return ca - cb;
  }
  return 0;
}

/** One side, ascending by price. */
class RefSide {
  readonly levels: RefLevel[] = [];
  constructor(readonly isBid: boolean) {}

  private find(price: string): { index: number; found: boolean } {
    let lo = 0;
    let hi = this.levels.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const c = compareDecimal(this.levels[mid]![0], price);
      if (c === 0) return { index: mid, found: true };
      if (c < 0) lo = mid + 1;
      else hi = mid;
    }
    return { index: lo, found: false };
  }

  /** Returns the previous qty ("0" if absent). */
  set(price: string, qty: string): string {
    const { index, found } = this.find(price);
    if (found) {
      const prev = this.levels[index]![1];
      if (qty === "0") this.levels.splice(index, 1);
      else this.levels[index]![1] = qty;
      return prev;
    }
    if (qty !== "0") this.levels.splice(index, 0, [price, qty]);
    return "0";
  }

  /** Best-first copy. */
  bestFirst(): RefLevel[] {
    const out = this.levels.map((l) => [l[0], l[1]] as RefLevel);
    return this.isBid ? out.reverse() : out;
  }

  best(): RefLevel | undefined {
    return this.isBid ? this.levels[this.levels.length - 1] : this.levels[0];
  }
}

export class ReferenceBook {
  readonly bids = new RefSide(true);
  readonly asks = new RefSide(false);
  state: BookState = BookState.AWAITING_SNAPSHOT;
  reason: StatusReason = StatusReason.STARTUP;
  instrSeq = 0;
  changes: RefChange[] = [];
  readonly counters = { snapshots: 0, deltas: 0, ignoredNotLive: 0, deletesOfAbsent: 0, crossed: 0 };
  /** The state was LIVE when markInvalid last made it STALE (what resumeStale asks). */
  private staleFromLive = false;

  /** Levels in any order; qty "0" is skipped; a later duplicate replaces an earlier one. Returns "applied" | "crossed". */
  applySnapshot(bids: readonly RefLevel[], asks: readonly RefLevel[]): string {
    this.changes = [];
    this.bids.levels.length = 0;
    this.asks.levels.length = 0;
    for (const [p, q] of bids) if (normDecimal(q) !== "0") this.bids.set(normDecimal(p), normDecimal(q));
    for (const [p, q] of asks) if (normDecimal(q) !== "0") this.asks.set(normDecimal(p), normDecimal(q));
    this.counters.snapshots++;
    this.instrSeq++;
    if (this.crossed()) return this.enterCrossed();
    this.state = BookState.LIVE;
    this.reason = StatusReason.SNAPSHOT_APPLIED;
    return "applied";
  }

  /** Returns "applied" | "ignored" | "crossed". */
  applyDelta(bids: readonly RefLevel[], asks: readonly RefLevel[]): string {
    this.changes = [];
    if (this.state !== BookState.LIVE) {
      this.counters.ignoredNotLive++;
      return "ignored";
    }
    const sides: [RefSide, readonly RefLevel[], "bid" | "ask"][] = [
      [this.bids, bids, "bid"],
      [this.asks, asks, "ask"],
    ];
    for (const [side, levels, name] of sides) {
      for (const [p, q] of levels) {
        const price = normDecimal(p);
        const qty = normDecimal(q);
        const prev = side.set(price, qty);
        if (prev !== qty) this.changes.push({ side: name, price, qty });
        else if (qty === "0") this.counters.deletesOfAbsent++;
      }
    }
    this.counters.deltas++;
    this.instrSeq++;
    if (this.crossed()) return this.enterCrossed();
    return "applied";
  }

  markInvalid(state: BookState, reason: StatusReason): boolean {
    if (state === this.state) return false;
    if (state === BookState.STALE) this.staleFromLive = this.state === BookState.LIVE;
    this.state = state;
    this.reason = reason;
    this.instrSeq++;
    return true;
  }

  /** Replay's resume: LIVE again at the kept levels, only for a book that was LIVE when it went STALE. */
  resumeStale(): boolean {
    if (this.state !== BookState.STALE || !this.staleFromLive) return false;
    this.state = BookState.LIVE;
    this.reason = StatusReason.SNAPSHOT_APPLIED;
    this.instrSeq++;
    return true;
  }

  crossed(): boolean {
    const b = this.bids.best();
    const a = this.asks.best();
    return b !== undefined && a !== undefined && compareDecimal(b[0], a[0]) >= 0;
  }

  private enterCrossed(): string {
    this.state = BookState.RESYNCING;
    this.reason = StatusReason.CROSSED_BOOK;
    this.counters.crossed++;
    return "crossed";
  }
}

// ---- comparison helpers (test only) ----

/** An instrument for tests. */
export function testInstrument(priceExp: number, qtyExp: number, symbol = "TEST"): Instrument {
  return {
    instrumentId: 1,
    venue: "bybit",
    market: "linear",
    symbol,
    priceExp,
    qtyExp,
    tickSize: formatFixed(1, priceExp),
    lotSize: formatFixed(1, qtyExp),
  };
}

function levelAt(view: BookView, side: "bid" | "ask", rank: number): RefLevel {
  const { priceExp, qtyExp } = view.instrument;
  const px = side === "bid" ? view.bidPriceAt(rank) : view.askPriceAt(rank);
  const qty = side === "bid" ? view.bidQtyAt(rank) : view.askQtyAt(rank);
  return [normDecimal(formatFixed(px, priceExp)), normDecimal(formatFixed(qty, qtyExp))];
}

/** The view's levels best-first, as canonical decimal strings. */
export function viewLevels(view: BookView, side: "bid" | "ask"): RefLevel[] {
  const n = side === "bid" ? view.bidCount : view.askCount;
  const out: RefLevel[] = [];
  for (let r = 0; r < n; r++) out.push(levelAt(view, side, r));
  return out;
}

/** First difference between the whole view and the reference, or null when identical. */
export function diffFull(view: BookView, ref: ReferenceBook): string | null {
  for (const side of ["bid", "ask"] as const) {
    const got = viewLevels(view, side);
    const want = (side === "bid" ? ref.bids : ref.asks).bestFirst();
    if (got.length !== want.length) return `${side} count ${got.length} != ${want.length}`;
    for (let r = 0; r < got.length; r++) {
      if (got[r]![0] !== want[r]![0] || got[r]![1] !== want[r]![1]) {
        return `${side} rank ${r}: ${got[r]!.join("@")} != ${want[r]!.join("@")}`;
      }
    }
  }
  return null;
}

/** Compares counts, best levels, state, sequence and counters; null when identical. */
export function diffTop(view: BookView & { counters: object }, ref: ReferenceBook): string | null {
  if (view.bidCount !== ref.bids.levels.length) return `bid count ${view.bidCount} != ${ref.bids.levels.length}`;
  if (view.askCount !== ref.asks.levels.length) return `ask count ${view.askCount} != ${ref.asks.levels.length}`;
  for (const side of ["bid", "ask"] as const) {
    const want = (side === "bid" ? ref.bids : ref.asks).best();
    if (want === undefined) continue;
    const got = levelAt(view, side, 0);
    if (got[0] !== want[0] || got[1] !== want[1]) return `best ${side} ${got.join("@")} != ${want.join("@")}`;
  }
  if (view.state !== ref.state || view.reason !== ref.reason) {
    return `state ${view.state}/${view.reason} != ${ref.state}/${ref.reason}`;
  }
  if (view.instrSeq !== ref.instrSeq) return `instrSeq ${view.instrSeq} != ${ref.instrSeq}`;
  const vc = view.counters as ReferenceBook["counters"];
  const rc = ref.counters;
  if (
    vc.snapshots !== rc.snapshots ||
    vc.deltas !== rc.deltas ||
    vc.ignoredNotLive !== rc.ignoredNotLive ||
    vc.deletesOfAbsent !== rc.deletesOfAbsent ||
    vc.crossed !== rc.crossed
  ) {
    return `counters ${JSON.stringify(vc)} != ${JSON.stringify(rc)}`;
  }
  return null;
}

/** Compares a ChangeSet with the reference's change list (order within each side included). */
export function diffChanges(changes: ChangeSet, ref: ReferenceBook, priceExp: number, qtyExp: number): string | null {
  const got: string[] = [];
  for (let i = 0; i < changes.bidCount; i++) {
    got.push(`bid ${normDecimal(formatFixed(changes.bidPx[i]!, priceExp))}@${normDecimal(formatFixed(changes.bidQty[i]!, qtyExp))}`);
  }
  for (let i = 0; i < changes.askCount; i++) {
    got.push(`ask ${normDecimal(formatFixed(changes.askPx[i]!, priceExp))}@${normDecimal(formatFixed(changes.askQty[i]!, qtyExp))}`);
  }
  const want = ref.changes.map((c) => `${c.side} ${c.price}@${c.qty}`);
  const a = got.join(", ");
  const b = want.join(", ");
  return a === b ? null : `changes [${a}] != [${b}]`;
}

/** Fills a reused BookUpdate from decimal strings with the real parser (core/fixed.ts). */
export function fillUpdate(
  u: BookUpdate,
  instrument: Instrument,
  isSnapshot: boolean,
  bids: readonly RefLevel[],
  asks: readonly RefLevel[],
  venueSeq = 0,
): BookUpdate {
  u.reset();
  u.isSnapshot = isSnapshot;
  u.venueSeq = venueSeq;
  for (const [p, q] of bids) u.pushBid(parseFixed(p, instrument.priceExp), parseFixed(q, instrument.qtyExp));
  for (const [p, q] of asks) u.pushAsk(parseFixed(p, instrument.priceExp), parseFixed(q, instrument.qtyExp));
  return u;
}
