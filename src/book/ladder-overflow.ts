// HOT PATH: no allocation
/**
 * The sorted overflow's array work, apart from the ladder (src/book/ladder.ts) that owns the arrays: the search and
 * the one-entry shifts of an insert or delete in two parallel Float64Arrays (keys ascending, the best last). Free
 * functions over the arrays and their length, so the ladder keeps its state in its own fields (one object, as
 * before the split) and JSC inlines these where they are called.
 * @module
 */

/** Initial overflow capacity in levels (grows by doubling). */
export const DEFAULT_LADDER_CAPACITY = 16;

/**
 * Overflow moves of at most this many entries use a plain loop instead of `copyWithin`: below it the call
 * overhead dominates (bench/book.bench.ts, "move k entries": ~22 ns per copyWithin pair vs 3–10 ns for k ≤ 16).
 */
export const SMALL_MOVE = 16;

/**
 * Smallest index i in [0, n] with keys[i] ≥ key, over the ascending keys[0 … n). Gallops down from the best end
 * (1, 2, 4 … entries) and then bisects: overflow updates cluster just below the window, i.e. at the end of the array.
 */
export function lowerBound(keys: Float64Array, n: number, key: number): number {
  let hi = n - 1;
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

/** Deletes entry i of [0, n): shifts the better entries (i+1 … n−1) down by one. */
export function removeAt(keys: Float64Array, qtys: Float64Array, n: number, i: number): void {
  if (n - i - 1 > SMALL_MOVE) {
    keys.copyWithin(i, i + 1, n);
    qtys.copyWithin(i, i + 1, n);
  } else {
    for (let j = i + 1; j < n; j++) {
      keys[j - 1] = keys[j];
      qtys[j - 1] = qtys[j];
    }
  }
}

/** Inserts (key, qty) at index i of [0, n), the arrays having room for n + 1: shifts i … n−1 up by one. */
export function insertAt(keys: Float64Array, qtys: Float64Array, n: number, i: number, key: number, qty: number): void {
  if (n - i > SMALL_MOVE) {
    keys.copyWithin(i + 1, i, n);
    qtys.copyWithin(i + 1, i, n);
  } else {
    for (let j = n; j > i; j--) {
      keys[j] = keys[j - 1];
      qtys[j] = qtys[j - 1];
    }
  }
  keys[i] = key;
  qtys[i] = qty;
}
