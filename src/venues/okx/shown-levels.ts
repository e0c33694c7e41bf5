// HOT PATH: keep() and same() run per full book, no allocation (but a book with more levels a side than ever seen)
/**
 * OKX full books: the levels of the book shown, per subscription, to tell the book's seqId again with other levels
 * (another book: a maintenance reset numbering that seqId again) from its copy (the other socket's; a subscribe book).
 * Exact, level by level. Before 2026-12-07 a key folded the levels into one number (key * 31 + px * 17 + qty): two
 * books a tick lower with 17 more lots at one level, or 31 lots moved between neighbouring levels, had equal keys, and
 * the other book was ignored as the copy, the book LIVE at levels the venue had left.
 * @module
 */

export class ShownLevels {
  /** Levels a side stored per subscription (books5: 5; grows, rare, if OKX sends more). */
  private stride = 5;
  /** Per subscription: bid count, ask count (-1: none shown). */
  private readonly counts: Int32Array;
  /** Per subscription, `4 * stride` values: bid prices, bid sizes, ask prices, ask sizes. */
  private levels: Float64Array;

  constructor(private readonly n: number) {
    this.counts = new Int32Array(2 * n).fill(-1);
    this.levels = new Float64Array(4 * this.stride * n);
  }

  /** Keeps `bids` / `asks` (prices and sizes, `bidCount` / `askCount` of them) as subscription `i`'s book shown. */
  keep(i: number, bidCount: number, bidPx: Float64Array, bidQty: Float64Array, askCount: number, askPx: Float64Array, askQty: Float64Array): void {
    if (bidCount > this.stride || askCount > this.stride) this.grow(Math.max(bidCount, askCount));
    const s = this.stride;
    const o = 4 * s * i;
    const v = this.levels;
    this.counts[2 * i] = bidCount;
    this.counts[2 * i + 1] = askCount;
    for (let j = 0; j < bidCount; j++) {
      v[o + j] = bidPx[j]!;
      v[o + s + j] = bidQty[j]!;
    }
    for (let j = 0; j < askCount; j++) {
      v[o + 2 * s + j] = askPx[j]!;
      v[o + 3 * s + j] = askQty[j]!;
    }
  }

  /** Whether these levels are exactly subscription `i`'s book shown (false when none is). */
  same(i: number, bidCount: number, bidPx: Float64Array, bidQty: Float64Array, askCount: number, askPx: Float64Array, askQty: Float64Array): boolean {
    if (this.counts[2 * i] !== bidCount || this.counts[2 * i + 1] !== askCount) return false;
    const s = this.stride;
    const o = 4 * s * i;
    const v = this.levels;
    for (let j = 0; j < bidCount; j++) if (v[o + j] !== bidPx[j] || v[o + s + j] !== bidQty[j]) return false;
    for (let j = 0; j < askCount; j++) if (v[o + 2 * s + j] !== askPx[j] || v[o + 3 * s + j] !== askQty[j]) return false;
    return true;
  }

  /** Room for `levels` a side (cold: a book larger than any before), the kept books copied over. */
  private grow(levels: number): void {
    const from = this.stride;
    const to = Math.max(levels, 2 * from);
    const next = new Float64Array(4 * to * this.n);
    for (let i = 0; i < this.n; i++)
      for (let q = 0; q < 4; q++) next.set(this.levels.subarray(4 * from * i + q * from, 4 * from * i + (q + 1) * from), 4 * to * i + q * to);
    this.levels = next;
    this.stride = to;
  }
}
