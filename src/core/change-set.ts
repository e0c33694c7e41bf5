/**
 * The levels one applied message changed, per side, with their new absolute quantity (0 = removed).
 * The book builder fills it; the wire encoder reads it. Reused for every message.
 * HOT PATH: no allocation except capacity doubling on a message larger than any before.
 * @module
 */

const INITIAL_CAPACITY = 256;

export class ChangeSet {
  bidCount = 0;
  askCount = 0;
  bidPx: Float64Array = new Float64Array(INITIAL_CAPACITY);
  bidQty: Float64Array = new Float64Array(INITIAL_CAPACITY);
  askPx: Float64Array = new Float64Array(INITIAL_CAPACITY);
  askQty: Float64Array = new Float64Array(INITIAL_CAPACITY);

  clear(): void {
    this.bidCount = 0;
    this.askCount = 0;
  }

  get count(): number {
    return this.bidCount + this.askCount;
  }

  /**
   * Makes room for `total` changes on one side, keeping those already there (cold: a message larger than any
   * before). The ladder's bulk loop reserves once per side, then writes the arrays directly.
   */
  reserve(isBid: boolean, total: number): void {
    const cap = isBid ? this.bidPx.length : this.askPx.length;
    if (total <= cap) return;
    let next = cap * 2;
    while (next < total) next *= 2;
    if (isBid) {
      this.bidPx = grow(this.bidPx, next);
      this.bidQty = grow(this.bidQty, next);
    } else {
      this.askPx = grow(this.askPx, next);
      this.askQty = grow(this.askQty, next);
    }
  }

  addBid(priceMantissa: number, qtyMantissa: number): void {
    if (this.bidCount === this.bidPx.length) {
      this.bidPx = grow(this.bidPx, this.bidPx.length * 2);
      this.bidQty = grow(this.bidQty, this.bidQty.length * 2);
    }
    this.bidPx[this.bidCount] = priceMantissa;
    this.bidQty[this.bidCount++] = qtyMantissa;
  }

  addAsk(priceMantissa: number, qtyMantissa: number): void {
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
