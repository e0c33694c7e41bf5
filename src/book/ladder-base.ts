// HOT PATH: no allocation (except when a side's size changes a lot: window resize, overflow doubling or shrink)
/**
 * One side's state and its per-level operations: the dense window with its bitmap, the sorted overflow below it,
 * set/get, the best level, reads by rank, and the window's upkeep (occupy, vacate, re-centre, resize). The bulk
 * paths (applyLevels, loadSorted, copyLevels) are in `Ladder` (src/book/ladder.ts), which extends this class; the
 * structure and why it was chosen are described there.
 *
 * A base class rather than free functions taking the ladder, so that every operation stays a method on the one
 * object that holds all the state: the fields are protected (the subclass's loops copy them into locals as before)
 * and are declared here, in their old order, so the object's layout did not change with the split
 * (docs/performance.md §2: the split's A/B).
 * @module
 */
import { Side } from "../core/types.ts";
import { DEFAULT_LADDER_CAPACITY, insertAt, lowerBound, removeAt } from "./ladder-overflow.ts";
import {
  baseFor,
  LAZY_SHRINK_MAX_SLOTS,
  prevOccupied,
  SHRINK_AFTER_SIZINGS,
  SHRINK_LARGE_AFTER_OPS,
  windowSlotsFor,
  zeroStale,
} from "./ladder-window.ts";

export class LadderBase {
  readonly side: Side;
  /** +1 for bids, −1 for asks: key = price × sign. */
  protected readonly sign: number;

  // Dense window over keys [keyBase, keyBase + wSize).
  protected wQty: Float64Array = new Float64Array(0);
  protected wBits: Int32Array = new Int32Array(0);
  protected wSize = 0;
  protected keyBase = 0;
  protected wCount = 0;
  /** Best occupied window slot, −1 when the window is empty. */
  protected wTop = -1;

  // Sorted overflow: ascending keys < keyBase in [0, oN).
  protected oKeys: Float64Array;
  protected oQtys: Float64Array;
  protected oN = 0;

  /**
   * Inserts + deletes per 100 window levels applied, smoothed over Ladder.applyLevels calls (an exponential
   * average): at CHURN_BRANCHLESS_PCT or more, applyLevels takes its branch-free window loop. loadSorted (snapshots,
   * LIVE full books) leaves it alone: it predicts the next deltas from the last ones (docs/architecture.md).
   */
  protected churnPct = 0;

  /** Times the window moved or was resized (re-centres): a metric, and proof in tests that the path ran. */
  windowMoves = 0;

  // Rank cursor over the window: slot of rank curRank; −1 = invalid. Reset by every occupancy change.
  protected curRank = -1;
  protected curSlot = -1;

  /**
   * Operations in a row that found the window over twice its need (ensureWindow): sizings for a small window (it
   * shrinks at SHRINK_AFTER_SIZINGS); for a large one re-centres and deltas (tickOversized; SHRINK_LARGE_AFTER_OPS).
   */
  protected wOversized = 0;

  /** Times the window's arrays were allocated (the first window included): what the shrink hysteresis bounds. */
  windowAllocs = 0;

