// HOT PATH: no allocation
/**
 * The dense window's arithmetic, apart from any ladder (src/book/ladder.ts): how many slots a side gets, where the
 * window's base goes, and the two bitmap walks the ladder shares. Free functions over numbers and typed arrays,
 * never over the ladder itself, so nothing here reads a field through another object: JSC inlines them where they
 * are called, as it did when they were the ladder's own methods (the split's A/B: docs/performance.md §2).
 * @module
 */

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
 * A window over twice its need shrinks only after this many sizings in a row (snapshots, full books, re-centres)
 * wanted under half of it, if it is at most LAZY_SHRINK_MAX_SLOTS. Full books of up to 30 levels, the snapshot-only
 * venues' (64 … 512 slots), so never reallocate when their span swings back and forth, and a window kept too long
 * costs at most 8 KiB.
 */
export const SHRINK_AFTER_SIZINGS = 8;
export const LAZY_SHRINK_MAX_SLOTS = 1024;
/**
 * A larger window found over twice its need by a re-centre shrinks after this many operations in a row (re-centres
 * and deltas applied to the side) found it so, or at the next snapshot that does. Until 2026-12-08 it shrank at that
 * re-centre: a far best level added and deleted every delta flipped a 2,000-level side's window between 16,384 and
 * 4,032 slots at every delta (test/book/steady-alloc.test.ts). Counted in deltas too, so a side a re-centre found
 * narrowed gives its memory back within this many deltas (130 KiB a side at most meanwhile), not at the next
 * re-centre, which a wide window may not need for a long time (a side narrowed by deltas alone, no re-centre finding
 * it so, keeps its window until a snapshot); a flip slower than this reallocates twice per this many deltas at most.
 */
export const SHRINK_LARGE_AFTER_OPS = 256;

/**
 * The lowest key: a bid at −2^53 (or an ask at 2^53), the lowest i64 a subscriber decodes (core/i64.ts isSafeI64:
 * exact as a double, though not a safe integer). Until 2026-12-06 the base was kept at or above −(2^53 − 1), so such
 * a level as the side's best went to slot −1: stored nowhere, its qty read undefined (ladder.test.ts TC4b).
 */
const MIN_KEY = -(2 ** 53);

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

/**
 * Window base that puts bestKey at 3/4 of a window of `size` slots, kept within the exact integer range: never below
 * MIN_KEY, so every key ≥ MIN_KEY has a slot ≥ 0 and every slot's key is exact.
 */
export function baseFor(bestKey: number, size: number): number {
  const base = bestKey - ((size >> 2) * 3);
  return base < MIN_KEY ? MIN_KEY : base;
}

/** Highest occupied slot below `slot` in the bitmap `bits`, or −1. Scans a 32-slot word at a time. */
export function prevOccupied(bits: Int32Array, slot: number): number {
  const i = slot - 1;
  if (i < 0) return -1;
  let w = i >> 5;
  let word = bits[w] & ((2 << (i & 31)) - 1); // bits 0 … i&31 (2 << 31 wraps to 0, giving all ones)
  while (word === 0) {
    if (--w < 0) return -1;
    word = bits[w];
  }
  return (w << 5) + 31 - Math.clz32(word);
}

/**
 * Zeroes the qtys of word w's old levels that `keep` (the word's new bits) does not hold, and stores `keep` as the
 * word; with keep = 0 it empties the word. Cold: where a snapshot replaces levels it does not rewrite, and clear()
 * of a window under a quarter full (which had its own copy of this loop until 2026-12-05).
 */
export function zeroStale(wQty: Float64Array, wBits: Int32Array, w: number, keep: number): void {
  let stale = wBits[w] & ~keep;
  const at = w << 5;
  while (stale !== 0) {
    const b = 31 - Math.clz32(stale);
    wQty[at + b] = 0;
    stale ^= 1 << b;
  }
  wBits[w] = keep;
}
