/**
 * Cold-path views of books for HTTP and tools: decimal strings, never floats.
 * @module
 */
import type { BookView } from "../core/book-view.ts";
import { monoStampUs, nowUs } from "../core/clock.ts";
import { formatFixed } from "../core/fixed.ts";
import { instrumentIdOf } from "../core/instrument-id.ts";
import { BOOK_STATE_NAMES, STATUS_REASON_NAMES } from "../core/types.ts";

export type Level = [price: string, qty: string];

export interface BookSummary {
  venue: string;
  market: string;
  symbol: string;
  instrumentId: number;
  state: string;
  reason: string;
  valid: boolean;
  instrSeq: number;
  venueSeq: number;
  bidLevels: number;
  askLevels: number;
  bestBid: Level | null;
  bestAsk: Level | null;
  /**
   * The book's times of its last applied message (µs since the epoch), null where the wire's is 0, "unknown": a time
   * the venue does not send (tsEventUs on OKX, Deribit, Coinbase …; tsExchangeUs after a Binance spot REST snapshot),
   * or a book no message reached yet (all three). As `export --books` jsonl and `listen --format ndjson` write them:
   * a 0 here was read as 1970-01-01 (a latency of 56 years) and a script comparing the three saw 0 against null.
   */
  tsExchangeUs: number | null;
  tsEventUs: number | null;
  tsRecvUs: number | null;
  /**
   * How long before this summary the book's last update was received (µs; null while tsRecvUs is: no age, where 0 said
   * "just now"), on the book's own
   * thread's monotonic clock (BookCounts.recvMonoUs): no step of the wall clock moves it. The status page shows it as
   * the age of the last update: read against the wall clock of the answer (/status nowMs), a step forward of an hour
   * showed every book an hour old, and a step back showed none old; read against nowUs (which follows a step within
   * about a second), a book quiet since the step was off by the step until its next update. A worker's books: as of
   * its reply, plus the time since it came (the supervisor's answer waits for every worker's); a dead worker's: as of
   * its last answer, plus the time since.
   */
  recvAgeUs: number | null;
  /** Sequence gaps the venue adapter reported for this book (each resynced it; none while its definition is refused). */
  gaps: number;
  /** Times the book stopped being live (gap, reset, stale, disconnect, crossed, parse error …). */
  invalidations: number;
  /** A configured symbol without a book (state `symbol_unresolved`): why, in words. */
  detail?: string;
  /**
   * A book whose changed definition the publisher refused: the publisher's error (`detail`: refusedDetail). /readyz's
   * and /status's book_not_live reason name it (readiness.ts), not only /books.
   */
  refused?: string;
  /**
   * Same: when its instrument is asked for next (ms since the epoch); null when no attempt is scheduled (`resolving`
   * at start: its first query under way). The adapters' 0 for that was given as is until 2026-12-06: from now, -56 years.
   */
  nextAttemptMs?: number | null;
  /**
   * A book closed (halted / instrument_closed) past the expiry its listing gave: that expiry (ms since the epoch). It
   * never trades again, so /readyz does not count it (readiness.ts).
   */
  expiredAtMs?: number;
}

/**
 * The detail of a book whose changed definition the publisher refused (`error`): why it is not usable and for how
 * long, where resyncing / instrument_changed alone reads as a change awaiting its snapshot (which comes back by itself).
 */
export function refusedDetail(error: string): string {
  return `changed definition refused (${error}): the venue's updates are dropped until a later change registers`;
}

/** The state of a configured symbol whose instrument is not resolved (yet): it has no book. */
export const SYMBOL_UNRESOLVED = "symbol_unresolved";

/** The reason of a symbol without a book whose venue gives none: /books, /books/{…} and /readyz say so alike. */
export const UNKNOWN_REASON = "unknown";

/**
 * A configured symbol without a book, listed beside the books (/books, /status) so that a user looking for it sees
 * it and why: state `symbol_unresolved`, `reason` as /readyz gives it (rest_unreachable, not_listed, not_trading, bad_spec,
 * join_failed; "unknown" where none is given), never usable, no levels. `instrumentId` is the one its book will have.
 */
export function unresolvedSummary(u: { venue: string; market: string; symbol: string; reason?: string; detail?: string; nextAttemptMs?: number }): BookSummary {
  return {
    ...{ venue: u.venue, market: u.market, symbol: u.symbol, instrumentId: instrumentIdOf(u.venue, u.market, u.symbol) },
    ...{ state: SYMBOL_UNRESOLVED, reason: u.reason || UNKNOWN_REASON, valid: false, instrSeq: 0, venueSeq: 0, bidLevels: 0, askLevels: 0, bestBid: null, bestAsk: null },
    ...{ tsExchangeUs: null, tsEventUs: null, tsRecvUs: null, recvAgeUs: null, gaps: 0, invalidations: 0, detail: u.detail ?? "", nextAttemptMs: u.nextAttemptMs ? u.nextAttemptMs : null },
  };
}

