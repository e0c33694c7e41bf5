/**
 * Read access to one L2 book by rank (0 = best), implemented by the book builder and the subscriber's books,
 * consumed by the snapshot encoder and the HTTP layer without either importing `book`.
 * @module
 */
import type { BookState, Instrument, StatusReason } from "./types.ts";

export interface BookView {
  readonly instrument: Instrument;
  readonly state: BookState;
  readonly reason: StatusReason;
  /** Per-instrument sequence of published book events (snapshot, delta, status change). */
  readonly instrSeq: number;
  /** The venue's sequence of the last applied message (Bybit `u`). */
  readonly venueSeq: number;
  readonly tsExchangeUs: number;
  readonly tsEventUs: number;
  readonly tsRecvUs: number;
  readonly bidCount: number;
  readonly askCount: number;
  /** Price mantissa of the bid at rank (0 = best). rank < bidCount. */
  bidPriceAt(rank: number): number;
  bidQtyAt(rank: number): number;
  askPriceAt(rank: number): number;
  askQtyAt(rank: number): number;
  /**
   * Bulk reads for the snapshot encoder: copy the n bid (ask) levels from rank `fromRank` (best first) into
   * px/qty starting at `outOffset`; fromRank + n ≤ bidCount (askCount). Equal to n bidPriceAt/bidQtyAt calls,
   * without a call per level. Optional: the encoder falls back to the per-rank methods when a view lacks them.
   */
  copyBids?(fromRank: number, n: number, px: Float64Array, qty: Float64Array, outOffset: number): void;
  copyAsks?(fromRank: number, n: number, px: Float64Array, qty: Float64Array, outOffset: number): void;
}
