// HOT PATH: no allocation (except when a side's size changes a lot: window resize, overflow doubling or shrink)
/**
 * One side of an L2 book: a hybrid of a dense tick window near the top of the book and a sorted overflow for
 * everything deeper. Chosen by measurement (bench/book.bench.ts, docs/architecture.md "Book engine"): real
 * Bybit deltas land at median rank ~70 of 500, where a sorted array pays a binary search and a memmove per
 * insert/delete, while a window pays one indexed load/store; the sorted overflow keeps any price range working
 * (thin books with huge gaps, prices that jump far) with memory proportional to the levels, never to the span.
 *
 * Keys: bids use `price`, asks `−price`, so "better" is always "larger key" and one code path serves both sides.
 * - Window: qty per key in [keyBase, keyBase + wSize) (0 = empty) plus an occupancy bitmap, for O(1) set and a
 *   fast scan (32 slots per word) to the next level. `wTop` is the best occupied slot. A snapshot sizes it for
 *   its levels and its tick span (windowSlotsFor): OKX's 400-level books are ~10 ticks per level and churn at both
 *   ends, so a window of 2 slots per level left a fifth of their updates to the overflow's memmoves.
 * - Overflow: keys < keyBase (all worse than every window level), ascending in two parallel Float64Arrays, the
 *   best at the end, so the levels just below the window move least.
 * - Ranks: window levels first (best first), then the overflow from its end. Sequential rank reads (top-N
 *   iteration, the snapshot encoder) reuse a cursor and cost O(1) each on dense books.
 * - Re-centring: a level better than the window, an emptied window, or a best level that sank into the bottom
 *   quarter moves the window so that the best sits at 3/4 of it (headroom for improving prices). Re-centring
 *   spills the window into the overflow and pulls back what fits: O(window / 32 + moved levels), rare (the price
 *   has to move a quarter window), and nothing is ever dropped.
 * @module
 */
import type { ChangeSet } from "../core/change-set.ts";
import { Side } from "../core/types.ts";

/** Initial overflow capacity in levels (grows by doubling). */
export const DEFAULT_LADDER_CAPACITY = 16;
/** Window size bounds in slots. 16384 slots = 128 KiB + 2 KiB of bitmap per side. */
export const MIN_WINDOW = 64;
export const MAX_WINDOW = 16384;
/**
 * Density bound of a window sized by a snapshot's tick span: at most this many slots per level (8.125 B each,
 * qty + bitmap bit), so a sparse book cannot claim a window for its whole span (OKX BTC-USD futures: 70 levels
 * over 124k ticks). Within it, every level of the snapshot fits the window.
 */
export const MAX_SLOTS_PER_LEVEL = 16;
/**
 * Window sizes are multiples of this (two bitmap words), not powers of two: a book whose levels are 1–3 ticks apart
 * (the simulator's) needs ~3 slots per level, which a power of two rounded up to 4–6 (bench/load.bench.ts, 1,300
 * books: 9.6 KiB of ladder arrays per book with powers of two, 7.0 KiB now, 4.8 KiB when sized by levels alone).
 */
const WINDOW_STEP = 64;

/**
 * Overflow moves of at most this many entries use a plain loop instead of `copyWithin`: below it the call
 * overhead dominates (bench/book.bench.ts, "move k entries": ~22 ns per copyWithin pair vs 3–10 ns for k ≤ 16).
 */
export const SMALL_MOVE = 16;

const MAX_KEY = Number.MAX_SAFE_INTEGER;

/**
 * From this share of inserts + deletes (per 100 window levels) on, applyLevels' window loop goes branch-free.
 * Measured on the recordings' first pass after their snapshots (bench/book.bench.ts): Binance (~5–10 % inserts and
 * deletes) is faster with the branchy loop, OKX (~57 %) with the branch-free one.
 */
export const CHURN_BRANCHLESS_PCT = 25;

export class Ladder {
  readonly side: Side;
  /** +1 for bids, −1 for asks: key = price × sign. */
  private readonly sign: number;

  // Dense window over keys [keyBase, keyBase + wSize).
  private wQty: Float64Array = new Float64Array(0);
  private wBits: Int32Array = new Int32Array(0);
  private wSize = 0;
  private keyBase = 0;
  private wCount = 0;
  /** Best occupied window slot, −1 when the window is empty. */
  private wTop = -1;

