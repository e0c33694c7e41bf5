/**
 * Cold-path formatting of subscriber books for humans and tools: exact decimal strings from mantissas and the
 * NDJSON record `feeder listen --format ndjson` prints per update.
 * @module
 */
import { formatFixed, MAX_FIXED_EXP } from "../core/fixed.ts";
import { BOOK_STATE_NAMES, STATUS_REASON_NAMES } from "../core/types.ts";
import type { UpdateEvent } from "./feed-subscriber.ts";
import type { SubscriberBook } from "./subscriber-book.ts";

/** Exact decimal string of mantissa × 10^-exp; exp may be negative (mantissa counts tens, hundreds, …). */
export function formatDecimal(mantissa: number, exp: number): string {
  if (exp < 0) return mantissa === 0 ? "0" : String(mantissa) + "0".repeat(-exp);
  if (exp > MAX_FIXED_EXP || !Number.isSafeInteger(mantissa)) return String(mantissa) + "e-" + exp;
  return formatFixed(mantissa, exp);
}

/** Top `depth` levels of each side as [price, qty] decimal strings, best first. */
export function topLevels(book: SubscriberBook, depth: number): { bids: [string, string][]; asks: [string, string][] } {
  const pe = book.instrument.priceExp;
  const qe = book.instrument.qtyExp;
  const bids: [string, string][] = [];
  const asks: [string, string][] = [];
  for (let i = 0, n = Math.min(depth, book.bidCount); i < n; i++) {
    bids.push([formatDecimal(book.bidPriceAt(i), pe), formatDecimal(book.bidQtyAt(i), qe)]);
  }
  for (let i = 0, n = Math.min(depth, book.askCount); i < n; i++) {
    asks.push([formatDecimal(book.askPriceAt(i), pe), formatDecimal(book.askQtyAt(i), qe)]);
  }
  return { bids, asks };
}

/**
 * How deep a side is known (SubscriberBook.bidFloorPx / askCeilPx): the price of the last level of a side its
 * snapshot cut, null for a side sent whole (every level known). A cut side of no level (only from a forged
 * snapshot) is known nowhere: "Infinity" for bids, "-Infinity" for asks.
 */
function floorText(px: number, whole: number, exp: number): string | null {
  if (px === whole) return null;
  return Number.isFinite(px) ? formatDecimal(px, exp) : String(px);
}

/**
 * The NDJSON record of one update. Timestamps are integer µs since the epoch (exact in JSON numbers; the wire
 * carries ns, and feeder's clocks have µs resolution). Sequences are numbers (< 2^53).
 */
export function updateRecord(e: UpdateEvent, depth: number): Record<string, unknown> {
  const b = e.book;
  const { bids, asks } = topLevels(b, depth);
  return {
    type: "update",
    kind: e.kind,
    refresh: e.refresh,
    venue: b.instrument.venue,
    market: b.instrument.market,
    symbol: b.instrument.symbol,
    instrumentId: b.instrumentId,
    usable: b.usable,
    valid: b.valid,
    stale: b.stale,
    state: BOOK_STATE_NAMES[b.state] ?? String(b.state),
    reason: STATUS_REASON_NAMES[b.reason] ?? String(b.reason),
    instrSeq: b.instrSeq,
    venueSeq: b.venueSeq,
    channelId: e.channelId,
    sourceId: e.sourceId,
    tsExchangeUs: b.tsExchangeUs,
    tsEventUs: b.tsEventUs,
    tsRecvUs: b.tsRecvUs,
    sendTimeUs: e.sendTimeUs,
    recvTimeUs: e.recvTimeUs,
    latencyUs: e.latencyUs,
    bidCount: b.bidCount,
    askCount: b.askCount,
    // A cut side lists the publisher's levels down to this price only (its levels beyond were never sent).
    bidFloor: floorText(b.bidFloorPx, -Infinity, b.instrument.priceExp),
    askCeil: floorText(b.askCeilPx, Infinity, b.instrument.priceExp),
    bids,
    asks,
  };
}
