import { describe, expect, it } from "vitest";
import { CHURN_BRANCHLESS_PCT, Ladder, MAX_SLOTS_PER_LEVEL, windowSlotsFor } from "../../src/book/ladder.ts";
import { ChangeSet } from "../../src/core/change-set.ts";
import { Side } from "../../src/core/types.ts";
import { rng } from "../support/mulberry32.ts";
import { RefSide } from "./ref-side.ts";

function levels(l: Ladder): [number, number][] {
  const out: [number, number][] = [];
  for (let r = 0; r < l.count; r++) out.push([l.priceAt(r), l.qtyAt(r)]);
  return out;
}

function f64(xs: number[]): Float64Array {
  return Float64Array.from(xs);
}

/**
 * One message applied by applyLevels to `fast` and by set() per level to `slow` (the reference): the same absent
 * deletes, the same change set (levels whose qty changed, in message order), count and best. Returns the absent deletes.
 */
function applyBoth(fast: Ladder, slow: Ladder, px: Float64Array, qty: Float64Array, n: number, changes: ChangeSet): number {
  changes.clear();
  const absentFast = fast.applyLevels(px, qty, n, changes);
  const want: [number, number][] = [];
  let absentSlow = 0;
  for (let k = 0; k < n; k++) {
    const prev = slow.set(px[k]!, qty[k]!);
    if (prev !== qty[k]) want.push([px[k]!, qty[k]!]);
    else if (qty[k] === 0) absentSlow++;
  }
  expect(absentFast).toBe(absentSlow);
  const bid = fast.side === Side.BID;
  const cN = bid ? changes.bidCount : changes.askCount;
  const cPx = bid ? changes.bidPx : changes.askPx;
  const cQty = bid ? changes.bidQty : changes.askQty;
  expect(Array.from({ length: cN }, (_, i) => [cPx[i], cQty[i]])).toEqual(want);
  expect(fast.count).toBe(slow.count);
  expect(fast.bestPrice()).toBe(slow.bestPrice());
  return absentSlow;
}

