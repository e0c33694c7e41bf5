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

  addBid(priceMantissa: number, qtyMantissa: number): void {
    if (this.bidCount === this.bidPx.length) {
      this.bidPx = grow(this.bidPx);
      this.bidQty = grow(this.bidQty);
    }
    this.bidPx[this.bidCount] = priceMantissa;
    this.bidQty[this.bidCount++] = qtyMantissa;
  }

  addAsk(priceMantissa: number, qtyMantissa: number): void {
    if (this.askCount === this.askPx.length) {
      this.askPx = grow(this.askPx);
      this.askQty = grow(this.askQty);
    }
    this.askPx[this.askCount] = priceMantissa;
    this.askQty[this.askCount++] = qtyMantissa;
  }
}

function grow(a: Float64Array): Float64Array {
  const b = new Float64Array(a.length * 2);
  b.set(a);
  return b;
}
