/**
 * One parsed venue order-book message, in fixed-point integers, in reusable typed arrays.
 * A venue parser fills it; the book builder applies it. One instance per connection is reused for every frame.
 * HOT PATH: no allocation except when a message has more levels than ever seen before (capacity doubles).
 * @module
 */

const INITIAL_LEVEL_CAPACITY = 1024;

export class BookUpdate {
  /** true: replaces the whole book; false: absolute sizes per level, qty 0 deletes. */
  isSnapshot = false;
  /**
   * true: a full book applied as "replace" (snapshot-only venues: Upbit, Bithumb, OKX books5/bbo-tbt, Deribit
   * grouped): the book becomes exactly these levels and the change set holds the difference, so it is published
   * as a delta; the first one after a resync makes the book LIVE like a snapshot. Takes precedence over isSnapshot.
   */
  replace = false;
  /** The venue's own sequence (Bybit `u`), for audit and sequencing by the adapter. */
  venueSeq = 0;
  /** Venue-side generation time (Bybit `ts`), µs since epoch; 0 when absent. */
  tsExchangeUs = 0;
  /** Matching-engine time (Bybit `cts`), µs since epoch; 0 when absent. */
  tsEventUs = 0;
  /** Local receive time of the frame, µs since epoch. */
  tsRecvUs = 0;
  bidCount = 0;
  askCount = 0;
  // Declared, set by the constructor: the same properties in the same order, each a Float64Array from the start.
  declare bidPx: Float64Array;
  declare bidQty: Float64Array;
  declare askPx: Float64Array;
  declare askQty: Float64Array;

  /** `capacity`: levels per side before the arrays grow (a copy that outlives its frame is sized to its levels). */
  constructor(capacity = INITIAL_LEVEL_CAPACITY) {
    const n = Math.max(1, capacity);
    this.bidPx = new Float64Array(n);
    this.bidQty = new Float64Array(n);
    this.askPx = new Float64Array(n);
    this.askQty = new Float64Array(n);
  }

  reset(): void {
    this.isSnapshot = false;
    this.replace = false;
    this.venueSeq = 0;
    this.tsExchangeUs = 0;
    this.tsEventUs = 0;
    this.tsRecvUs = 0;
    this.bidCount = 0;
    this.askCount = 0;
  }

  /**
   * Makes room for `total` levels on one side, keeping those already there (cold: more levels than ever before).
   * For readers that write the arrays directly (the WebAssembly side reader's copy-out).
   */
  reserve(bids: boolean, total: number): void {
    const cap = bids ? this.bidPx.length : this.askPx.length;
    if (total <= cap) return;
    let next = Math.max(cap * 2, 16);
    while (next < total) next *= 2;
    if (bids) {
      this.bidPx = grow(this.bidPx, next);
      this.bidQty = grow(this.bidQty, next);
    } else {
      this.askPx = grow(this.askPx, next);
      this.askQty = grow(this.askQty, next);
    }
  }

  pushBid(priceMantissa: number, qtyMantissa: number): void {
    if (this.bidCount === this.bidPx.length) {
      this.bidPx = grow(this.bidPx, this.bidPx.length * 2);
      this.bidQty = grow(this.bidQty, this.bidQty.length * 2);
    }
    this.bidPx[this.bidCount] = priceMantissa;
    this.bidQty[this.bidCount++] = qtyMantissa;
  }

  pushAsk(priceMantissa: number, qtyMantissa: number): void {
    if (this.askCount === this.askPx.length) {
      this.askPx = grow(this.askPx, this.askPx.length * 2);
      this.askQty = grow(this.askQty, this.askQty.length * 2);
    }
    this.askPx[this.askCount] = priceMantissa;
    this.askQty[this.askCount++] = qtyMantissa;
  }
}

function grow(a: Float64Array, capacity: number): Float64Array {
  const b = new Float64Array(capacity);
  b.set(a);
  return b;
}
