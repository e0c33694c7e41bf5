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
 *
 * Files: this one holds the class and its bulk paths (the delta loop, the snapshot load, the bulk copy), each a
 * loop that copies the ladder's fields into locals; ladder-base.ts the state and the per-level operations (set,
 * get, ranks, the window's upkeep); ladder-window.ts the window's arithmetic (sizing, base, bitmap walks);
 * ladder-overflow.ts the sorted overflow's search and shifts. Split from one 777-line file on 2026-12-05 without
 * behaviour change (A/B in docs/performance.md §2).
 * @module
 */
import type { ChangeSet } from "../core/change-set.ts";
import { Side } from "../core/types.ts";
import { LadderBase } from "./ladder-base.ts";
import { DEFAULT_LADDER_CAPACITY } from "./ladder-overflow.ts";
import { baseFor, LAZY_SHRINK_MAX_SLOTS, zeroStale } from "./ladder-window.ts";

export { DEFAULT_LADDER_CAPACITY, SMALL_MOVE } from "./ladder-overflow.ts";
export { MAX_SLOTS_PER_LEVEL, MAX_WINDOW, MIN_WINDOW, windowSlotsFor } from "./ladder-window.ts";

/**
 * From this share of inserts + deletes (per 100 window levels) on, applyLevels' window loop goes branch-free.
 * Measured on the recordings' first pass after their snapshots (bench/book.bench.ts): Binance (~5–10 % inserts and
 * deletes) is faster with the branchy loop, OKX (~57 %) with the branch-free one.
 */
export const CHURN_BRANCHLESS_PCT = 25;

