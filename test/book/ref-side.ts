/**
 * The randomized ladder tests' reference side: a Map price → qty and its prices kept best first by bisection and
 * splice. Deliberately simple (no window, no bitmap, no overflow) so that agreeing with it means something.
 * @module
 */
export class RefSide {
  readonly qty = new Map<number, number>();
  /** Prices best first (the reference's own array: not to be changed by a caller). */
  readonly prices: number[] = [];
  /** +1 for bids (higher is better), −1 for asks. */
  readonly sign: number;
  constructor(readonly isBid: boolean) {
    this.sign = isBid ? 1 : -1;
  }
  get count(): number {
    return this.qty.size;
  }
  get(p: number): number {
    return this.qty.get(p) ?? 0;
  }
  /** Index in the best-first order of the first price not better than p. */
  private index(p: number): number {
    const o = this.prices;
    let lo = 0;
    let hi = o.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((o[mid]! - p) * this.sign > 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
  /** Absolute set, qty 0 deletes; the previous qty (0 if absent). */
  set(p: number, q: number): number {
    const prev = this.get(p);
    // The shifts are loops, not splice(): a one-element splice was the randomized ladder tests' hottest line.
    const o = this.prices;
    if (q === 0) {
      if (prev !== 0) {
        this.qty.delete(p);
        const n = o.length - 1;
        for (let i = this.index(p); i < n; i++) o[i] = o[i + 1]!;
        o.length = n;
      }
    } else {
      if (prev === 0) {
        const at = this.index(p);
        o.push(p);
        for (let i = o.length - 1; i > at; i--) o[i] = o[i - 1]!;
        o[at] = p;
      }
      this.qty.set(p, q);
    }
    return prev;
  }
  clear(): void {
    this.qty.clear();
    this.prices.length = 0;
  }
  /** A snapshot side: entries in any order, qty 0 skipped, the last of a repeated price kept. */
  load(px: readonly number[], qty: readonly number[]): void {
    this.clear();
    for (let i = 0; i < px.length; i++) if (qty[i] !== 0) this.qty.set(px[i]!, qty[i]!);
    for (const p of this.qty.keys()) this.prices.push(p);
    this.prices.sort((a, b) => (a === b ? 0 : (b > a ? 1 : -1) * this.sign));
  }
  copy(): RefSide {
    const c = new RefSide(this.isBid);
    for (const [p, q] of this.qty) c.qty.set(p, q);
    c.prices.push(...this.prices);
    return c;
  }
}
