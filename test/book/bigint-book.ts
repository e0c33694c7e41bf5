/**
 * A second reference model of a book for tests (test/book/extremes-fuzz.test.ts): per side a Map of exact bigint
 * price → bigint qty and its prices kept sorted by binary search and splice. No number arithmetic touches a
 * price, so an off-by-one near 2^53 in the ladder's key or slot arithmetic shows up as a difference here.
 * @module
 */
import type { BookView } from "../../src/core/book-view.ts";

export type BigLevel = [price: bigint, qty: bigint];

export class BigSide {
  readonly qty = new Map<bigint, bigint>();
  /**
   * Prices worst-first, the best last (as the ladder's overflow): deleting the best, and inserting just below
   * it, cost O(1) even on a side of 100k levels.
   */
  private readonly ps: bigint[] = [];
  constructor(readonly isBid: boolean) {}

  get count(): number {
    return this.ps.length;
  }

  /** Price at rank (0 = best). */
  at(rank: number): bigint {
    return this.ps[this.ps.length - 1 - rank]!;
  }

  get(p: bigint): bigint {
    return this.qty.get(p) ?? 0n;
  }

  best(): bigint | undefined {
    return this.ps.length === 0 ? undefined : this.ps[this.ps.length - 1];
  }

  /** Prices best-first (a copy). */
  bestFirst(): bigint[] {
    return this.ps.slice().reverse();
  }

  private better(a: bigint, b: bigint): boolean {
    return this.isBid ? a > b : a < b;
  }

  /** Index in ps of the first price not worse than p. */
  private index(p: bigint): number {
    const ps = this.ps;
    let lo = 0;
    let hi = ps.length;
    // Changes cluster at the best end: check it first, then bisect.
    if (hi !== 0 && this.better(p, ps[hi - 1]!)) return hi;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.better(p, ps[mid]!)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Absolute set, qty 0 deletes; returns the previous qty (0 if absent). */
  set(p: bigint, q: bigint): bigint {
    const prev = this.get(p);
    if (q === 0n) {
      if (prev !== 0n) {
        this.qty.delete(p);
        const i = this.index(p);
        if (i === this.ps.length - 1) this.ps.pop();
        else this.ps.splice(i, 1);
      }
    } else {
      if (prev === 0n) {
        const i = this.index(p);
        if (i === this.ps.length) this.ps.push(p);
        else this.ps.splice(i, 0, p);
      }
      this.qty.set(p, q);
    }
    return prev;
  }

  /** Replaces the side: levels in any order, qty 0 skipped, the last of a repeated price wins. O(n log n). */
  load(levels: readonly BigLevel[]): void {
    this.clear();
    let ordered = true; // strictly best-first, no qty 0: the usual snapshot, loaded without a sort
    for (let i = 0; i < levels.length; i++) {
      const [p, q] = levels[i]!;
      if (q === 0n || (i !== 0 && !this.better(levels[i - 1]![0], p))) ordered = false;
      if (q !== 0n) this.qty.set(p, q);
    }
    if (ordered) {
      for (let i = levels.length - 1; i >= 0; i--) this.ps.push(levels[i]![0]);
      return;
    }
    for (const p of this.qty.keys()) this.ps.push(p);
    this.ps.sort((a, b) => (this.better(a, b) ? 1 : this.better(b, a) ? -1 : 0));
  }

  clear(): void {
    this.qty.clear();
    this.ps.length = 0;
  }
}

export interface BigChange {
  isBid: boolean;
  price: bigint;
  qty: bigint;
}

export class BigBook {
  readonly bids = new BigSide(true);
  readonly asks = new BigSide(false);

  /** A snapshot: levels in any order, qty 0 skipped, the last of a repeated price wins. */
  load(bids: readonly BigLevel[], asks: readonly BigLevel[]): void {
    this.bids.load(bids);
    this.asks.load(asks);
  }

  /** A delta in message order: returns the real changes (per side, in order) and the deletes of absent levels. */
  apply(bids: readonly BigLevel[], asks: readonly BigLevel[]): { changes: BigChange[]; absent: number } {
    const changes: BigChange[] = [];
    let absent = 0;
    for (const [side, levels] of [[this.bids, bids], [this.asks, asks]] as const) {
      for (const [p, q] of levels) {
        const prev = side.set(p, q);
        if (prev !== q) changes.push({ isBid: side.isBid, price: p, qty: q });
        else if (q === 0n) absent++;
      }
    }
    return { changes, absent };
  }

  crossed(): boolean {
    const b = this.bids.best();
    const a = this.asks.best();
    return b !== undefined && a !== undefined && b >= a;
  }
}

/**
 * First difference between a view's side and the reference's, over ranks [0, depth) (all when depth is omitted):
 * count, the per-rank reads at rank 0 (best) and a few others, and a bulk copy (copyBids/copyAsks) of the range.
 */
export function diffSide(view: BookView, ref: BigSide, depth?: number, probeRanks: readonly number[] = []): string | null {
  const isBid = ref.isBid;
  const name = isBid ? "bid" : "ask";
  const count = isBid ? view.bidCount : view.askCount;
  if (count !== ref.count) return `${name} count ${count} != ${ref.count}`;
  const n = Math.min(count, depth ?? count);
  const px = new Float64Array(n);
  const qty = new Float64Array(n);
  if (isBid) view.copyBids!(0, n, px, qty, 0);
  else view.copyAsks!(0, n, px, qty, 0);
  for (let i = 0; i < n; i++) {
    const p = ref.at(i);
    if (!Number.isSafeInteger(px[i]) || BigInt(px[i]!) !== p || Object.is(px[i], -0)) {
      return `${name} rank ${i}: price ${px[i]} != ${p}`;
    }
    if (BigInt(qty[i]!) !== ref.get(p)) return `${name} rank ${i} (${p}): qty ${qty[i]} != ${ref.get(p)}`;
  }
  for (const r of [0, ...probeRanks]) {
    if (r >= count) continue;
    const p = isBid ? view.bidPriceAt(r) : view.askPriceAt(r);
    const q = isBid ? view.bidQtyAt(r) : view.askQtyAt(r);
    if (BigInt(p) !== ref.at(r) || BigInt(q) !== ref.get(ref.at(r))) {
      return `${name} priceAt/qtyAt(${r}) ${p}@${q} != ${ref.at(r)}@${ref.get(ref.at(r))}`;
    }
  }
  return null;
}

/** Two reference sides hold the same levels. */
export function sameSide(a: BigSide, b: BigSide): string | null {
  if (a.count !== b.count) return `count ${a.count} != ${b.count}`;
  for (let i = 0; i < a.count; i++) {
    const p = a.at(i);
    if (b.at(i) !== p || a.get(p) !== b.get(p)) return `rank ${i}: ${p}@${a.get(p)} != ${b.at(i)}@${b.get(b.at(i))}`;
  }
  return null;
}