export class Ladder extends LadderBase {
  /**
   * Inserts + deletes per 100 window levels that applyLevels applied, smoothed over its calls; from
   * CHURN_BRANCHLESS_PCT on it takes its branch-free window loop.
   */
  get churn(): number {
    return this.churnPct;
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
   * so ~12 ns per frame even for empty sides (docs/performance.md §2). A large window a re-centre found over twice
   * its need counts the call towards its shrink (tickOversized).
   */
  applyLevels(px: Float64Array, qty: Float64Array, n: number, changes: ChangeSet): number {
    if (n === 0) return 0;
    const isBid = this.side === Side.BID;
    const sign = this.sign;
    // Room for n more changes on this side (cold when it grows), then the loop writes the arrays directly.
    let cN = isBid ? changes.bidCount : changes.askCount;
    let cPx = isBid ? changes.bidPx : changes.askPx;
    let cQty = isBid ? changes.bidQty : changes.askQty;
    if (cN + n > cPx.length) {
      changes.reserve(isBid, cN + n);
      cPx = isBid ? changes.bidPx : changes.askPx;
      cQty = isBid ? changes.bidQty : changes.askQty;
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
      // Inserts + deletes (moves) and inserts − deletes (net) of this window run.
      let moves = 0;
      let net = 0;
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
              moves++;
              net++;
              if (slot > wTop) wTop = slot;
            } else if (prevQty === qtyMantissa) continue;
          } else if (prevQty !== 0) {
            if (slot === wTop) break; // the best goes: set() finds the next one and may move the window
            wQty[slot] = 0;
            wBits[slot >> 5] &= ~(1 << (slot & 31));
            moves++;
            net--;
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
          // "| 0": int32 sums without overflow checks (at most n per call).
          moves = (moves + (on ^ was)) | 0;
          net = (net + on - was) | 0;
          absentDeletes = (absentDeletes + ((on | was) ^ 1)) | 0;
          cPx[cN] = priceMantissa;
          cQty[cN] = qtyMantissa;
          cN += +(prevQty !== qtyMantissa);
        }
      }
      // Share of inserts and deletes among the window levels, smoothed over calls: picks the loop above. A run of
      // qty updates only (most of Binance's and Bybit's) decays it without the division, which JSC compiled as an
      // integer divide with a remainder check (~2.5 ns per call, perf); x · 0.75 and x + (0 − x) · 0.25 are both the
      // rounded 3x/4 (they could differ only among subnormals, far below the threshold), so the loop choice is the same.
      if (moves !== 0) {
        this.churnPct += ((moves * 100) / (i - from) - this.churnPct) * 0.25;
        this.wCount += net;
        this.wTop = wTop;
        this.curRank = -1;
      } else if (i > from) this.churnPct *= 0.75;
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
    // A large window a re-centre found over twice its need: this delta counts towards giving it back (cold).
    if (this.wOversized !== 0 && this.wSize > LAZY_SHRINK_MAX_SLOTS) this.tickOversized();
    return absentDeletes;
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
   * skipped (they never delete). Strictly ordered input is loaded in one linear pass that checks the order as it goes
   * (qty 0 entries' prices too), with the window sized for the input; anything else (wrong order, a repeated price) is
   * sorted into a copy that is loaded the same way (loadUnsorted). Returns -1 when every price is listed once, else the
   * index of an entry whose price another entry lists too (a qty 0 one counts): the side then holds the last non-zero
   * entry of each price, a guess the caller may refuse (the book builder does: which size the venue holds is unknown).
   * A NaN or infinite price, wherever it is (on a qty 0 entry too), throws RangeError naming it and its level, the side
   * left empty. One pass instead of a separate order-checking pass: measured ~25 % less time per snapshot apply
   * (bench/book.bench.ts); the repeat check costs nothing there (the order check already compares each level with
   * the one before).
   */
  loadSorted(px: Float64Array, qty: Float64Array, n: number): number {
    const sign = this.sign;
    this.oN = 0;
    this.curRank = -1;
    let j = 0;
    let prevKey = Infinity;
    // qty 0 entries are no level, but their price must still be a number in order, listed once (here and in the loops
    // below; cold: real snapshots have none): loadUnsorted refuses a NaN or infinite one by name, and finds a repeat.
    for (; j < n && qty[j] === 0; j++) {
      const key = px[j] * sign;
      if (!Number.isFinite(key) || !(key < prevKey)) return this.loadUnsorted(px, qty, n);
      prevKey = key;
    }
    if (j === n) {
      this.clear();
      if (this.oKeys.length > 4 * DEFAULT_LADDER_CAPACITY) this.shrinkOverflow(0); // as below: an empty side holds none
      return -1;
    }
    const bestKey = px[j] * sign;
    // A NaN or infinite best or last entry would size the window NaN (arrays of length 0, a level's qty lost) or by an
    // infinite span: refused before (by loadUnsorted, by name).
    if (!Number.isFinite(bestKey) || !Number.isFinite(px[n - 1])) return this.loadUnsorted(px, qty, n);
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
    let inWindow = 0;
    let w = (bestKey - base) >> 5;
    for (let x = (size >> 5) - 1; x > w; x--) if (wBits[x] !== 0) zeroStale(wQty, wBits, x, 0);
    let word = 0;
    for (; j < n; j++) {
      const q = qty[j];
      if (q === 0) {
        const zeroKey = px[j] * sign;
        if (!Number.isFinite(zeroKey) || !(zeroKey < prevKey)) return this.loadUnsorted(px, qty, n);
        prevKey = zeroKey;
        continue;
      }
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
    if (j === n) {
      // All in the window: give back what a deeper side left in the overflow, as the overflow's own load does below
      // (until 2026-12-06 only that one did: a 100k-level side kept its 2 MiB after a 50-level snapshot).
      if (this.oKeys.length > 4 * DEFAULT_LADDER_CAPACITY) this.shrinkOverflow(0);
      return -1;
    }
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
      if (q === 0) {
        const zeroKey = px[j] * sign;
        if (!Number.isFinite(zeroKey) || !(zeroKey < prevKey)) return this.loadUnsorted(px, qty, n);
        prevKey = zeroKey;
        continue;
      }
      const key = px[j] * sign;
      if (!(key < prevKey)) return this.loadUnsorted(px, qty, n);
      prevKey = key;
      oKeys[i] = key;
      oQtys[i--] = q;
    }
    // Strictly best first, so the one infinite price the order lets through is the worst level's key −∞ (a bid's
    // −∞, an ask's +∞) with qty 0 entries after it, and only here (below any finite window): refused by name.
    if (prevKey === -Infinity) return this.loadUnsorted(px, qty, n);
    if (i >= 0) {
      oKeys.copyWithin(0, i + 1, restMax);
      oQtys.copyWithin(0, i + 1, restMax);
    }
    this.oN = restMax - 1 - i;
    return -1;
  }

  /**
   * Cold: loadSorted's input was not strictly best-first (out of order, or a price repeated). Loads a best-first copy
   * of its levels (the last non-zero entry of a repeated price kept, qty 0 entries dropped) through loadSorted and
   * returns loadSorted's answer: -1, or the index of an entry whose price another entry lists too (a qty 0 entry counts).
   * O(n log n), allocating the copy. Throws RangeError naming the first entry (a qty 0 one too) whose price is NaN or
   * infinite (the side is left empty). Until 2026-12-06 it started over with set() per level in the input's order, which
   * put each level deeper than those before it at the overflow's index 0, a shift of the whole overflow: O(n²), 0.76 s
   * for a 100k-level snapshot with one repeated price (test/book/ladder.test.ts TC6b counts the entries moved).
   */
  private loadUnsorted(px: Float64Array, qty: Float64Array, n: number): number {
    // The window may be partly written (qtys of a bitmap word not yet stored) and wCount not yet set: clear all of it.
    this.wQty.fill(0);
    this.wBits.fill(0);
    this.wCount = 0;
    this.wTop = -1;
    this.oN = 0;
    this.curRank = -1;
    const sign = this.sign;
    const order: number[] = [];
    for (let j = 0; j < n; j++) {
      // A NaN or infinite price has no place in the order: loadSorted would refuse the sorted copy too and come back
      // here until the stack ran out (RangeError "Maximum call stack size exceeded", naming nothing). Refused on a
      // qty 0 entry too: not a level, but not a price either.
      if (!Number.isFinite(px[j])) throw new RangeError(`Ladder.loadSorted: price ${px[j]} at level ${j} is not a finite number`);
      order.push(j); // qty 0 entries too: a price they repeat is a repeat
    }
    // Best first; of entries at one price the later first, so that the last non-zero one is what is kept below.
    order.sort((a, b) => px[b]! * sign - px[a]! * sign || b - a);
    const sortedPx = new Float64Array(order.length);
    const sortedQty = new Float64Array(order.length);
    let k = 0;
    let repeat = -1;
    for (let x = 0; x < order.length; x++) {
      const j = order[x]!;
      if (repeat < 0 && x !== 0 && px[order[x - 1]!] === px[j]) repeat = order[x - 1]!; // the later of the two
      if (qty[j] === 0) continue;
      if (k !== 0 && sortedPx[k - 1] === px[j]) continue; // an earlier entry of a price already taken
      sortedPx[k] = px[j]!;
      sortedQty[k++] = qty[j]!;
    }
    this.loadSorted(sortedPx, sortedQty, k); // strictly best-first now: it does not come back here
    return repeat;
  }
}
