/**
 * Reference model of the book builder for tests: each side is a sorted array of integer prices (with their
 * quantities), in the same fixed-point units as the builder (mantissa × 10^-exp), read from the decimal text by its
 * own few-line parser, not core/fixed.ts parseFixed (which the builder's input goes through). Deliberately naive
 * (no window, no typed arrays, no cleverness) so that agreeing with it means something. Mirrors BookBuilder's
 * documented semantics: state machine, changes, counters. Integers rather than decimal strings since 2026-12-07:
 * formatting and comparing strings was ~90% of random-ops.test.ts's CPU; text is made only for an error message.
 * @module
 */
import type { BookUpdate } from "../../src/core/book-update.ts";
import type { BookView } from "../../src/core/book-view.ts";
import type { ChangeSet } from "../../src/core/change-set.ts";
import { formatFixed, parseFixed } from "../../src/core/fixed.ts";
import { BookState, type Instrument, StatusReason } from "../../src/core/types.ts";

export type RefLevel = [price: string, qty: string];

/** Canonical form of a non-negative decimal: no leading zeros, no trailing fraction zeros ("007.50" → "7.5"). */
export function normDecimal(s: string): string {
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

/**
 * s × 10^exp as an integer ("1.2300", 2 → 123): digits with at most one inner point; digits past `exp` decimals
 * must be zeros, and the result at most 2^53 − 1 (every step below it is exact in a double).
 */
export function refMantissa(s: string, exp: number): number {
  const n = s.length;
  let m = 0;
  let dot = -1;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 46 && dot < 0 && i > 0 && i < n - 1) {
      dot = i;
      continue;
    }
    if (c < 48 || c > 57) throw new Error(`reference: not a decimal: ${JSON.stringify(s)}`);
    if (dot >= 0 && i - dot > exp) {
      if (c !== 48) throw new Error(`reference: ${JSON.stringify(s)} has more than ${exp} decimals`);
      continue;
    }
    m = m * 10 + (c - 48);
    if (m > Number.MAX_SAFE_INTEGER) throw new Error(`reference: ${JSON.stringify(s)} × 10^${exp} exceeds 2^53 − 1`);
  }
  if (n === 0) throw new Error("reference: empty decimal");
  for (let k = dot < 0 ? 0 : n - 1 - dot; k < exp; k++) {
    m *= 10;
    if (m > Number.MAX_SAFE_INTEGER) throw new Error(`reference: ${JSON.stringify(s)} × 10^${exp} exceeds 2^53 − 1`);
  }
  return m;
}

/** One side: prices ascending, each with its qty at the same index. */
class RefSide {
  readonly px: number[] = [];
  readonly qty: number[] = [];
  constructor(readonly isBid: boolean) {}

  get count(): number {
    return this.px.length;
  }

  /** Index of price, or of where it would go. */
  private find(price: number): number {
    let lo = 0;
    let hi = this.px.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.px[mid]! < price) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Returns the previous qty (0 if absent). */
  set(price: number, qty: number): number {
    const i = this.find(price);
    if (i < this.px.length && this.px[i] === price) {
      const prev = this.qty[i]!;
      if (qty === 0) {
        this.px.splice(i, 1);
        this.qty.splice(i, 1);
      } else this.qty[i] = qty;
      return prev;
    }
    if (qty !== 0) {
      this.px.splice(i, 0, price);
      this.qty.splice(i, 0, qty);
    }
    return 0;
  }

  clear(): void {
    this.px.length = 0;
    this.qty.length = 0;
  }

  /** Price at rank (0 = best); rank < count. */
  pxAt(rank: number): number {
    return this.px[this.isBid ? this.px.length - 1 - rank : rank]!;
  }

  qtyAt(rank: number): number {
    return this.qty[this.isBid ? this.qty.length - 1 - rank : rank]!;
  }
}

/** The changes of the last message per side, in the order applied. */
export interface RefChanges {
  bidPx: number[];
  bidQty: number[];
  askPx: number[];
  askQty: number[];
}