/**
 * A book whose summary could not be read (a field of its builder threw: a bug, contained to that book so /books,
 * /status and a worker's start reply list every other book): its state and reason as the book has them (the feed's
 * word; "unknown" if those throw too), never usable, no levels or times, `detail` naming the failure.
 */
export function unreadableSummary(u: { venue: string; market: string; symbol: string; state: string; reason: string; why: string }, counts: BookCounts = NO_COUNTS): BookSummary {
  return {
    ...{ venue: u.venue, market: u.market, symbol: u.symbol, instrumentId: instrumentIdOf(u.venue, u.market, u.symbol) },
    ...{ state: u.state, reason: u.reason, valid: false, instrSeq: 0, venueSeq: 0, bidLevels: 0, askLevels: 0, bestBid: null, bestAsk: null },
    ...{ tsExchangeUs: null, tsEventUs: null, tsRecvUs: null, recvAgeUs: null, gaps: counts.gaps, invalidations: counts.invalidations, detail: `book unreadable: ${u.why}` },
  };
}

/**
 * What `GET /books/{venue}/{market}/{symbol}` answers instead of levels: a configured symbol without a book
 * (`symbol_unresolved`: 503, its reason, as /books lists it) or a book whose levels throw when copied (`unreadable`: a
 * bug, 500; its state and reason as the book has them, "unknown" if those throw too). `error` says what, in words.
 * Plain data (a worker posts it). Until s-httpops the first was 404 "no book" and the second 500 "internal error".
 */
export interface BookNotServed {
  notServed: typeof SYMBOL_UNRESOLVED | "unreadable";
  venue: string;
  market: string;
  symbol: string;
  state: string;
  reason: string;
  error: string;
}

/** Whether the source's answer for one book is a BookNotServed (not levels). */
export function isNotServed(book: BookLevels | BookNotServed): book is BookNotServed {
  return (book as BookNotServed).notServed !== undefined;
}

/** Per-book numbers the app keeps beside the builder (the counts cold: bumped only when a book is invalidated). */
export interface BookCounts {
  readonly gaps: number;
  readonly invalidations: number;
  /**
   * The last applied update's receipt on the monotonic timeline (core/clock.ts monoStampUs of its tsRecvUs): the age
   * is read from it. Without it (a view the app keeps nothing beside), from tsRecvUs against nowUs.
   */
  readonly recvMonoUs?: number;
}

const NO_COUNTS: BookCounts = { gaps: 0, invalidations: 0 };

export interface BookDetail extends BookSummary {
  priceExp: number;
  qtyExp: number;
  tickSize: string;
  lotSize: string;
  bids: Level[];
  asks: Level[];
}

/** A wire time as the summaries give it: null for the wire's 0, "unknown" (wire-protocol §4.2). */
function knownUs(us: number): number | null {
  return us === 0 ? null : us;
}

export function summarize(view: BookView, valid: boolean, counts: BookCounts = NO_COUNTS): BookSummary {
  const { instrument: i } = view;
  return {
    venue: i.venue,
    market: i.market,
    symbol: i.symbol,
    instrumentId: i.instrumentId,
    state: BOOK_STATE_NAMES[view.state] ?? String(view.state),
    reason: STATUS_REASON_NAMES[view.reason] ?? String(view.reason),
    valid,
    instrSeq: view.instrSeq,
    venueSeq: view.venueSeq,
    bidLevels: view.bidCount,
    askLevels: view.askCount,
    bestBid: view.bidCount > 0 ? [formatFixed(view.bidPriceAt(0), i.priceExp), formatFixed(view.bidQtyAt(0), i.qtyExp)] : null,
    bestAsk: view.askCount > 0 ? [formatFixed(view.askPriceAt(0), i.priceExp), formatFixed(view.askQtyAt(0), i.qtyExp)] : null,
    tsExchangeUs: knownUs(view.tsExchangeUs),
    tsEventUs: knownUs(view.tsEventUs),
    tsRecvUs: knownUs(view.tsRecvUs),
    recvAgeUs: view.tsRecvUs > 0 ? Math.max(0, counts.recvMonoUs !== undefined ? monoStampUs(nowUs()) - counts.recvMonoUs : nowUs() - view.tsRecvUs) : null,
    gaps: counts.gaps,
    invalidations: counts.invalidations,
  };
}