  // Sorted overflow: ascending keys < keyBase in [0, oN).
  private oKeys: Float64Array;
  private oQtys: Float64Array;
  private oN = 0;

  /**
   * Inserts + deletes per 100 window levels applied, smoothed over applyLevels calls (an exponential average): at
   * CHURN_BRANCHLESS_PCT or more, applyLevels takes its branch-free window loop.
   */
  private churnPct = 0;

  /** Times the window moved or was resized (re-centres): a metric, and proof in tests that the path ran. */
  windowMoves = 0;

  // Rank cursor over the window: slot of rank curRank; −1 = invalid. Reset by every occupancy change.
  private curRank = -1;
  private curSlot = -1;

  constructor(side: Side, initialCapacity: number = DEFAULT_LADDER_CAPACITY) {
    if (side !== Side.BID && side !== Side.ASK) throw new RangeError(`Ladder: bad side ${side}`);
    this.side = side;
    this.sign = side === Side.BID ? 1 : -1;
    const capacity = Math.max(1, Math.ceil(initialCapacity));
    this.oKeys = new Float64Array(capacity);
    this.oQtys = new Float64Array(capacity);
  }

  get count(): number {
    return this.wCount + this.oN;
  }

  /** Slots in the dense window (0 until the first level arrives). */
  get windowSize(): number {
    return this.wSize;
  }

  /**
   * Inserts + deletes per 100 window levels that applyLevels applied, smoothed over its calls; from
   * CHURN_BRANCHLESS_PCT on it takes its branch-free window loop.
   */
  get churn(): number {
    return this.churnPct;
  }

  /** Levels currently held in the window (the rest are in the sorted overflow). */
  get windowCount(): number {
    return this.wCount;
  }

  /** Sets the absolute qty at price; qty 0 deletes. Returns the previous qty (0 if absent). */
  set(priceMantissa: number, qtyMantissa: number): number {
    const key = priceMantissa * this.sign;
    const slot = key - this.keyBase;
    if (slot >= 0 && slot < this.wSize) {
      const wQty = this.wQty;
      const prevQty = wQty[slot];
      if (qtyMantissa !== 0) {
        wQty[slot] = qtyMantissa;
        if (prevQty === 0) this.occupy(slot);
      } else if (prevQty !== 0) {
        wQty[slot] = 0;
        this.vacate(slot);
      }
      return prevQty;
    }
    return this.setOutside(key, qtyMantissa);
  }

