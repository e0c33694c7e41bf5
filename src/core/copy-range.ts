/**
 * A byte range copied from one Uint8Array into another without a view: `to.set(from.subarray(start, end), at)` makes
 * a subarray (~64 B of heap) per call, which the JIT does not remove (measured, docs/performance.md §18). Buffer's
 * copy takes the range itself and accepts any Uint8Array as its source (Node and Bun).
 * HOT PATH: no allocation.
 * @module
 */

const bufferCopy = Buffer.prototype.copy;

/** from[start, end) into to at `at`; the ranges must fit (the caller checked). */
export function copyRange(from: Uint8Array, to: Uint8Array, at: number, start: number, end: number): void {
  bufferCopy.call(from, to, at, start, end);
}
