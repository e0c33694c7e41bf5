// HOT PATH: no allocation
/**
 * Two ladders and the rank-based reads of core BookView. The publisher's BookBuilder and the subscriber's
 * SubscriberBook both extend it, so the encoder and the HTTP layer read either the same way.
 * @module
 */
import { Side } from "../core/types.ts";
import { DEFAULT_LADDER_CAPACITY, Ladder } from "./ladder.ts";

export class LadderBook {
  readonly bids: Ladder;
  readonly asks: Ladder;

  constructor(initialLevels: number = DEFAULT_LADDER_CAPACITY) {
    this.bids = new Ladder(Side.BID, initialLevels);
    this.asks = new Ladder(Side.ASK, initialLevels);
  }

  get bidCount(): number {
    return this.bids.count;
  }

  get askCount(): number {
    return this.asks.count;
  }

  bidPriceAt(rank: number): number {
    return this.bids.priceAt(rank);
  }

  bidQtyAt(rank: number): number {
    return this.bids.qtyAt(rank);
  }

  askPriceAt(rank: number): number {
    return this.asks.priceAt(rank);
  }

  askQtyAt(rank: number): number {
    return this.asks.qtyAt(rank);
  }

  copyBids(fromRank: number, n: number, px: Float64Array, qty: Float64Array, outOffset: number): void {
    this.bids.copyLevels(fromRank, n, px, qty, outOffset);
  }

  copyAsks(fromRank: number, n: number, px: Float64Array, qty: Float64Array, outOffset: number): void {
    this.asks.copyLevels(fromRank, n, px, qty, outOffset);
  }
}