  /**
   * Applies n absolute levels of one delta side (qty 0 deletes) and appends each level whose qty really changed
   * to `changes` (this side's half). Returns how many were deletes of absent levels.
   * Runs of window levels (qty updates, inserts, deletes other than of the best) go through an inline window loop
   * with the ladder's fields in locals, writing the change set's arrays directly after reserving room for n
   * entries; everything else calls set(). Measured ~1.6× faster per real Bybit delta than set() +
   * ChangeSet.addBid() per level (bench/book.bench.ts); on the real OKX updates (mostly inserts and deletes) the
   * window inserts/deletes in the loop took applyDelta from ~600 to ~290 ns (bench/okx.bench.ts). The loop was a
   * separate function until 2026-12-05: its call (13 arguments, results in module variables) cost ~6 ns per side,
   * so ~12 ns per frame even for empty sides (docs/performance.md §2).
   */
  applyLevels(px: Float64Array, qty: Float64Array, n: number, changes: ChangeSet): number {
    if (n === 0) return 0;
    const isBid = this.side === Side.BID;
    const sign = this.sign;
    // Reserve room for n changes (same doubling as ChangeSet's own growth), then write the arrays directly.
    let cN = isBid ? changes.bidCount : changes.askCount;
    let cPx = isBid ? changes.bidPx : changes.askPx;
    let cQty = isBid ? changes.bidQty : changes.askQty;
    if (cN + n > cPx.length) {
      let cap = cPx.length * 2;
      while (cap < cN + n) cap *= 2;
      const a = new Float64Array(cap);
      const b = new Float64Array(cap);
      a.set(cPx.subarray(0, cN));
      b.set(cQty.subarray(0, cN));
      cPx = a;
      cQty = b;
      if (isBid) {
        changes.bidPx = a;
        changes.bidQty = b;
      } else {
        changes.askPx = a;
        changes.askQty = b;
      }
    }
    let absentDeletes = 0;
    let i = 0;
    for (;;) {
      // The window loop, inline (a separate function cost ~6 ns per call in arguments and results). Levels in the
      // window: qty updates (98.8 % of real Bybit delta levels, ~90 % of Binance's), inserts (a new best included),
      // deletes other than of the best, deletes of absent levels. It stops at the best's delete (which may move the
      // window) and at a price outside the window; those take set(), then the loop resumes.
      const wQty = this.wQty;
      const wBits = this.wBits;
      const keyBase = this.keyBase;
      const wSize = this.wSize;
      let wTop = this.wTop;
      let inserts = 0;
      let deletes = 0;
      const from = i;
      if (this.churnPct < CHURN_BRANCHLESS_PCT) {
        // Mostly qty updates (98.8 % of real Bybit delta levels, ~90 % of Binance's): a well-predicted branch each.
        for (; i < n; i++) {
          const priceMantissa = px[i];
          const qtyMantissa = qty[i];
          const offset = priceMantissa * sign - keyBase;
          if (!(offset >= 0 && offset < wSize)) break;
          const slot = offset | 0; // an int32 index: typed-array access is faster than with a double
          const prevQty = wQty[slot];
          if (qtyMantissa !== 0) {
            wQty[slot] = qtyMantissa;
            if (prevQty === 0) {
              wBits[slot >> 5] |= 1 << (slot & 31);
              inserts++;
              if (slot > wTop) wTop = slot;
            } else if (prevQty === qtyMantissa) continue;
          } else if (prevQty !== 0) {
            if (slot === wTop) break; // the best goes: set() finds the next one and may move the window
            wQty[slot] = 0;
            wBits[slot >> 5] &= ~(1 << (slot & 31));
            deletes++;
          } else {
            absentDeletes++;
            continue;
          }
          cPx[cN] = priceMantissa;
          cQty[cN++] = qtyMantissa;
        }
      } else {
        // Inserts and deletes mixed unpredictably with updates (OKX: 45 % deletes, 32 % inserts): the same work
        // without a branch on the level's kind, since a mispredicted branch costs more than the stores done every
        // time. Slower on update-only runs (the bitmap word's read-modify-write chains adjacent levels).
        for (; i < n; i++) {
          const priceMantissa = px[i];
          const qtyMantissa = qty[i];
          const offset = priceMantissa * sign - keyBase;
          if (!(offset >= 0 && offset < wSize)) break;
          const slot = offset | 0;
          const prevQty = wQty[slot];
          const on = +(qtyMantissa !== 0);
          const was = +(prevQty !== 0);
          if (slot >= wTop) {
            // Rare: a new best, or the best's own level (whose delete needs set() to find the next best).
            if (on === 0 && was === 1 && slot === wTop) break;
            if (on === 1) wTop = slot;
          }
          wQty[slot] = qtyMantissa;
          const bit = 1 << (slot & 31);
          const w = slot >> 5;
          wBits[w] = (wBits[w] & ~bit) | (bit & -on);
          inserts += on & (was ^ 1);
          deletes += was & (on ^ 1);
          absentDeletes += (on | was) ^ 1;
          cPx[cN] = priceMantissa;
          cQty[cN] = qtyMantissa;
          cN += +(prevQty !== qtyMantissa);
        }
      }
      // Share of inserts and deletes among the window levels, smoothed over calls: picks the loop above.
      if (i > from) this.churnPct += (((inserts + deletes) * 100) / (i - from) - this.churnPct) * 0.25;
      if (inserts + deletes !== 0) {
        this.wCount += inserts - deletes;
        this.wTop = wTop;
        this.curRank = -1;
      }
      if (i >= n) break;
      // Anything else (delete of the best window level, outside the window) takes the general path, then the fast
      // loop resumes.
      const priceMantissa = px[i];
      const qtyMantissa = qty[i];
      const prevQty = this.set(priceMantissa, qtyMantissa);
      if (prevQty !== qtyMantissa) {
        cPx[cN] = priceMantissa;
        cQty[cN++] = qtyMantissa;
      } else if (qtyMantissa === 0) {
        absentDeletes++;
      }
      i++;
    }
    if (isBid) changes.bidCount = cN;
    else changes.askCount = cN;
    return absentDeletes;
  }

