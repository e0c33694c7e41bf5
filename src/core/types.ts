/**
 * Shared vocabulary of every layer. `core` imports nothing; everything else may import `core`.
 * @module
 */

/** Book side. Numeric so it can live in typed arrays. */
export const Side = { BID: 0, ASK: 1 } as const;
export type Side = (typeof Side)[keyof typeof Side];

/** Book state as the builder and the wire protocol (BookStatus.state) see it. Values are wire values. */
export const BookState = {
  /** Subscribed, no snapshot applied yet: the book is not valid. */
  AWAITING_SNAPSHOT: 0,
  /** Book is believed identical to the venue's. */
  LIVE: 1,
  /** A gap, reset, crossed book or parse error was seen; a fresh snapshot has been requested. */
  RESYNCING: 2,
  /** No message within the topic's expected cadence; a resync has been requested. */
  STALE: 3,
  /** The publisher is stopping, the instrument is no longer published, or the venue stopped trading it. */
  HALTED: 4,
} as const;
export type BookState = (typeof BookState)[keyof typeof BookState];

export const BOOK_STATE_NAMES: readonly string[] = ["awaiting_snapshot", "live", "resyncing", "stale", "halted"];

/** Why a book left (or entered) LIVE. Values are wire values (BookStatus.reason). */
export const StatusReason = {
  NONE: 0,
  STARTUP: 1,
  SEQUENCE_GAP: 2,
  VENUE_RESET: 3,
  CROSSED_BOOK: 4,
  PARSE_ERROR: 5,
  DISCONNECTED: 6,
  STALE_FEED: 7,
  SHUTDOWN: 8,
  SUBSCRIBE_REJECTED: 9,
  INSTRUMENT_CHANGED: 10,
  SNAPSHOT_APPLIED: 11,
  /** The venue's integrity check (e.g. a book checksum) disagrees with the book after an update. */
  CHECKSUM_MISMATCH: 12,
  /**
   * The venue no longer lists the instrument as trading (delisted, expired, halted, settling): HALTED, unsubscribed,
   * asked for again on the listing cadence, LIVE again on its first snapshot once listed as trading.
   */
  INSTRUMENT_CLOSED: 13,
  /**
   * A side bounded by a depth-limited venue snapshot (Binance's `limit`: levels beyond its worst price unknown) has no
   * level left: the venue's best price on that side is beyond what the book knows. RESYNCING, a new snapshot follows.
   */
  DEPTH_EXHAUSTED: 14,
} as const;
export type StatusReason = (typeof StatusReason)[keyof typeof StatusReason];

export const STATUS_REASON_NAMES: readonly string[] = [
  "none",
  "startup",
  "sequence_gap",
  "venue_reset",
  "crossed_book",
  "parse_error",
  "disconnected",
  "stale_feed",
  "shutdown",
  "subscribe_rejected",
  "instrument_changed",
  "snapshot_applied",
  "checksum_mismatch",
  "instrument_closed",
  "depth_exhausted",
];

/** Venue ids on the wire (InstrumentDefinition.venueId). Append only. */
export const VENUE_IDS = {
  bybit: 1,
  okx: 2,
  binance: 3,
  coinbase: 4,
  deribit: 5,
  upbit: 6,
  bithumb: 7,
} as const;
export type VenueName = keyof typeof VENUE_IDS;

/** Market ids on the wire (InstrumentDefinition.marketId). Append only. */
export const MARKET_IDS = {
  spot: 1,
  linear: 2,
  inverse: 3,
  option: 4,
} as const;
export type MarketName = keyof typeof MARKET_IDS;

/**
 * One tradable instrument as feeder publishes it. Prices and quantities are integers:
 * priceMantissa = price × 10^priceExp, qtyMantissa = qty × 10^qtyExp (exponents are decimal places, i8 on the wire: a
 * negative one means the mantissa counts tens, hundreds, …; docs/wire-protocol.md).
 */
export interface Instrument {
  /** Stable across restarts: derived from venue, market and symbol (see core/instrument-id.ts). */
  readonly instrumentId: number;
  readonly venue: VenueName;
  readonly market: MarketName;
  readonly symbol: string;
  /** Decimal places of price mantissas (from the tick size). */
  readonly priceExp: number;
  /** Decimal places of quantity mantissas (from the lot step). */
  readonly qtyExp: number;
  /** Tick size as the venue printed it, e.g. "0.10". */
  readonly tickSize: string;
  /** Lot step as the venue printed it, e.g. "0.001". */
  readonly lotSize: string;
}
