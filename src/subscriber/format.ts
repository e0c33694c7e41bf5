/**
 * Cold-path formatting of subscriber books for humans and tools: exact decimal strings from mantissas and the
 * NDJSON record `feeder listen --format ndjson` prints per update.
 * @module
 */
import { BOOK_STATE_NAMES, STATUS_REASON_NAMES } from "../core/types.ts";
import type { UpdateEvent } from "./feed-subscriber.ts";
import type { SubscriberBook } from "./subscriber-book.ts";

/**
 * Exact decimal text of mantissa × 10^-exp, for every mantissa the decoder takes ([−2^53, 2^53): −2^53 is no safe
 * integer but exact) and every i8 exponent: `exp` decimals when exp > 0, else an integer (a negative exp: the
 * mantissa counts tens, hundreds, …). Until 2026-12-06 an exponent above 22 or −2^53 came out as "6682e-92" or
 * "-9007199254740992e-2" (test/cli/output-numbers.test.ts). Cold path.
 */
export function formatDecimal(mantissa: number, exp: number): string {
  const negative = mantissa < 0;
  // An integer below 1e21 prints as its plain digits; anything else is no mantissa of the wire (a caller's bug).
  // Said by numbers, not a regex literal (a RegExp object per price and quantity of every ndjson update).
  if (!Number.isInteger(mantissa) || Math.abs(mantissa) >= 1e21) return String(mantissa) + "e" + String(-exp);
  let digits = String(negative ? -mantissa : mantissa);
  if (exp <= 0) {
    if (digits !== "0") digits += "0".repeat(-exp);
  } else {
    if (digits.length <= exp) digits = "0".repeat(exp - digits.length + 1) + digits;
    digits = digits.slice(0, digits.length - exp) + "." + digits.slice(digits.length - exp);
  }
  return negative ? "-" + digits : digits;
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
 * A wire time as ndjson gives it: null for the wire's 0, "unknown" (wire-protocol §1, §4.2: a venue that sends no such
 * time, OKX's and Deribit's matching-engine time; a status of a book no message reached yet), as `export --books`
 * jsonl does. A 0 was read by scripts as 1970-01-01, and as a latency of 56 years.
 */
function wireTimeUs(us: number): number | null {
  return us === 0 ? null : us;
}

/**
 * Names a book in an NDJSON event record: venue, market and symbol null until its definition arrives (the
 * instrumentId is a hash of them; until 2026-12-07 the placeholder's "unknown", "unknown", "#<id>", as if sent).
 */
export function bookRef(b: SubscriberBook): { venue: string | null; market: string | null; symbol: string | null; instrumentId: number } {
  if (b.definition === undefined) return { venue: null, market: null, symbol: null, instrumentId: b.instrumentId };
  return { venue: b.instrument.venue, market: b.instrument.market, symbol: b.instrument.symbol, instrumentId: b.instrumentId };
}

/**
 * The NDJSON record of one update. Timestamps are integer µs since the epoch (exact in JSON numbers; the wire
 * carries ns, and feeder's clocks have µs resolution); the book's wire times null when unknown. Sequences are
 * numbers (< 2^53).
 */
export function updateRecord(e: UpdateEvent, depth: number): Record<string, unknown> {
  const b = e.book;
  const { bids, asks } = topLevels(b, depth);
  return {
    type: "update",
    kind: e.kind,
    refresh: e.refresh,
    // Before its definition the names are not known (the instrumentId is a hash): null, not the placeholder's.
    venue: b.definition === undefined ? null : b.instrument.venue,
    market: b.definition === undefined ? null : b.instrument.market,
    symbol: b.definition === undefined ? null : b.instrument.symbol,
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
    tsExchangeUs: wireTimeUs(b.tsExchangeUs),
    tsEventUs: wireTimeUs(b.tsEventUs),
    tsRecvUs: wireTimeUs(b.tsRecvUs),
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