export class ReferenceBook {
  readonly bids = new RefSide(true);
  readonly asks = new RefSide(false);
  state: BookState = BookState.AWAITING_SNAPSHOT;
  reason: StatusReason = StatusReason.STARTUP;
  instrSeq = 0;
  readonly changes: RefChanges = { bidPx: [], bidQty: [], askPx: [], askQty: [] };
  readonly counters = { snapshots: 0, deltas: 0, ignoredNotLive: 0, deletesOfAbsent: 0, crossed: 0 };
  /** The state was LIVE when markInvalid last made it STALE (what resumeStale asks). */
  private staleFromLive = false;

  /** Prices are read as mantissa × 10^-priceExp, quantities × 10^-qtyExp (the instrument's). */
  constructor(
    readonly priceExp: number,
    readonly qtyExp: number,
  ) {}

  // Reads by rank (0 = best), as BookView's: the randomized test's generator picks its prices here, not from the
  // builder under test (an O(1) read; the builder's rank reads are checked by the comparisons instead).
  get bidCount(): number {
    return this.bids.count;
  }
  get askCount(): number {
    return this.asks.count;
  }
  bidPriceAt(rank: number): number {
    return this.bids.pxAt(rank);
  }
  askPriceAt(rank: number): number {
    return this.asks.pxAt(rank);
  }
  bidQtyAt(rank: number): number {
    return this.bids.qtyAt(rank);
  }
  askQtyAt(rank: number): number {
    return this.asks.qtyAt(rank);
  }

  private clearChanges(): void {
    const c = this.changes;
    c.bidPx.length = c.bidQty.length = c.askPx.length = c.askQty.length = 0;
  }

  /**
   * Levels in any order; qty 0 is skipped. Returns "applied" | "crossed", or "refused" when a side lists a price twice
   * (a qty 0 entry counts): nothing else changes then (state, counters, instrSeq), but each side holds its levels, the
   * last non-zero entry of a repeated price kept, as the builder's sides do when it refuses such a snapshot.
   */
  applySnapshot(bids: readonly RefLevel[], asks: readonly RefLevel[]): string {
    this.clearChanges();
    let repeated = false;
    for (const [side, levels] of [[this.bids, bids], [this.asks, asks]] as const) {
      side.clear();
      const seen = new Set<number>();
      for (const [p, q] of levels) {
        const px = refMantissa(p, this.priceExp);
        if (seen.has(px)) repeated = true;
        seen.add(px);
        const qty = refMantissa(q, this.qtyExp);
        if (qty !== 0) side.set(px, qty);
      }
    }
    if (repeated) return "refused";
    this.counters.snapshots++;
    this.instrSeq++;
    if (this.crossed()) return this.enterCrossed();
    this.state = BookState.LIVE;
    this.reason = StatusReason.SNAPSHOT_APPLIED;
    return "applied";
  }

