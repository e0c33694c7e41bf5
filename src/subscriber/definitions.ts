/**
 * An InstrumentDefinition onto its subscriber book (docs/wire-protocol.md §6), moved out of instrument-books.ts as
 * it was. Cold: definitions arrive on registration and once per refresh cycle (unchanged ones return early).
 * @module
 */
import { MARKET_IDS, VENUE_IDS, type Instrument, type MarketName, type VenueName } from "../core/types.ts";
import type { DefinitionReader } from "../wire/decoder.ts";
import type { SubscriberBook } from "./subscriber-book.ts";

const VENUE_BY_ID = new Map<number, string>(Object.entries(VENUE_IDS).map(([k, v]) => [v, k]));
const MARKET_BY_ID = new Map<number, string>(Object.entries(MARKET_IDS).map(([k, v]) => [v, k]));

/** Sets the book's definition (and its instrument, or marks its exponents in doubt); false when it is unchanged. */
export function applyDefinition(book: SubscriberBook, d: DefinitionReader, id: number): boolean {
  const prev = book.definition;
  // An id this subscriber does not know is named by its number (wire-protocol §4.8), as the NATS subjects name it:
  // "unknown" for all of them read two venues alike, and a definition moving between them was no change.
  const venue = VENUE_BY_ID.get(d.venueId) ?? `venue${d.venueId}`;
  const market = MARKET_BY_ID.get(d.marketId) ?? `market${d.marketId}`;
  if (
    prev !== undefined &&
    prev.venue === venue &&
    prev.market === market &&
    prev.priceExp === d.priceExp &&
    prev.qtyExp === d.qtyExp &&
    prev.symbol === d.symbol &&
    prev.tickSize === d.tickSize &&
    prev.lotSize === d.lotSize
  ) {
    return false;
  }
  const def: Instrument = {
    instrumentId: id,
    venue: venue as VenueName,
    market: market as MarketName,
    symbol: d.symbol,
    priceExp: d.priceExp,
    qtyExp: d.qtyExp,
    tickSize: d.tickSize,
    lotSize: d.lotSize,
  };
  book.definition = def;
  const cur = book.instrument;
  if (def.priceExp === cur.priceExp && def.qtyExp === cur.qtyExp) {
    // The levels' units, but a doubt stays until a book message settles it: this may be an old definition from a
    // lagging second channel after the leading one announced the change (before 2026-12-06 it cleared the doubt, the
    // book usable with the levels the publisher emptied at the change until the status in the new units came).
    book.instrument = def;
  } else if (book.instrSeq < 0 && book.bidCount === 0 && book.askCount === 0 && book.snapSeq < 0 && book.asmSeq < 0) {
    book.instrument = def; // nothing held in the old units yet
    book.exponentsInDoubt = false;
  } else {
    // The levels stay in the units of the book messages they came from; which units are current is settled by
    // the next book message (the publisher sends a status in the new units right after a changed definition).
    book.instrument = { ...def, priceExp: cur.priceExp, qtyExp: cur.qtyExp };
    book.exponentsInDoubt = true;
  }
  return true;
}
