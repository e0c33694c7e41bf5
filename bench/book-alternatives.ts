/**
 * The two ladder structures the book engine was measured against (bench/book.bench.ts), kept here so the
 * comparison in docs/architecture.md can be re-run. Not used by feeder.
 * - SortedLadder: the first implementation of src/book/ladder.ts — every level in sorted Float64Arrays, worst → best,
 *   galloping search from the best end, copyWithin for inserts/deletes.
 * - DenseLadder: a pure tick window (qty per tick, best tracked, rank access by scanning).
 * @module
 */
import { Side } from "../src/core/types.ts";

const SMALL_MOVE = 8;

export class SortedLadder {
  readonly side: Side;
  /** +1 for bids, −1 for asks: key = price × sign. */
  private readonly sign: number;
  /** Ascending keys (worst … best) in [0, n). */
  private keys: Float64Array;
  private qtys: Float64Array;
  private n = 0;

  constructor(side: Side, initialCapacity = 64) {
    if (side !== Side.BID && side !== Side.ASK) throw new RangeError(`Ladder: bad side ${side}`);
    this.side = side;
    this.sign = side === Side.BID ? 1 : -1;
    const capacity = Math.max(1, Math.ceil(initialCapacity));
    this.keys = new Float64Array(capacity);
    this.qtys = new Float64Array(capacity);
  }

  get count(): number {
    return this.n;
  }

  /** Allocated capacity in levels. */
  get capacity(): number {
    return this.keys.length;
  }

  /** Sets the absolute qty at price; qty 0 deletes. Returns the previous qty (0 if absent). */
  set(priceMantissa: number, qtyMantissa: number): number {
    const key = priceMantissa * this.sign;
    const n = this.n;
    const keys = this.keys;
    const i = this.lowerBound(key);
    if (i < n && keys[i] === key) {
      const qtys = this.qtys;
      const prevQty = qtys[i];
      if (qtyMantissa !== 0) {
        qtys[i] = qtyMantissa;
      } else {
        // Delete: shift the better levels (i+1 … n−1) down by one.
        if (n - i - 1 > SMALL_MOVE) {
          keys.copyWithin(i, i + 1, n);
          qtys.copyWithin(i, i + 1, n);
        } else {
          for (let j = i + 1; j < n; j++) {
            keys[j - 1] = keys[j];
            qtys[j - 1] = qtys[j];
          }
        }
        this.n = n - 1;
      }
      return prevQty;
    }
    if (qtyMantissa === 0) return 0; // delete of an absent level: no-op, the caller counts it
    if (n === keys.length) this.grow();
    const k = this.keys;
    const q = this.qtys;
    // Insert: shift the better levels (i … n−1) up by one.
    if (n - i > SMALL_MOVE) {
      k.copyWithin(i + 1, i, n);
      q.copyWithin(i + 1, i, n);
    } else {
      for (let j = n; j > i; j--) {
        k[j] = k[j - 1];
        q[j] = q[j - 1];
      }
    }
    k[i] = key;
    q[i] = qtyMantissa;
    this.n = n + 1;
    return 0;
  }

  /** Qty at price, 0 if absent. */
  get(priceMantissa: number): number {
    const key = priceMantissa * this.sign;
    const i = this.lowerBound(key);
    return i < this.n && this.keys[i] === key ? this.qtys[i] : 0;
  }

  clear(): void {
    this.n = 0;
  }

  /** Best price mantissa; NaN if empty. */
  bestPrice(): number {
    return this.n === 0 ? NaN : this.keys[this.n - 1] * this.sign;
  }

  /** Best qty mantissa; 0 if empty. */
  bestQty(): number {
    return this.n === 0 ? 0 : this.qtys[this.n - 1];
  }

  /** Price mantissa at rank (0 = best). Requires rank < count (not checked: hot path). */
  priceAt(rank: number): number {
    return this.keys[this.n - 1 - rank] * this.sign;
  }

  /** Qty mantissa at rank (0 = best). Requires rank < count (not checked: hot path). */
  qtyAt(rank: number): number {
    return this.qtys[this.n - 1 - rank];
  }