  /** Qty at price, 0 if absent. */
  get(priceMantissa: number): number {
    const key = priceMantissa * this.sign;
    const slot = key - this.keyBase;
    if (slot >= 0 && slot < this.wSize) return this.wQty[slot];
    if (slot >= this.wSize) return 0;
    const i = this.lowerBound(key);
    return i < this.oN && this.oKeys[i] === key ? this.oQtys[i] : 0;
  }

  clear(): void {
    const wCount = this.wCount;
    if (wCount !== 0) {
      if (wCount * 4 < this.wSize) {
        // Few levels in the window (e.g. depth-1 snapshots): zero just the occupied slots, found through the bitmap.
        // Measured: ~5 ns for one level against ~40 ns for the two fill() calls; from a quarter occupancy on the
        // fills are as fast or faster (scratch microbenchmark, 128–2048 slots).
        const wQty = this.wQty;
        const bits = this.wBits;
        for (let w = 0, nw = bits.length; w < nw; w++) {
          let word = bits[w];
          if (word === 0) continue;
          bits[w] = 0;
          const at = w << 5;
          do {
            const b = 31 - Math.clz32(word);
            wQty[at + b] = 0;
            word ^= 1 << b;
          } while (word !== 0);
        }
      } else {
        this.wQty.fill(0);
        this.wBits.fill(0);
      }
    }
    this.wCount = 0;
    this.wTop = -1;
    this.oN = 0;
    this.curRank = -1;
  }

  /** Best price mantissa; NaN if empty. */
  bestPrice(): number {
    // "+ 0" turns the −0 of an ask at price 0 (key −0) into 0.
    if (this.wCount !== 0) return (this.keyBase + this.wTop) * this.sign + 0;
    return this.oN === 0 ? NaN : this.oKeys[this.oN - 1] * this.sign + 0;
  }

  /** Best qty mantissa; 0 if empty. */
  bestQty(): number {
    if (this.wCount !== 0) return this.wQty[this.wTop];
    return this.oN === 0 ? 0 : this.oQtys[this.oN - 1];
  }

  /** Price mantissa at rank (0 = best). Requires rank < count (not checked: hot path). */
  priceAt(rank: number): number {
    if (rank < this.wCount) return (this.keyBase + this.slotOfRank(rank)) * this.sign + 0;
    return this.oKeys[this.oN - 1 - (rank - this.wCount)] * this.sign + 0;
  }

  /** Qty mantissa at rank (0 = best). Requires rank < count (not checked: hot path). */
  qtyAt(rank: number): number {
    if (rank < this.wCount) return this.wQty[this.slotOfRank(rank)];
    return this.oQtys[this.oN - 1 - (rank - this.wCount)];
  }

