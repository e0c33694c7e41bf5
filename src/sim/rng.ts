/**
 * A small seeded PRNG (mulberry32) so simulator runs and their faults reproduce from a seed.
 * @module
 */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0 || 0x9e3779b9;
  }
  /** The generator's position, for restore (an operation that fails part-way leaves the stream untouched). */
  save(): number {
    return this.state;
  }
  restore(state: number): void {
    this.state = state;
  }
  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  /** Standard normal (Box–Muller). */
  normal(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  /** Geometric-ish rank with the given mean, capped below `cap`. */
  rank(mean: number, cap: number): number {
    const r = Math.floor(-Math.log(1 - this.next()) * mean);
    return Math.min(r, Math.max(0, cap - 1));
  }
}