  /**
   * Replaces the side with a snapshot side given best-first (bids descending, asks ascending); qty 0 levels are
   * skipped (they never delete, even a duplicate). Strictly ordered input is copied in two linear passes;
   * anything else (wrong order, duplicate prices) falls back to `set()` per level, so the result is always a
   * valid ladder (the last duplicate wins).
   */
  loadSorted(px: Float64Array, qty: Float64Array, n: number): void {
    const sign = this.sign;
    // Pass 1: check strict best-first order and count the non-empty levels.
    let m = 0;
    let prevKey = Infinity;
    let sorted = true;
    for (let j = 0; j < n; j++) {
      if (qty[j] === 0) continue;
      const key = px[j] * sign;
      if (!(key < prevKey)) {
        sorted = false;
        break;
      }
      prevKey = key;
      m++;
    }
    this.n = 0;
    if (!sorted) {
      for (let j = 0; j < n; j++) if (qty[j] !== 0) this.set(px[j], qty[j]);
      return;
    }
    while (m > this.keys.length) this.grow();
    // Pass 2: write reversed, so the best level lands at m − 1.
    const keys = this.keys;
    const qtys = this.qtys;
    let i = m - 1;
    for (let j = 0; j < n; j++) {
      const q = qty[j];
      if (q === 0) continue;
      keys[i] = px[j] * sign;
      qtys[i--] = q;
    }
    this.n = m;
  }

  /** Bytes held by the level arrays (the JS object headers, ~100 B per typed array, are not included). */
  bytesAllocated(): number {
    return this.keys.byteLength + this.qtys.byteLength;
  }

  /**
   * Smallest index i in [0, n] with keys[i] ≥ key. Gallops down from the best end (1, 2, 4 … entries) and then
   * bisects, so an update at rank r costs O(log r) comparisons instead of O(log n).
   */
  private lowerBound(key: number): number {
    const keys = this.keys;
    let hi = this.n - 1;
    if (hi < 0 || keys[hi] < key) return hi + 1; // empty, or a new best level
    // Invariant: keys[hi] ≥ key, and keys[lo] < key (lo = −1 stands for −∞).
    let step = 1;
    let lo = hi - 1;
    while (lo >= 0 && keys[lo] >= key) {
      hi = lo;
      step += step;
      lo = hi - step;
    }
    if (lo < -1) lo = -1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (keys[mid] >= key) hi = mid;
      else lo = mid;
    }
    return hi;
  }

  private grow(): void {
    const capacity = this.keys.length * 2;
    const keys = new Float64Array(capacity);
    const qtys = new Float64Array(capacity);
    keys.set(this.keys.subarray(0, this.n));
    qtys.set(this.qtys.subarray(0, this.n));
    this.keys = keys;
    this.qtys = qtys;
  }
}

/**
 * The alternative considered: qty per tick in a window [base, base + size), best index tracked, a scan toward
 * worse prices when the best empties, and rank access by scanning (skipping empty ticks). Re-centres (and grows)
 * when a price falls outside the window. Here only to be measured.
 */
export class DenseLadder {
  qty = new Float64Array(1024);
  base = 0;
  best = -1;
  n = 0;
  constructor(readonly isBid: boolean) {}
  set(px: number, q: number): number {
    let i = px - this.base;
    if (i < 0 || i >= this.qty.length) {
      if (q === 0) return 0;
      this.recentre(px);
      i = px - this.base;
    }
    const prev = this.qty[i]!;
    this.qty[i] = q;
    if (prev === 0 && q !== 0) {
      this.n++;
      if (this.best < 0 || (this.isBid ? i > this.best : i < this.best)) this.best = i;
    } else if (prev !== 0 && q === 0) {
      this.n--;
      if (i === this.best) {
        if (this.n === 0) this.best = -1;
        else {
          let j = i;
          const step = this.isBid ? -1 : 1;
          do j += step;
          while (this.qty[j] === 0);
          this.best = j;
        }
      }
    }
    return prev;
  }
  clear(): void {
    this.qty.fill(0);
    this.n = 0;
    this.best = -1;
  }
  /** Rank access: scan from the best, skipping empty ticks. */
  priceAt(rank: number): number {
    const step = this.isBid ? -1 : 1;
    let j = this.best;
    for (let r = 0; ; j += step) {
      if (this.qty[j] !== 0 && r++ === rank) return this.base + j;
    }
  }
  private recentre(px: number): void {
    let lo = px;
    let hi = px;
    for (let j = 0; j < this.qty.length; j++) {
      if (this.qty[j] !== 0) {
        lo = Math.min(lo, this.base + j);
        hi = Math.max(hi, this.base + j);
      }
    }
    let size = this.qty.length;
    while (size < (hi - lo + 1) * 2) size *= 2;
    const next = new Float64Array(size);
    const base = Math.max(0, lo - Math.floor((size - (hi - lo + 1)) / 2));
    for (let j = 0; j < this.qty.length; j++) if (this.qty[j] !== 0) next[this.base + j - base] = this.qty[j]!;
    if (this.best >= 0) this.best += this.base - base;
    this.qty = next;
    this.base = base;
  }
  bytes(): number {
    return this.qty.byteLength;
  }
}