  /**
   * Copies the n levels from rank `from` (0 = best) into px/qty at `outOffset`, best first. Requires
   * from + n ≤ count (not checked: hot path). The bulk read of the snapshot encoder: it walks the window bitmap a
   * word at a time and then the overflow, instead of one priceAt + qtyAt call per level (measured: ~7 ns per
   * level saved, bench/bybit.bench.ts); dense windows a whole word at a time. Leaves the rank cursor at the last
   * window level copied, so the next chunk (from + n) resumes in O(1).
   */
  copyLevels(from: number, n: number, px: Float64Array, qty: Float64Array, outOffset: number): void {
    const sign = this.sign;
    const wCount = this.wCount;
    let o = outOffset;
    const outEnd = outOffset + n;
    if (from < wCount && n > 0) {
      const inWindow = wCount - from < n ? wCount - from : n;
      const winEnd = outOffset + inWindow;
      const base = this.keyBase;
      const wQty = this.wQty;
      const bits = this.wBits;
      let slot = this.slotOfRank(from);
      let w = slot >> 5;
      let word = bits[w] & ((2 << (slot & 31)) - 1); // bits 0 … slot&31 (2 << 31 wraps to 0: all ones)
      if (wCount * 8 >= this.wSize) {
        // Dense (≥ 4 levels per bitmap word on average): each whole word is read lowest bit first, whose chain
        // (word &= word − 1) is shorter than clearing the highest, and written backwards from its popcount.
        // ~1.6× faster on 1000-level books 2 ticks apart; slower on sparse windows (most words hold 0–1 levels).
        for (;;) {
          while (word === 0) word = bits[--w];
          let c = word - ((word >>> 1) & 0x55555555);
          c = (c & 0x33333333) + ((c >>> 2) & 0x33333333);
          c = Math.imul((c + (c >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
          if (o + c > winEnd) break; // the chunk ends inside this word: the loop below takes its top levels
          const at = w << 5;
          let p = o + c - 1;
          o += c;
          slot = at + 31 - Math.clz32(word & -word); // the word's lowest level: the last one in rank order
          do {
            const s = at + 31 - Math.clz32(word & -word);
            px[p] = (base + s) * sign + 0; // "+ 0": an ask at price 0 has key −0
            qty[p--] = wQty[s];
            word &= word - 1;
          } while (word !== 0);
          if (o === winEnd) break;
          word = bits[--w];
        }
      }
      // Highest bit first, one level at a time: sparse windows, and the top of the word a dense chunk ends in.
      while (o < winEnd) {
        while (word === 0) word = bits[--w];
        const b = 31 - Math.clz32(word);
        slot = (w << 5) + b;
        px[o] = (base + slot) * sign + 0;
        qty[o++] = wQty[slot];
        word ^= 1 << b;
      }
      this.curRank = from + inWindow - 1;
      this.curSlot = slot;
    }
    if (o < outEnd) {
      const oKeys = this.oKeys;
      const oQtys = this.oQtys;
      let i = this.oN - 1 - (from + (o - outOffset) - wCount);
      for (; o < outEnd; o++, i--) {
        px[o] = oKeys[i] * sign + 0;
        qty[o] = oQtys[i];
      }
    }
  }

  /**
   * Replaces the side with a snapshot side given best-first (bids descending, asks ascending); qty 0 levels are
   * skipped (they never delete, even a duplicate). Strictly ordered input is loaded in one linear pass that checks
   * the order as it goes, with the window sized for the input; anything else (wrong order, duplicate prices) falls
   * back to `set()` per level, so the result is always valid (the last duplicate wins). One pass instead of a
   * separate order-checking pass: measured ~25 % less time per snapshot apply (bench/book.bench.ts).
   */
  loadSorted(px: Float64Array, qty: Float64Array, n: number): void {
    const sign = this.sign;
    this.oN = 0;
    this.curRank = -1;
    let j = 0;
    while (j < n && qty[j] === 0) j++;
    if (j === n) return this.clear();
    const bestKey = px[j] * sign;
    // Sized by the input's levels from the best on (real snapshots have no qty 0 levels, so this is their count) and
    // by their tick span (the last level, if the input is ordered; if not, loadUnsorted takes over anyway).
    const maxLevels = n - j;
    this.ensureWindow(maxLevels, bestKey - px[n - 1] * sign);
    const size = this.wSize;
    const base = baseFor(bestKey, size);
    this.keyBase = base;
    // Window levels (best first). Slots fall monotonically, so each bitmap word is built in a local and stored once.
    // The window is not cleared first: as each word is stored, the old levels it no longer holds (old bits & ~new
    // bits) are zeroed, and so are those of the words the snapshot skips or leaves above and below it. A snapshot
    // over a similar book (a resync) then writes each level's cache line once; clearing first (a bitmap walk for
    // sparse windows) cost ~1.5 ns per old level and a second pass over the same lines.
    const wQty = this.wQty;
    const wBits = this.wBits;
    let prevKey = Infinity;
    let inWindow = 0;
    let w = (bestKey - base) >> 5;
    for (let x = (size >> 5) - 1; x > w; x--) if (wBits[x] !== 0) zeroStale(wQty, wBits, x, 0);
    let word = 0;
    for (; j < n; j++) {
      const q = qty[j];
      if (q === 0) continue;
      const key = px[j] * sign;
      if (!(key < prevKey)) return this.loadUnsorted(px, qty, n);
      const offset = key - base;
      if (offset < 0) break;
      const slot = offset | 0; // ≤ 3/4 of the window here; an int32 index is cheaper than a double one
      prevKey = key;
      const sw = slot >> 5;
      if (sw !== w) {
        if ((wBits[w] & ~word) !== 0) zeroStale(wQty, wBits, w, word);
        wBits[w] = word;
        while (--w > sw) if (wBits[w] !== 0) zeroStale(wQty, wBits, w, 0);
        word = 0;
      }
      word |= 1 << (slot & 31);
      wQty[slot] = q;
      inWindow++;
    }
    if ((wBits[w] & ~word) !== 0) zeroStale(wQty, wBits, w, word);
    wBits[w] = word;
    for (let x = w - 1; x >= 0; x--) if (wBits[x] !== 0) zeroStale(wQty, wBits, x, 0);
    this.wCount = inWindow;
    this.wTop = inWindow === 0 ? -1 : bestKey - base;
    if (j === n) return;
    // The rest goes into the overflow, written from index restMax − 1 down so its best ends last; qty 0 levels in
    // the input (never in real snapshots) leave a gap at the bottom, closed afterwards.
    const restMax = n - j;
    if (restMax > this.oKeys.length) this.growOverflow(restMax);
    else if (this.oKeys.length > 4 * Math.max(restMax, DEFAULT_LADDER_CAPACITY)) this.shrinkOverflow(restMax);
    const oKeys = this.oKeys;
    const oQtys = this.oQtys;
    let i = restMax - 1;
    for (; j < n; j++) {
      const q = qty[j];
      if (q === 0) continue;
      const key = px[j] * sign;
      if (!(key < prevKey)) return this.loadUnsorted(px, qty, n);
      prevKey = key;
      oKeys[i] = key;
      oQtys[i--] = q;
    }
    if (i >= 0) {
      oKeys.copyWithin(0, i + 1, restMax);
      oQtys.copyWithin(0, i + 1, restMax);
    }
    this.oN = restMax - 1 - i;
  }

  /** Cold: loadSorted's input was not strictly best-first. Starts over with set() per level. */
  private loadUnsorted(px: Float64Array, qty: Float64Array, n: number): void {
    // The window may be partly written and wCount not yet set: clear all of it.
    this.wQty.fill(0);
    this.wBits.fill(0);
    this.wCount = 0;
    this.wTop = -1;
    this.oN = 0;
    this.curRank = -1;
    for (let j = 0; j < n; j++) if (qty[j] !== 0) this.set(px[j], qty[j]);
  }

  /** Bytes held by the window, its bitmap and the overflow arrays (JS object headers, ~100 B each, excluded). */
  bytesAllocated(): number {
    return this.wQty.byteLength + this.wBits.byteLength + this.oKeys.byteLength + this.oQtys.byteLength;
  }

  // ---- window ----

  private occupy(slot: number): void {
    this.wBits[slot >> 5] |= 1 << (slot & 31);
    this.wCount++;
    if (slot > this.wTop) this.wTop = slot;
    this.curRank = -1;
  }

  private vacate(slot: number): void {
    this.wBits[slot >> 5] &= ~(1 << (slot & 31));
    this.wCount--;
    this.curRank = -1;
    if (slot !== this.wTop) return;
    const top = this.wCount === 0 ? -1 : this.prevOccupied(slot);
    this.wTop = top;
    // The best sank into the bottom quarter (or the window emptied while deeper levels exist): follow it down.
    if (top < this.wSize >> 2 && (top >= 0 || this.oN !== 0)) {
      this.recentre(top >= 0 ? this.keyBase + top : this.oKeys[this.oN - 1]);
    }
  }

  /** Highest occupied slot below `slot`, or −1. Scans the bitmap a 32-slot word at a time. */
  private prevOccupied(slot: number): number {
    const i = slot - 1;
    if (i < 0) return -1;
    const bits = this.wBits;
    let w = i >> 5;
    let word = bits[w] & ((2 << (i & 31)) - 1); // bits 0 … i&31 (2 << 31 wraps to 0, giving all ones)
    while (word === 0) {
      if (--w < 0) return -1;
      word = bits[w];
    }
    return (w << 5) + 31 - Math.clz32(word);
  }

  /** Window slot holding rank (< wCount); walks from the cursor when reading forward, else from the best. */
  private slotOfRank(rank: number): number {
    let r = this.curRank;
    let slot = this.curSlot;
    if (r < 0 || rank < r) {
      r = 0;
      slot = this.wTop;
    }
    while (r < rank) {
      slot = this.prevOccupied(slot);
      r++;
    }
    this.curRank = r;
    this.curSlot = slot;
    return slot;
  }

  /**
   * Sizes the window for a side of `levels` levels spanning `spanTicks` from the best to the worst (allocates
   * rarely): windowSlotsFor, i.e. at least two slots per level, and room for the whole span (and then some) with the
   * best at 3/4 of the window as long as that takes at most MAX_SLOTS_PER_LEVEL slots per level (sparse books keep
   * their deep levels in the overflow).
   */
  private ensureWindow(levels: number, spanTicks: number): void {
    const want = windowSlotsFor(levels, spanTicks);
    // Hysteresis: keep the current window within a factor of two, so snapshots of varying depth do not allocate.
    if (this.wSize !== 0 && this.wSize <= want * 2 && this.wSize * 2 >= want) return;
    this.wQty = new Float64Array(want);
    this.wBits = new Int32Array(want >> 5);
    this.wSize = want;
  }

  /**
   * Moves the window so that `bestKey` sits at 3/4 of it: spills every window level into the overflow (they are
   * all better than the overflow's, so they append in order), then pulls back the overflow's top that fits.
   */
  private recentre(bestKey: number): void {
    this.windowMoves++;
    const base = this.keyBase;
    const size = this.wSize;
    if (this.wCount !== 0) {
      const wQty = this.wQty;
      const bits = this.wBits;
      if (this.oN + this.wCount > this.oKeys.length) this.growOverflow(this.oN + this.wCount);
      const oKeys = this.oKeys;
      const oQtys = this.oQtys;
      let o = this.oN;
      // Ascending slots through the bitmap, a word at a time: sparse windows of thousands of slots are common.
      for (let w = 0, nw = size >> 5; w < nw; w++) {
        let word = bits[w];
        if (word === 0) continue;
        bits[w] = 0;
        const at = w << 5;
        do {
          const b = 31 - Math.clz32(word & -word); // lowest set bit
          const s = at + b;
          oKeys[o] = base + s;
          oQtys[o++] = wQty[s];
          wQty[s] = 0;
          word &= word - 1;
        } while (word !== 0);
      }
      this.oN = o;
    }
    this.wCount = 0;
    this.wTop = -1;
    this.curRank = -1;
    // Everything is in the overflow now: resize the (empty) window if the side has grown or shrunk a lot.
    const worst = this.oN === 0 ? bestKey : this.oKeys[0];
    this.ensureWindow(this.oN + 1, bestKey - worst);
    const newBase = baseFor(bestKey, this.wSize);
    this.keyBase = newBase;
    const wQty = this.wQty;
    const oKeys = this.oKeys;
    const oQtys = this.oQtys;
    const wBits = this.wBits;
    let o = this.oN;
    while (o > 0 && oKeys[o - 1] >= newBase) {
      o--;
      const slot = oKeys[o] - newBase;
      wQty[slot] = oQtys[o];
      wBits[slot >> 5] |= 1 << (slot & 31);
      if (this.wTop < 0) this.wTop = slot;
      this.wCount++;
    }
    this.oN = o;
  }

  // ---- outside the window ----

  /** Cold-ish path of set(): a key above the window (re-centre), below it (overflow), or no window yet. */
  private setOutside(key: number, qtyMantissa: number): number {
    const aboveWindow = key - this.keyBase >= this.wSize; // a difference, not a sum: exact near ±2^53
    const newBestInEmpty = this.wCount === 0 && (this.oN === 0 || key > this.oKeys[this.oN - 1]);
    if (aboveWindow || newBestInEmpty) {
      // A new best above the window (or no window yet, or an empty window): move the window to it.
      if (qtyMantissa === 0) return 0; // nothing lives above the window: the level is absent
      this.recentre(key);
      const slot = key - this.keyBase;
      this.wQty[slot] = qtyMantissa;
      this.occupy(slot);
      return 0;
    }
    return this.overflowSet(key, qtyMantissa);
  }

  /** Sorted-array set on the overflow (keys below the window). */
  private overflowSet(key: number, qtyMantissa: number): number {
    const n = this.oN;
    const keys = this.oKeys;
    const i = this.lowerBound(key);
    if (i < n && keys[i] === key) {
      const qtys = this.oQtys;
      const prevQty = qtys[i];
      if (qtyMantissa !== 0) {
        qtys[i] = qtyMantissa;
      } else {
        // Delete: shift the better overflow levels (i+1 … n−1) down by one.
        if (n - i - 1 > SMALL_MOVE) {
          keys.copyWithin(i, i + 1, n);
          qtys.copyWithin(i, i + 1, n);
        } else {
          for (let j = i + 1; j < n; j++) {
            keys[j - 1] = keys[j];
            qtys[j - 1] = qtys[j];
          }
        }
        this.oN = n - 1;
        if (this.wCount === 0 && this.oN !== 0 && i === n - 1) this.recentre(keys[this.oN - 1]);
      }
      return prevQty;
    }
    if (qtyMantissa === 0) return 0; // delete of an absent level: no-op, the caller counts it
    if (n === keys.length) this.growOverflow(n + 1);
    const k = this.oKeys;
    const q = this.oQtys;
    // Insert: shift the better overflow levels (i … n−1) up by one.
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
    this.oN = n + 1;
    return 0;
  }

  /**
   * Smallest index i in [0, oN] with oKeys[i] ≥ key. Gallops down from the best end (1, 2, 4 … entries) and then
   * bisects: overflow updates cluster just below the window, i.e. at the end of the array.
   */
  private lowerBound(key: number): number {
    const keys = this.oKeys;
    let hi = this.oN - 1;
    if (hi < 0 || keys[hi] < key) return hi + 1;
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

  /** Gives back overflow memory a re-centre spill left behind (cold: only from loadSorted, the overflow empty). */
  private shrinkOverflow(levels: number): void {
    let capacity = DEFAULT_LADDER_CAPACITY;
    while (capacity < levels) capacity *= 2;
    this.oKeys = new Float64Array(capacity);
    this.oQtys = new Float64Array(capacity);
  }

  private growOverflow(atLeast: number): void {
    let capacity = this.oKeys.length * 2;
    while (capacity < atLeast) capacity *= 2;
    const keys = new Float64Array(capacity);
    const qtys = new Float64Array(capacity);
    keys.set(this.oKeys.subarray(0, this.oN));
    qtys.set(this.oQtys.subarray(0, this.oN));
    this.oKeys = keys;
    this.oQtys = qtys;
  }
}

/**
 * Zeroes the qtys of word w's old levels that `keep` (the word's new bits) does not hold, and stores `keep` as the
 * word. Cold: only where a snapshot replaces levels it does not rewrite.
 */
function zeroStale(wQty: Float64Array, wBits: Int32Array, w: number, keep: number): void {
  let stale = wBits[w] & ~keep;
  const at = w << 5;
  while (stale !== 0) {
    const b = 31 - Math.clz32(stale);
    wQty[at + b] = 0;
    stale ^= 1 << b;
  }
  wBits[w] = keep;
}

/**
 * Window slots for a side of `levels` levels spanning `spanTicks`: max(2 × levels, 1.5 × the span + 1) with the
 * span part bounded by MAX_SLOTS_PER_LEVEL × levels, rounded up to a multiple of WINDOW_STEP, within
 * [MIN_WINDOW, MAX_WINDOW]. With the best at 3/4, 1.5 × the span covers 1.125 × the span below the best: room for
 * the book to deepen after the snapshot (with exactly the span, 7 % of the real BTC-USDT update levels fell into
 * the overflow).
 */
export function windowSlotsFor(levels: number, spanTicks: number): number {
  const bySpan = Math.min(Math.ceil(spanTicks * 1.5) + 1, MAX_SLOTS_PER_LEVEL * levels);
  const need = Math.max(2 * levels, bySpan, MIN_WINDOW);
  return Math.min(MAX_WINDOW, Math.ceil(need / WINDOW_STEP) * WINDOW_STEP);
}

/** Window base that puts bestKey at 3/4 of a window of `size` slots, kept within the exact integer range. */
function baseFor(bestKey: number, size: number): number {
  const base = bestKey - ((size >> 2) * 3);
  return base < -MAX_KEY ? -MAX_KEY : base;
}