describe("Ladder", () => {
  it("TC0: bids are best-first descending, asks ascending", () => {
    const bids = new Ladder(Side.BID);
    const asks = new Ladder(Side.ASK);
    for (const p of [100, 105, 95, 101]) {
      bids.set(p, p * 10);
      asks.set(p, p * 10);
    }
    expect(levels(bids)).toEqual([[105, 1050], [101, 1010], [100, 1000], [95, 950]]);
    expect(levels(asks)).toEqual([[95, 950], [100, 1000], [101, 1010], [105, 1050]]);
    expect(bids.bestPrice()).toBe(105);
    expect(asks.bestPrice()).toBe(95);
    expect(bids.bestQty()).toBe(1050);
  });

  it("TC1: set returns the previous qty; qty 0 deletes; deleting an absent level changes nothing", () => {
    const l = new Ladder(Side.BID);
    expect(l.set(10, 5)).toBe(0);
    expect(l.set(10, 7)).toBe(5);
    expect(l.get(10)).toBe(7);
    expect(l.set(11, 0)).toBe(0);
    expect(l.count).toBe(1);
    expect(l.set(10, 0)).toBe(7);
    expect(l.count).toBe(0);
    expect(l.get(10)).toBe(0);
  });

  it("TC2: empty ladder reports NaN best price and 0 best qty", () => {
    const l = new Ladder(Side.ASK);
    expect(l.bestPrice()).toBeNaN();
    expect(l.bestQty()).toBe(0);
    l.set(3, 1);
    l.clear();
    expect(l.count).toBe(0);
    expect(l.bestPrice()).toBeNaN();
  });

  it("TC3: grows past its initial capacity and window without dropping a level", () => {
    const l = new Ladder(Side.ASK, 2);
    for (let i = 0; i < 5000; i++) l.set((i * 7919) % 5000, i + 1);
    expect(l.count).toBe(5000);
    expect(l.windowCount).toBeLessThan(5000); // some levels live in the sorted overflow
    for (let r = 0; r < 5000; r++) expect(l.priceAt(r)).toBe(r);
    expect(l.bytesAllocated()).toBeGreaterThanOrEqual(5000 * 8);
  });

  it("TC3a: applyLevels grows a change set that already holds changes and keeps them", () => {
    for (const side of [Side.BID, Side.ASK]) {
      const l = new Ladder(side);
      const changes = new ChangeSet();
      const initial = changes.bidPx.length;
      // Changes already recorded on this side by an earlier call for the same message.
      const before = initial - 3;
      for (let i = 0; i < before; i++) {
        if (side === Side.BID) changes.addBid(-i, i + 1);
        else changes.addAsk(-i, i + 1);
      }
      const n = 3 * initial + 5; // needs two doublings at once
      const px = Float64Array.from({ length: n }, (_, i) => 50_000 + (side === Side.BID ? -i : i));
      const qty = Float64Array.from({ length: n }, (_, i) => i + 7);
      l.applyLevels(px, qty, n, changes);
      const count = side === Side.BID ? changes.bidCount : changes.askCount;
      const cPx = side === Side.BID ? changes.bidPx : changes.askPx;
      const cQty = side === Side.BID ? changes.bidQty : changes.askQty;
      expect(count).toBe(before + n);
      expect(cPx.length).toBeGreaterThanOrEqual(before + n);
      for (let i = 0; i < before; i++) expect([cPx[i], cQty[i]]).toEqual([-i, i + 1]);
      for (let i = 0; i < n; i++) expect([cPx[before + i], cQty[before + i]]).toEqual([px[i], qty[i]]);
      expect(l.count).toBe(n);
    }
  });

  it("TC3b: a snapshot sizes the window for its depth; a dense book lives in the window", () => {
    const l = new Ladder(Side.BID);
    const px = Float64Array.from({ length: 500 }, (_, i) => 20000 - i);
    const qty = new Float64Array(500).fill(3);
    l.loadSorted(px, qty, 500);
    expect(l.windowSize).toBe(1024);
    expect(l.windowCount).toBe(500);
    expect(l.bytesAllocated()).toBeLessThanOrEqual(500 * 40);
  });

  it("TC3c: the window follows the price far up and down; rank order holds throughout", () => {
    for (const side of [Side.BID, Side.ASK]) {
      const l = new Ladder(side);
      const model = new Map<number, number>();
      let mid = 1_000_000;
      for (let step = 0; step < 4000; step++) {
        mid += step % 1000 < 500 ? 7 : -7; // drifts 3500 ticks up, then back, twice
        for (const p of [mid, mid - 3, mid + 2]) {
          l.set(p, step + 1);
          model.set(p, step + 1);
        }
        const drop = mid - 40 + (step % 5);
        l.set(drop, 0);
        model.delete(drop);
      }
      const want = [...model.entries()].sort((a, b) => (side === Side.BID ? b[0] - a[0] : a[0] - b[0]));
      expect(levels(l)).toEqual(want);
    }
  });

  it("TC3d: when the price falls a long way by deletes and inserts, the window follows it down", () => {
    const l = new Ladder(Side.BID);
    const px = Float64Array.from({ length: 200 }, (_, i) => 100_000 - i);
    l.loadSorted(px, new Float64Array(200).fill(1), 200);
    for (let p = 100_000; p > 90_000; p--) {
      l.set(p, 0); // the best level goes away …
      l.set(p - 200, 1); // … and a new one appears below the worst
    }
    expect(l.count).toBe(200);
    expect(l.bestPrice()).toBe(90_000);
    expect(l.priceAt(199)).toBe(89_801);
    expect(l.windowMoves).toBeGreaterThan(30); // ~10000 ticks in steps of a quarter window (128)
    expect(l.windowCount).toBeGreaterThanOrEqual(100); // the top of the book is on the fast path
  });

  it("TC4: extreme prices: 0, 1 and 2^53 − 1 on both sides, gaps of 2^52", () => {
    for (const side of [Side.BID, Side.ASK]) {
      const l = new Ladder(side);
      const max = Number.MAX_SAFE_INTEGER;
      for (const p of [max, 0, 1, 2 ** 52, max - 1]) l.set(p, 1);
      const want = [0, 1, 2 ** 52, max - 1, max];
      expect(levels(l).map((x) => x[0])).toEqual(side === Side.BID ? want.reverse() : want);
      expect(l.set(0, 0)).toBe(1);
      expect(l.get(max)).toBe(1);
    }
  });

  it("TC4b: prices down to −2^53 (the lowest i64 a subscriber decodes: core/i64.ts isSafeI64) on both sides, against a reference", () => {
    // A bid at −2^53 into an empty side was stored at window slot −1, nowhere: its qty read undefined, get() 0. The
    // window's base was kept at or above −(2^53 − 1).
    const low = -(2 ** 53);
    for (const side of [Side.BID, Side.ASK]) {
      const l = new Ladder(side);
      l.set(low, 5);
      expect([l.count, l.bestPrice(), l.bestQty(), l.get(low)]).toEqual([1, low, 5, 5]);
      const r = rng(side + 53);
      const ref = new RefSide(side === Side.BID);
      const m = new Ladder(side);
      const changes = new ChangeSet();
      for (let step = 0; step < 400; step++) {
        // A thin side (it empties often, and −2^53 is often its only or best level): −2^53 itself, a few ticks above
        // it, a window or two above it, now and then far above.
        const price = () => low + [0, Math.floor(r() * 8), Math.floor(r() * 30_000), Math.floor(r() * 2 ** 52)][Math.floor(r() * r() * 4)]!;
        if (r() < 0.1) {
          const px = Array.from({ length: Math.floor(r() * 5) }, price);
          const qty = px.map(() => 1 + Math.floor(r() * 9));
          m.loadSorted(f64(px), f64(qty), px.length);
          ref.load(px, qty);
        } else {
          const px = Array.from({ length: 1 + Math.floor(r() * 6) }, price);
          const qty = px.map(() => (r() < 0.4 ? 0 : 1 + Math.floor(r() * 9)));
          m.applyLevels(f64(px), f64(qty), px.length, changes);
          changes.clear();
          px.forEach((p, i) => ref.set(p, qty[i]!));
        }
        expect(levels(m)).toEqual(ref.prices.map((p) => [p, ref.get(p)]));
        if (ref.count > 0) expect([m.bestPrice(), m.bestQty()]).toEqual([ref.prices[0], ref.get(ref.prices[0]!)]);
      }
    }
  });

  it("TC5: loadSorted copies best-first input and skips qty 0", () => {
    const bids = new Ladder(Side.BID, 1);
    bids.set(1, 1); // replaced
    bids.loadSorted(f64([50, 49, 48, 40]), f64([1, 0, 3, 4]), 4);
    expect(levels(bids)).toEqual([[50, 1], [48, 3], [40, 4]]);
    const asks = new Ladder(Side.ASK, 1);
    asks.loadSorted(f64([51, 52, 60]), f64([1, 2, 3]), 3);
    expect(levels(asks)).toEqual([[51, 1], [52, 2], [60, 3]]);
    asks.loadSorted(f64([]), f64([]), 0);
    expect(asks.count).toBe(0);
  });

  it("TC5b: copyLevels equals priceAt/qtyAt across the window and the overflow, in any chunking", () => {
    for (const side of [Side.BID, Side.ASK]) {
      const l = new Ladder(side);
      const sgn = side === Side.BID ? -1 : 1;
      // 300 levels with gaps, the deepest 60 far apart: more than the window holds (16 slots per level at most), so
      // they live in the overflow
      const px = Float64Array.from({ length: 300 }, (_, i) => 100_000 + sgn * (i < 240 ? i * 3 + (i % 2) : 720 + (i - 239) * 500));
      const qty = Float64Array.from({ length: 300 }, (_, i) => i + 1);
      l.loadSorted(px, qty, 300);
      expect(l.windowCount).toBeGreaterThan(0);
      expect(l.windowCount).toBeLessThan(300);
      for (const chunk of [1, 7, 81, 300]) {
        const gotPx = new Float64Array(302);
        const gotQty = new Float64Array(302);
        for (let from = 0; from < 300; from += chunk) l.copyLevels(from, Math.min(chunk, 300 - from), gotPx, gotQty, from + 1);
        expect(Array.from(gotPx.subarray(1, 301))).toEqual(Array.from(px));
        expect(Array.from(gotQty.subarray(1, 301))).toEqual(Array.from(qty));
        expect([gotPx[0], gotPx[301]]).toEqual([0, 0]);
      }
      // a read from the middle, after reads elsewhere moved the rank cursor
      l.priceAt(250);
      const out = new Float64Array(5);
      l.copyLevels(120, 5, out, new Float64Array(5), 0);
      expect(Array.from(out)).toEqual(Array.from(px.subarray(120, 125)));
      l.copyLevels(0, 0, out, out, 0); // n = 0 is a no-op
    }
  });

  it("TC5c: copyLevels of an ask at price 0 gives 0, not −0 (the wire writes the bits)", () => {
    const asks = new Ladder(Side.ASK);
    asks.set(0, 5);
    asks.set(3, 1);
    const px = new Float64Array(2);
    asks.copyLevels(0, 2, px, new Float64Array(2), 0);
    expect(Object.is(px[0], 0)).toBe(true);
    expect(px[1]).toBe(3);
  });

  it("TC5c: copyLevels of dense windows (whole bitmap words at a time) and sparse ones, every chunk size from 1 to 70, equals priceAt/qtyAt", () => {
    for (const side of [Side.BID, Side.ASK]) {
      const sgn = side === Side.BID ? -1 : 1;
      // 1000 levels 1–3 ticks apart (dense: ≥ 4 levels per bitmap word), then 200 levels 5–40 apart (sparse).
      for (const gap of [(i: number) => 1 + (i % 3), (i: number) => 5 + ((i * 7) % 36)]) {
        const n = gap(0) === 1 ? 1000 : 200;
        const px = new Float64Array(n);
        for (let i = 0, p = 500_000; i < n; i++, p += sgn * gap(i)) px[i] = p;
        const qty = Float64Array.from({ length: n }, (_, i) => 1 + ((i * 13) % 97));
        const l = new Ladder(side);
        l.loadSorted(px, qty, n);
        expect(l.windowCount).toBeGreaterThan(n / 2); // (the sparse book's deepest levels are in the overflow)
        const want = levels(l);
        for (let chunk = 1; chunk <= 70; chunk++) {
          const gotPx = new Float64Array(n + 2).fill(-1);
          const gotQty = new Float64Array(n + 2).fill(-1);
          for (let from = 0; from < n; from += chunk) l.copyLevels(from, Math.min(chunk, n - from), gotPx, gotQty, from + 1);
          expect(Array.from({ length: n }, (_, i) => [gotPx[i + 1], gotQty[i + 1]])).toEqual(want);
          expect([gotPx[0], gotPx[n + 1], gotQty[0], gotQty[n + 1]]).toEqual([-1, -1, -1, -1]);
        }
      }
    }
  });

  it("TC5d: a snapshot replaces a sparse and a dense window completely (both ways of clearing)", () => {
    for (const side of [Side.BID, Side.ASK]) {
      const l = new Ladder(side);
      const dir = side === Side.BID ? -1 : 1;
      const sparse = Float64Array.from([5000, 5000 + dir * 3, 5000 + dir * 40]);
      const dense = Float64Array.from({ length: 100 }, (_, i) => 5000 + dir * i);
      for (const [a, b] of [[sparse, dense], [dense, sparse], [sparse, sparse.map((p) => p + 1)]] as const) {
        l.loadSorted(a, new Float64Array(a.length).fill(7), a.length);
        l.loadSorted(b, new Float64Array(b.length).fill(9), b.length);
        expect(l.count).toBe(b.length);
        for (const p of a) if (!b.includes(p)) expect(l.get(p)).toBe(0);
        for (const p of b) expect(l.get(p)).toBe(9);
        // the window is usable afterwards: an insert where an old level was counts as new
        const stale = a.find((p) => !b.includes(p))!;
        expect(l.set(stale, 1)).toBe(0);
        expect(l.count).toBe(b.length + 1);
      }
    }
  });

  it("TC5e: a snapshot over another one leaves none of the old levels it does not rewrite (random pairs: above, below, between and among the new levels)", () => {
    let seed = 4242;
    const rand = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const book = (best: number, n: number, maxGap: number, dir: number) => {
      const out: number[] = [];
      let p = best;
      for (let i = 0; i < n; i++, p += dir * (1 + rand(maxGap))) out.push(p);
      return Float64Array.from(out);
    };
    for (const side of [Side.BID, Side.ASK]) {
      const dir = side === Side.BID ? -1 : 1;
      const l = new Ladder(side);
      let prev = new Float64Array(0);
      for (let round = 0; round < 400; round++) {
        // Same window size or not, dense (1–2 ticks apart) or sparse (up to 60), shifted up or down a little or a lot.
        const n = 1 + rand(rand(4) === 0 ? 600 : 120);
        const best = 1_000_000 + (rand(2) === 0 ? rand(40) : rand(4000)) - 2000;
        const next = book(best, n, rand(3) === 0 ? 60 : 2, dir);
        const q = Float64Array.from(next, (_, i) => 1 + ((i * 7 + round) % 50));
        l.loadSorted(next, q, n);
        expect(l.count).toBe(n);
        for (let i = 0; i < n; i++) expect(l.get(next[i]!)).toBe(q[i]);
        for (const p of prev) if (!next.includes(p)) expect(l.get(p)).toBe(0);
        expect(levels(l)).toEqual(Array.from(next, (p, i) => [p, q[i]]));
        // An old price now absent inserts as a new level (its window slot is really empty).
        const gone = prev.find((p) => !next.includes(p) && (p - next[0]!) * dir > 0);
        if (gone !== undefined) {
          expect(l.set(gone, 3)).toBe(0);
          expect(l.count).toBe(n + 1);
          expect(l.set(gone, 0)).toBe(3);
        }
        prev = next;
      }
    }
  });

  it("TC6: loadSorted falls back to set() on wrong order or duplicates (last duplicate wins, qty 0 never deletes)", () => {
    const bids = new Ladder(Side.BID);
    bids.loadSorted(f64([48, 50, 49, 50, 49]), f64([1, 2, 3, 4, 0]), 5);
    expect(levels(bids)).toEqual([[50, 4], [49, 3], [48, 1]]);
    const asks = new Ladder(Side.ASK);
    asks.loadSorted(f64([60, 51, 51]), f64([1, 2, 3]), 3); // bids-order input on the ask side
    expect(levels(asks)).toEqual([[51, 3], [60, 1]]);
    // in order except for an adjacent duplicate: still one level per price
    asks.loadSorted(f64([51, 52, 52, 53]), f64([1, 2, 5, 3]), 4);
    expect(levels(asks)).toEqual([[51, 1], [52, 5], [53, 3]]);
    bids.loadSorted(f64([50, 50]), f64([1, 2]), 2);
    expect(levels(bids)).toEqual([[50, 2]]);
  });

  it("TC6b: a snapshot out of order or with a repeated price is loaded in work proportional to its levels, as its sorted levels", () => {
    // Work counted, not timed: entries moved by the overflow's copyWithin (every insert or delete that shifts more
    // than SMALL_MOVE entries uses it). set() per level in the input's order put each level deeper than the ones
    // before it at the overflow's index 0: a shift of the whole overflow per level, O(levels²): 0.76 s for a
    // 100k-level snapshot with one repeated price (load ~4), the thread held.
    const typedArrayProto = Object.getPrototypeOf(Float64Array.prototype) as { copyWithin: (t: number, s: number, e?: number) => unknown };
    const copyWithin = typedArrayProto.copyWithin;
    let moved = 0;
    typedArrayProto.copyWithin = function (this: Float64Array, t: number, s: number, e?: number) {
      moved += (e ?? this.length) - s;
      return copyWithin.call(this, t, s, e);
    };
    try {
      for (const side of [Side.BID, Side.ASK]) {
        const sign = side === Side.BID ? 1 : -1;
        const n = 20_000; // more than the largest window holds one tick apart
        const px = Array.from({ length: n }, (_, i) => 1_000_000 - sign * i); // best first, one tick apart
        const qty = Array.from({ length: n }, (_, i) => 1 + i);
        const sorted = new Ladder(side);
        sorted.loadSorted(f64(px), f64(qty), n);
        // The same levels with one price repeated (its later qty wins), and the same levels worst first.
        const repeated = new Ladder(side);
        const reversed = new Ladder(side);
        const rPx = f64([...px.slice(0, 501), px[500]!, ...px.slice(501)]);
        const rQty = f64([...qty.slice(0, 501), 7, ...qty.slice(501)]);
        moved = 0;
        repeated.loadSorted(rPx, rQty, n + 1);
        reversed.loadSorted(f64([...px].reverse()), f64([...qty].reverse()), n);
        expect(moved).toBeLessThan(8 * n); // was 5.9 × 10^7 entries (the bids: both loads, both arrays)
        for (const l of [repeated, reversed]) {
          expect(l.count).toBe(n);
          expect(l.windowSize).toBe(sorted.windowSize);
          expect(l.windowCount).toBe(sorted.windowCount);
        }
        expect(levels(reversed)).toEqual(levels(sorted));
        expect(levels(repeated)).toEqual(levels(sorted).map(([p, q]) => [p, p === px[500] ? 7 : q]));
      }
    } finally {
      typedArrayProto.copyWithin = copyWithin;
    }
  });

  it("TC6c: a snapshot with a NaN or infinite price is refused naming the level; the side then loads the next one", () => {
    // The sorted copy loadUnsorted made of such input was no more ordered than the input, so loadSorted handed it
    // back to loadUnsorted until the stack ran out: "Maximum call stack size exceeded", which names nothing.
    for (const side of [Side.BID, Side.ASK]) {
      const sign = side === Side.BID ? 1 : -1;
      // Prices that never compare in order (NaN), or better than any (a bid's +∞, an ask's −∞), at the top and below.
      for (const [bad, at] of [[NaN, 1], [NaN, 0], [sign * Infinity, 0], [sign * Infinity, 2]] as const) {
        const px = [100, 100 - sign, 100 - 2 * sign];
        px[at] = bad;
        const l = new Ladder(side);
        expect(() => l.loadSorted(f64(px), f64([1, 2, 3]), 3)).toThrow(`Ladder.loadSorted: price ${bad} at level ${at} is not a finite number`);
        expect(l.count).toBe(0);
        l.loadSorted(f64([50, 50 - sign]), f64([4, 5]), 2);
        expect(levels(l)).toEqual([[50, 4], [50 - sign, 5]]);
        l.set(50 + sign, 6);
        expect(levels(l)).toEqual([[50 + sign, 6], [50, 4], [50 - sign, 5]]);
      }
    }
  });

  it("TC6d: an infinite price worse than every level (a bid's −∞, an ask's +∞) is refused too, last or alone", () => {
    // Strictly best-first, so the one-pass load took it as the side's worst level: into the overflow (key −∞), or,
    // alone, into a window of NaN slots. Refused as TC6c's are: named, the side left empty and loading the next.
    for (const side of [Side.BID, Side.ASK]) {
      const sign = side === Side.BID ? 1 : -1;
      const worst = -sign * Infinity;
      const cases: [px: number[], qty: number[], at: number][] = [
        [[100, 100 - sign, worst], [1, 2, 3], 2],
        [[100, worst, 7], [1, 2, 0], 1], // a qty 0 entry after it: still the last level
        [[worst], [4], 0],
        [[0, worst], [0, 4], 1],
        [Array.from({ length: 300 }, (_, i) => (i === 299 ? worst : 100_000 - sign * i * 9)), new Array<number>(300).fill(5), 299],
      ];
      for (const [px, qty, at] of cases) {
        const l = new Ladder(side);
        l.loadSorted(f64([60, 60 - sign]), f64([8, 9]), 2); // a side that held levels before
        expect(() => l.loadSorted(f64(px), f64(qty), px.length)).toThrow(`Ladder.loadSorted: price ${worst} at level ${at} is not a finite number`);
        expect(l.count).toBe(0);
        l.loadSorted(f64([50, 50 - sign]), f64([4, 5]), 2);
        expect(levels(l)).toEqual([[50, 4], [50 - sign, 5]]);
        l.set(50 + sign, 6);
        expect(levels(l)).toEqual([[50 + sign, 6], [50, 4], [50 - sign, 5]]);
        expect(l.windowSize).toBeGreaterThan(0);
      }
    }
  });

  it("TC6e: a qty 0 entry (no level) with a NaN or infinite price is refused too; a NaN one last sized the window NaN and lost the best's qty", () => {
    // Before: [100@1, 99@2, NaN@0] loaded as bids read bestQty() undefined (the window was sized by the last entry's
    // price: NaN slots, arrays of length 0); every other such entry was skipped silently.
    for (const side of [Side.BID, Side.ASK]) {
      const sign = side === Side.BID ? 1 : -1;
      for (const bad of [NaN, Infinity, -Infinity]) {
        const cases: [px: number[], qty: number[], at: number][] = [
          [[100, 100 - sign, bad], [1, 2, 0], 2],
          [[bad, 100, 100 - sign], [0, 1, 2], 0],
          [[100, bad, 100 - sign], [1, 0, 2], 1],
          [[bad], [0], 0],
          [Array.from({ length: 200 }, (_, i) => (i === 150 ? bad : 100_000 - sign * i * 9)), Array.from({ length: 200 }, (_, i) => (i === 150 ? 0 : 5)), 150],
        ];
        for (const [px, qty, at] of cases) {
          const l = new Ladder(side);
          l.loadSorted(f64([60, 60 - sign]), f64([8, 9]), 2);
          expect(() => l.loadSorted(f64(px), f64(qty), px.length)).toThrow(`Ladder.loadSorted: price ${bad} at level ${at} is not a finite number`);
          expect(l.count).toBe(0);
          l.loadSorted(f64([50, 50 - sign]), f64([4, 5]), 2);
          expect(levels(l)).toEqual([[50, 4], [50 - sign, 5]]);
          expect(l.bestQty()).toBe(4);
        }
      }
    }
  });

  it("TC7: only the first n input levels are used", () => {
    const l = new Ladder(Side.BID);
    l.loadSorted(f64([9, 8, 7, 6]), f64([1, 1, 1, 1]), 2);
    expect(levels(l)).toEqual([[9, 1], [8, 1]]);
  });

  it("TC8: inserts and deletes at every rank of a deep side keep order (both move paths)", () => {
    for (const side of [Side.BID, Side.ASK]) {
      const l = new Ladder(side);
      const model = new Map<number, number>();
      for (let i = 0; i < 40; i++) {
        l.set(i * 2, i + 1);
        model.set(i * 2, i + 1);
      }
      for (let p = -1; p < 82; p++) {
        const q = p % 3 === 0 ? 0 : p + 1000;
        const prev = l.set(p, q);
        expect(prev).toBe(model.get(p) ?? 0);
        if (q === 0) model.delete(p);
        else model.set(p, q);
        const sorted = [...model.entries()].sort((a, b) => (side === Side.BID ? b[0] - a[0] : a[0] - b[0]));
        expect(levels(l)).toEqual(sorted);
      }
    }
  });

  it("TC9: a snapshot sizes the window by its tick span too: a 400-level OKX-like side spanning 4200 ticks lives in the window", () => {
    for (const side of [Side.BID, Side.ASK]) {
      const l = new Ladder(side);
      const sgn = side === Side.BID ? -1 : 1;
      // 400 levels 1 … 20 ticks apart (~10.5 on average), as OKX BTC-USDT's books (tick 0.1)
      const px = new Float64Array(400);
      for (let i = 0, p = 302_435; i < 400; i++, p += sgn * (1 + ((i * 7) % 20))) px[i] = p;
      const span = Math.abs(px[399]! - px[0]!);
      expect(span).toBeGreaterThan(4000);
      l.loadSorted(px, new Float64Array(400).fill(5), 400);
      expect(l.windowCount).toBe(400); // every level on the window's O(1) path, none in the overflow
      expect(l.windowSize).toBe(windowSlotsFor(400, span));
      expect(l.windowSize).toBeLessThanOrEqual(MAX_SLOTS_PER_LEVEL * 400);
      expect(l.bytesAllocated()).toBeLessThanOrEqual(400 * MAX_SLOTS_PER_LEVEL * 8.125 + 2 * 16 * 8);
    }
  });

  it("TC9b: a sparse side (70 levels over 124k ticks) gets a window bounded by the density rule; the rest stays in the overflow", () => {
    const l = new Ladder(Side.BID);
    const px = Float64Array.from({ length: 70 }, (_, i) => 1_000_000 - Math.round(i * i * 25.3));
    l.loadSorted(px, new Float64Array(70).fill(1), 70);
    expect(l.windowSize).toBeLessThanOrEqual(2 * MAX_SLOTS_PER_LEVEL * 70); // ≤ 16 slots per level, rounded up
    expect(l.windowCount).toBeGreaterThan(0);
    expect(l.windowCount).toBeLessThan(70);
    expect(levels(l).map((x) => x[0])).toEqual(Array.from(px));
  });

  it("TC9c: window sizes: 2 slots per level at least, the span when the density allows, in multiples of 64 slots", () => {
    expect(windowSlotsFor(1, 0)).toBe(64);
    expect(windowSlotsFor(50, 49)).toBe(128);
    expect(windowSlotsFor(200, 400)).toBe(640); // levels 1–3 ticks apart: 1.5 · 400 + 1 = 601 → 10 × 64
    expect(windowSlotsFor(500, 499)).toBe(1024);
    expect(windowSlotsFor(400, 4192)).toBe(6336); // 1.5 · 4192 + 1 = 6289 → 99 × 64
    expect(windowSlotsFor(70, 124_000)).toBe(1152); // density bound: 16 × 70 = 1120 → 18 × 64
    expect(windowSlotsFor(100_000, 1e9)).toBe(16_384); // MAX_WINDOW
  });

  it("TC10: applyLevels (window inserts, deletes, the best's delete, absent deletes, qty updates, outside the window) equals set() per level, change set included", () => {
    let seed = 12345;
    const rand = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    for (const side of [Side.BID, Side.ASK]) {
      const fast = new Ladder(side);
      const slow = new Ladder(side);
      const sgn = side === Side.BID ? 1 : -1;
      const px0 = Float64Array.from({ length: 300 }, (_, i) => 500_000 - sgn * i * 9);
      const q0 = new Float64Array(300).fill(7);
      fast.loadSorted(px0, q0, 300);
      slow.loadSorted(px0, q0, 300);
      const changes = new ChangeSet();
      const px = new Float64Array(64);
      const qty = new Float64Array(64);
      let absent = 0;
      for (let msg = 0; msg < 2000; msg++) {
        const n = 1 + rand(40);
        const best = fast.bestPrice();
        for (let k = 0; k < n; k++) {
          const kind = rand(10);
          // mostly near the book (inside the window), sometimes far below it or above it
          const off = kind === 0 ? 20_000 + rand(50_000) : kind === 1 ? -(1 + rand(3000)) : rand(3500);
          px[k] = best - sgn * off;
          qty[k] = rand(3) === 0 ? 0 : rand(4) === 0 ? fast.get(px[k]!) || 1 : 1 + rand(1000);
          if (rand(8) === 0) px[k] = best; // the best: its delete leaves the fast loop
        }
        absent += applyBoth(fast, slow, px, qty, n, changes);
        if (msg % 100 === 0) expect(levels(fast)).toEqual(levels(slow));
      }
      expect(levels(fast)).toEqual(levels(slow));
      expect(absent).toBeGreaterThan(100);
      expect(fast.windowMoves).toBeGreaterThan(0);
    }
  }, 120_000); // a wall-clock bound under load (6 s seen at load 13), not a speed assertion

  it("TC10b: both window loops of applyLevels (branchy for update runs, branch-free for insert/delete churn) equal set() per level as the mix changes", () => {
    let seed = 777;
    const rand = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    for (const side of [Side.BID, Side.ASK]) {
      const fast = new Ladder(side);
      const slow = new Ladder(side);
      const sgn = side === Side.BID ? 1 : -1;
      const px0 = Float64Array.from({ length: 200 }, (_, i) => 100_000 - sgn * i * 3);
      const q0 = new Float64Array(200).fill(5);
      fast.loadSorted(px0, q0, 200);
      slow.loadSorted(px0, q0, 200);
      const changes = new ChangeSet();
      const px = new Float64Array(64);
      const qty = new Float64Array(64);
      const ran = { branchy: 0, branchFree: 0 };
      for (let msg = 0; msg < 3000; msg++) {
        // Phases of 150 messages: qty updates of present levels (a few inserts and deletes), then churn.
        const churny = Math.floor(msg / 150) % 2 === 1;
        if (fast.churn >= CHURN_BRANCHLESS_PCT) ran.branchFree++;
        else ran.branchy++;
        const n = 1 + rand(30);
        const best = fast.bestPrice();
        for (let k = 0; k < n; k++) {
          const p = best - sgn * rand(600);
          px[k] = p;
          const present = fast.get(p) !== 0;
          if (churny) qty[k] = present ? (rand(4) === 0 ? 1 + rand(100) : 0) : rand(8) === 0 ? 0 : 1 + rand(100); // mostly inserts and deletes
          else qty[k] = rand(20) === 0 ? 0 : present ? (rand(4) === 0 ? fast.get(p) : 1 + rand(100)) : rand(10) === 0 ? 1 + rand(100) : 0;
          if (rand(16) === 0) px[k] = best; // its delete leaves the window loop
        }
        applyBoth(fast, slow, px, qty, n, changes);
        if (msg % 50 === 0) expect(levels(fast)).toEqual(levels(slow));
      }
      expect(levels(fast)).toEqual(levels(slow));
      // Both loops ran for many messages each.
      expect(ran.branchy).toBeGreaterThan(500);
      expect(ran.branchFree).toBeGreaterThan(500);
    }
  }, 120_000);

  it("rejects a bad side", () => {
    expect(() => new Ladder(2 as Side)).toThrow(RangeError);
  });

  it("rejects an initial capacity that is not a finite number (NaN made empty overflow arrays that never grew: a hang)", () => {
    for (const bad of [NaN, Infinity, -Infinity]) {
      expect(() => new Ladder(Side.BID, bad)).toThrow(`Ladder: initial capacity ${bad} is not a finite number`);
    }
    // Below 1 (0, negative) it is 1, as before: the overflow still doubles from there.
    for (const small of [0, -5, 0.2]) {
      const l = new Ladder(Side.ASK, small);
      l.loadSorted(f64([100]), f64([1]), 1);
      for (let i = 1; i <= 200; i++) l.set(100 + i * 1000, i); // each far below the last: the overflow grows
      expect(l.count).toBe(201);
    }
  });
});
