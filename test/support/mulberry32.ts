/**
 * mulberry32: a small seeded PRNG for randomized tests, so a failure reproduces from its seed. Uniform in [0, 1).
 * (test/book/rng.ts wraps the same generator with 53-bit floats and helpers for the book's tests.)
 * @module
 */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