  /** Returns "applied" | "ignored" | "crossed". */
  applyDelta(bids: readonly RefLevel[], asks: readonly RefLevel[]): string {
    this.clearChanges();
    if (this.state !== BookState.LIVE) {
      this.counters.ignoredNotLive++;
      return "ignored";
    }
    const c = this.changes;
    const sides = [
      [this.bids, bids, c.bidPx, c.bidQty],
      [this.asks, asks, c.askPx, c.askQty],
    ] as const;
    for (const [side, levels, outPx, outQty] of sides) {
      for (const [p, q] of levels) {
        const price = refMantissa(p, this.priceExp);
        const qty = refMantissa(q, this.qtyExp);
        const prev = side.set(price, qty);
        if (prev !== qty) {
          outPx.push(price);
          outQty.push(qty);
        } else if (qty === 0) this.counters.deletesOfAbsent++;
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
    return this.bids.count > 0 && this.asks.count > 0 && this.bids.pxAt(0) >= this.asks.pxAt(0);
  }

  private enterCrossed(): string {
    this.state = BookState.RESYNCING;
    this.reason = StatusReason.CROSSED_BOOK;
    this.counters.crossed++;
    return "crossed";
  }
}

// ---- comparison helpers (test only): integers compared, text made only for a message ----

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

/** "price@qty" as decimals, with the mantissas (a message names both, so a formatting slip cannot hide a value). */
function levelText(ref: ReferenceBook, px: number, qty: number): string {
  const dec = (m: number, exp: number) => (Number.isSafeInteger(m) ? formatFixed(m, exp) : String(m));
  return `${dec(px, ref.priceExp)}@${dec(qty, ref.qtyExp)} (${px}@${qty})`;
}

/** The view's levels best-first, as canonical decimal strings. */
export function viewLevels(view: BookView, side: "bid" | "ask"): RefLevel[] {
  const { priceExp, qtyExp } = view.instrument;
  const n = side === "bid" ? view.bidCount : view.askCount;
  const out: RefLevel[] = [];
  for (let r = 0; r < n; r++) {
    const px = side === "bid" ? view.bidPriceAt(r) : view.askPriceAt(r);
    const qty = side === "bid" ? view.bidQtyAt(r) : view.askQtyAt(r);
    out.push([normDecimal(formatFixed(px, priceExp)), normDecimal(formatFixed(qty, qtyExp))]);
  }
  return out;
}

/** First difference between the whole view and the reference (every level of both sides), or null when identical. */
export function diffFull(view: BookView, ref: ReferenceBook): string | null {
  for (const isBid of [true, false]) {
    const name = isBid ? "bid" : "ask";
    const want = isBid ? ref.bids : ref.asks;
    const n = isBid ? view.bidCount : view.askCount;
    if (n !== want.count) return `${name} count ${n} != ${want.count}`;
    for (let r = 0; r < n; r++) {
      const px = isBid ? view.bidPriceAt(r) : view.askPriceAt(r);
      const qty = isBid ? view.bidQtyAt(r) : view.askQtyAt(r);
      if (px !== want.pxAt(r) || qty !== want.qtyAt(r)) {
        return `${name} rank ${r}: ${levelText(ref, px, qty)} != ${levelText(ref, want.pxAt(r), want.qtyAt(r))}`;
      }
    }
  }
  return null;
}

/** Compares counts, best levels, state, sequence and counters; null when identical. */
export function diffTop(view: BookView & { counters: object }, ref: ReferenceBook): string | null {
  if (view.bidCount !== ref.bids.count) return `bid count ${view.bidCount} != ${ref.bids.count}`;
  if (view.askCount !== ref.asks.count) return `ask count ${view.askCount} != ${ref.asks.count}`;
  if (ref.bids.count > 0 && (view.bidPriceAt(0) !== ref.bids.pxAt(0) || view.bidQtyAt(0) !== ref.bids.qtyAt(0))) {
    return `best bid ${levelText(ref, view.bidPriceAt(0), view.bidQtyAt(0))} != ${levelText(ref, ref.bids.pxAt(0), ref.bids.qtyAt(0))}`;
  }
  if (ref.asks.count > 0 && (view.askPriceAt(0) !== ref.asks.pxAt(0) || view.askQtyAt(0) !== ref.asks.qtyAt(0))) {
    return `best ask ${levelText(ref, view.askPriceAt(0), view.askQtyAt(0))} != ${levelText(ref, ref.asks.pxAt(0), ref.asks.qtyAt(0))}`;
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

/** Compares a ChangeSet with the reference's changes (order within each side included); null when identical. */
export function diffChanges(changes: ChangeSet, ref: ReferenceBook): string | null {
  const c = ref.changes;
  let same = changes.bidCount === c.bidPx.length && changes.askCount === c.askPx.length;
  for (let i = 0; same && i < changes.bidCount; i++) same = changes.bidPx[i] === c.bidPx[i] && changes.bidQty[i] === c.bidQty[i];
  for (let i = 0; same && i < changes.askCount; i++) same = changes.askPx[i] === c.askPx[i] && changes.askQty[i] === c.askQty[i];
  if (same) return null;
  const got: string[] = [];
  for (let i = 0; i < changes.bidCount; i++) got.push(`bid ${levelText(ref, changes.bidPx[i]!, changes.bidQty[i]!)}`);
  for (let i = 0; i < changes.askCount; i++) got.push(`ask ${levelText(ref, changes.askPx[i]!, changes.askQty[i]!)}`);
  const want: string[] = [];
  for (let i = 0; i < c.bidPx.length; i++) want.push(`bid ${levelText(ref, c.bidPx[i]!, c.bidQty[i]!)}`);
  for (let i = 0; i < c.askPx.length; i++) want.push(`ask ${levelText(ref, c.askPx[i]!, c.askQty[i]!)}`);
  return `changes [${got.join(", ")}] != [${want.join(", ")}]`;
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