/** The book with up to `depth` levels per side (all when depth is 0 or absent). */
export function detail(view: BookView, valid: boolean, depth = 0, counts: BookCounts = NO_COUNTS): BookDetail {
  const i = view.instrument;
  const nb = depth > 0 ? Math.min(depth, view.bidCount) : view.bidCount;
  const na = depth > 0 ? Math.min(depth, view.askCount) : view.askCount;
  const bids: Level[] = [];
  const asks: Level[] = [];
  for (let r = 0; r < nb; r++) bids.push([formatFixed(view.bidPriceAt(r), i.priceExp), formatFixed(view.bidQtyAt(r), i.qtyExp)]);
  for (let r = 0; r < na; r++) asks.push([formatFixed(view.askPriceAt(r), i.priceExp), formatFixed(view.askQtyAt(r), i.qtyExp)]);
  return { ...summarize(view, valid, counts), priceExp: i.priceExp, qtyExp: i.qtyExp, tickSize: i.tickSize, lotSize: i.lotSize, bids, asks };
}

/**
 * A book's levels as mantissas, copied in one step (so they are one consistent state of the book: ~0.35 ms per 100k
 * levels), for HTTP to format a chunk at a time (book-stream.ts); plain data a worker posts cheaply (typed arrays).
 */
export interface BookLevels extends BookSummary {
  priceExp: number;
  qtyExp: number;
  tickSize: string;
  lotSize: string;
  bidPx: Float64Array;
  bidQty: Float64Array;
  askPx: Float64Array;
  askQty: Float64Array;
}

/** The book's top `depth` levels per side (all when depth is 0), copied (BookView.copyBids/copyAsks where it has them). */
export function levelsOf(view: BookView, valid: boolean, depth = 0, counts: BookCounts = NO_COUNTS): BookLevels {
  const i = view.instrument;
  const nb = depth > 0 ? Math.min(depth, view.bidCount) : view.bidCount;
  const na = depth > 0 ? Math.min(depth, view.askCount) : view.askCount;
  const [bidPx, bidQty, askPx, askQty] = [new Float64Array(nb), new Float64Array(nb), new Float64Array(na), new Float64Array(na)];
  if (view.copyBids !== undefined && nb > 0) view.copyBids(0, nb, bidPx, bidQty, 0);
  else for (let r = 0; r < nb; r++) (bidPx[r] = view.bidPriceAt(r)), (bidQty[r] = view.bidQtyAt(r));
  if (view.copyAsks !== undefined && na > 0) view.copyAsks(0, na, askPx, askQty, 0);
  else for (let r = 0; r < na; r++) (askPx[r] = view.askPriceAt(r)), (askQty[r] = view.askQtyAt(r));
  return { ...summarize(view, valid, counts), priceExp: i.priceExp, qtyExp: i.qtyExp, tickSize: i.tickSize, lotSize: i.lotSize, bidPx, bidQty, askPx, askQty };
}

/**
 * A copy not made: the book's levels at the depth asked would take `copyRefused` bytes (16 a level), more than the
 * `maxBytes` HTTP reserved for them against its bound on held copies (http-server.ts). Plain data (a worker posts it).
 */
export interface CopyRefused {
  copyRefused: number;
  maxBytes: number;
}

/** Whether the source's answer for one book is a CopyRefused (no levels copied). */
export function isCopyRefused(book: object): book is CopyRefused {
  return (book as CopyRefused).copyRefused !== undefined;
}

/** Bytes of a copy of `view`'s top `depth` levels a side (all when 0): price and quantity, 8 B each (levelsOf). */
export function copyBytesOf(view: BookView, depth: number): number {
  const nb = depth > 0 ? Math.min(depth, view.bidCount) : view.bidCount;
  const na = depth > 0 ? Math.min(depth, view.askCount) : view.askCount;
  return 16 * (nb + na);
}

/**
 * levelsOf, or CopyRefused without copying when the copy would take more than `maxBytes`: a book that grew since
 * HTTP reserved room for its copy is not copied past that room (it asks again with the size it is now).
 */
export function levelsWithin(view: BookView, valid: boolean, depth: number, counts: BookCounts, maxBytes: number): BookLevels | CopyRefused {
  const bytes = copyBytesOf(view, depth);
  return bytes > maxBytes ? { copyRefused: bytes, maxBytes } : levelsOf(view, valid, depth, counts);
}

/** The BookDetail of copied levels (decimal strings), as detail() gives it for the view they were copied from. */
export function detailOf(book: BookLevels): BookDetail {
  const { bidPx, bidQty, askPx, askQty, ...head } = book;
  const bids: Level[] = [];
  const asks: Level[] = [];
  for (let r = 0; r < bidPx.length; r++) bids.push([formatFixed(bidPx[r]!, book.priceExp), formatFixed(bidQty[r]!, book.qtyExp)]);
  for (let r = 0; r < askPx.length; r++) asks.push([formatFixed(askPx[r]!, book.priceExp), formatFixed(askQty[r]!, book.qtyExp)]);
  return { ...head, bids, asks };
}