  constructor(side: Side, initialCapacity: number = DEFAULT_LADDER_CAPACITY) {
    if (side !== Side.BID && side !== Side.ASK) throw new RangeError(`Ladder: bad side ${side}`);
    // NaN gave arrays of length 0, which growOverflow doubles to 0 forever (a hang at the first overflow insert).
    if (!Number.isFinite(initialCapacity)) throw new RangeError(`Ladder: initial capacity ${initialCapacity} is not a finite number`);
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

  /** Qty at price, 0 if absent. */
  get(priceMantissa: number): number {
    const key = priceMantissa * this.sign;
    const slot = key - this.keyBase;
    if (slot >= 0 && slot < this.wSize) return this.wQty[slot];
    if (slot >= this.wSize) return 0;
    const i = lowerBound(this.oKeys, this.oN, key);
    return i < this.oN && this.oKeys[i] === key ? this.oQtys[i] : 0;
  }

  clear(): void {
    const wCount = this.wCount;
    if (wCount !== 0) {
      if (wCount * 4 < this.wSize) {
        // Few levels in the window (e.g. depth-1 books): zero just the occupied slots, found through the bitmap.
        // Measured: ~5 ns for one level against ~40 ns for the two fill() calls; from a quarter occupancy on the
        // fills are as fast or faster (scratch microbenchmark, 128–2048 slots).
        const wQty = this.wQty;
        const bits = this.wBits;
        for (let w = 0, nw = bits.length; w < nw; w++) if (bits[w] !== 0) zeroStale(wQty, bits, w, 0);
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

  /**
   * Cold: removes the side's `k` worst levels (k ≤ count), the subscriber's cap on a side deeper than it. The worst
   * levels are the overflow's first entries (keys ascending), so deleting them one by one shifted the whole overflow
   * each time (~57k entries, 35–100 µs, per level added above a capped side's floor); here the arrays become views
   * that start after them: O(1) and no copy, the slack at the arrays' end unchanged. The buffer's first entries stay
   * held (not counted by bytesAllocated) until the next grow, give-back or snapshot replaces the arrays. Levels left
   * to drop once the overflow is empty come from the window, worst first, through set().
   */
  dropWorst(k: number): void {
    const fromOverflow = k < this.oN ? k : this.oN;
    if (fromOverflow === this.oN) {
      this.oN = 0; // the arrays stay as they are: never a view of length 0, which growOverflow could not double
    } else if (fromOverflow > 0) {
      this.oKeys = this.oKeys.subarray(fromOverflow);
      this.oQtys = this.oQtys.subarray(fromOverflow);
      this.oN -= fromOverflow;
    }
    for (let left = k - fromOverflow; left > 0 && this.wCount > 0; left--) this.set(this.priceAt(this.wCount - 1), 0);
  }

  /** Best price mantissa; NaN if empty. */
  bestPrice(): number {
    // "+ 0" turns the −0 of an ask at price 0 (key −0) into 0.
    if (this.wCount !== 0) return (this.keyBase + this.wTop) * this.sign + 0;
    return this.oN === 0 ? NaN : this.oKeys[this.oN - 1] * this.sign + 0;
  }

  /**
   * Bid side: true when it holds a level at price 0 (or -0), in O(1), the builder's check after every apply. Readers
   * never produce a negative price (they refuse a sign), so key 0 is the lowest key: the window's slot for it, or
   * else the first of the sorted overflow. (On the ask side price 0 is the best: bestPrice() === 0.)
   */
  holdsBidAtZero(): boolean {
    const slot = -this.keyBase; // key 0
    if (slot >= 0 && slot < this.wSize) return this.wQty[slot] !== 0;
    return this.oN !== 0 && this.oKeys[0] === 0;
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
    const top = this.wCount === 0 ? -1 : prevOccupied(this.wBits, slot);
    this.wTop = top;
    // The best sank into the bottom quarter (or the window emptied while deeper levels exist): follow it down.
    if (top < this.wSize >> 2 && (top >= 0 || this.oN !== 0)) {
      this.recentre(top >= 0 ? this.keyBase + top : this.oKeys[this.oN - 1]);
    }
  }

  /** Window slot holding rank (< wCount); walks from the cursor when reading forward, else from the best. */
  protected slotOfRank(rank: number): number {
    let r = this.curRank;
    let slot = this.curSlot;
    if (r < 0 || rank < r) {
      r = 0;
      slot = this.wTop;
    }
    while (r < rank) {
      slot = prevOccupied(this.wBits, slot);
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
   * their deep levels in the overflow). `atRecentre`: a re-centre's sizing, which a large window over twice the need
   * survives until SHRINK_LARGE_AFTER_OPS operations found it so (a snapshot's shrinks it at once).
   */
  protected ensureWindow(levels: number, spanTicks: number, atRecentre = false): void {
    const want = windowSlotsFor(levels, spanTicks);
    const size = this.wSize;
    // Hysteresis: keep the current window within a factor of two, so snapshots of varying depth do not allocate.
    if (size !== 0 && size * 2 >= want) {
      if (size <= want * 2) {
        this.wOversized = 0;
        return;
      }
      // Over twice the need. A small window is given back only after SHRINK_AFTER_SIZINGS such sizings in a row: a
      // full book every message (Upbit, Bithumb, OKX books5, Deribit grouped) whose span swings across a factor two
      // reallocated both arrays at every swing (test/book/steady-alloc.test.ts). A large one at a re-centre only
      // after SHRINK_LARGE_AFTER_OPS re-centres and deltas in a row found it so (a far best added and deleted every
      // delta reallocated it twice a delta); a snapshot gives it back at once.
      if (size <= LAZY_SHRINK_MAX_SLOTS) {
        if (++this.wOversized < SHRINK_AFTER_SIZINGS) return;
      } else if (atRecentre && ++this.wOversized < SHRINK_LARGE_AFTER_OPS) return;
    }
    this.wOversized = 0;
    this.windowAllocs++;
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
    this.ensureWindow(this.oN + 1, bestKey - worst, true);
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
    if (this.wCount + o < this.oKeys.length >> 3 && this.oKeys.length > 4 * DEFAULT_LADDER_CAPACITY) this.halveOverflow();
  }

  /**
   * Cold: a delta was applied to a side whose large window (over LAZY_SHRINK_MAX_SLOTS) a re-centre found over twice
   * its need (Ladder.applyLevels calls this while wOversized is set). At SHRINK_LARGE_AFTER_OPS such operations in a
   * row it re-centres on the best to size the window again, which shrinks it if the side still needs under half of
   * it: a side that narrowed gives the memory back without waiting for a re-centre a wide window may seldom need.
   */
  protected tickOversized(): void {
    if (++this.wOversized < SHRINK_LARGE_AFTER_OPS) return;
    if (this.wCount !== 0) this.recentre(this.keyBase + this.wTop);
    else if (this.oN !== 0) this.recentre(this.oKeys[this.oN - 1]);
    else this.ensureWindow(1, 0, true); // an empty side: any base serves (the next level re-centres or fits)
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
    const i = lowerBound(keys, n, key);
    if (i < n && keys[i] === key) {
      const qtys = this.oQtys;
      const prevQty = qtys[i];
      if (qtyMantissa !== 0) {
        qtys[i] = qtyMantissa;
      } else {
        removeAt(keys, qtys, n, i);
        this.oN = n - 1;
        if (this.wCount + n <= keys.length >> 3 && keys.length > 4 * DEFAULT_LADDER_CAPACITY) this.halveOverflow();
        if (this.wCount === 0 && this.oN !== 0 && i === n - 1) this.recentre(this.oKeys[this.oN - 1]);
      }
      return prevQty;
    }
    if (qtyMantissa === 0) return 0; // delete of an absent level: no-op, the caller counts it
    if (n === keys.length) this.growOverflow(n + 1);
    insertAt(this.oKeys, this.oQtys, n, i, key, qtyMantissa); // the arrays again: growOverflow may have replaced them
    this.oN = n + 1;
    return 0;
  }

  /** Gives back overflow memory a re-centre spill left behind (cold: only from loadSorted, the overflow empty). */
  protected shrinkOverflow(levels: number): void {
    let capacity = DEFAULT_LADDER_CAPACITY;
    while (capacity < levels) capacity *= 2;
    this.oKeys = new Float64Array(capacity);
    this.oQtys = new Float64Array(capacity);
  }

  /**
   * Cold: the side's levels (window and overflow) fill under an eighth of the overflow's capacity (deltas emptied a
   * side that was deep once): halves the capacity until they fill a quarter or more (at least 4 ×
   * DEFAULT_LADDER_CAPACITY), keeping the overflow's levels. Counted with the window's levels because a re-centre
   * spills them all into the overflow: sized by the overflow alone, a side living in its window would grow it at each
   * re-centre and give it back right after, two allocations per move. Amortized O(1) per delete: a resize copies
   * under an eighth of the old capacity and leaves the levels a quarter to half of the new one, so the next resize
   * takes that many more deletes, or inserts to grow. Until 2026-12-06 only a snapshot gave overflow memory back: a
   * side that held 100k levels kept 2 MiB while deltas took it down to 100.
   */
  private halveOverflow(): void {
    const levels = this.wCount + this.oN;
    let capacity = this.oKeys.length;
    while (capacity > 4 * DEFAULT_LADDER_CAPACITY && levels < capacity >> 2) capacity >>= 1;
    const keys = new Float64Array(capacity);
    const qtys = new Float64Array(capacity);
    keys.set(this.oKeys.subarray(0, this.oN));
    qtys.set(this.oQtys.subarray(0, this.oN));
    this.oKeys = keys;
    this.oQtys = qtys;
  }

  protected growOverflow(atLeast: number): void {
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
