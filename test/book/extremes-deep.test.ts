/**
 * The ladder's sorted overflow at 100k levels (the bids; the asks a fifth of it), against the exact bigint reference (test/book/bigint-book.ts):
 * grown by a snapshot and by deltas, changed at random depths, the window jumping far from a deep book and back,
 * shrunk by deltas and by a shallow snapshot, then grown again. After every delta: the change set (exactly the
 * reference's changes, in order), the best levels and the top N; every level at the end of each phase. The memory a
 * deep side held is given back by the next shallow snapshot. Seeded: a failure names the seed, phase and step.
 */
import { describe, expect, it } from "vitest";
import { ApplyResult, BookBuilder } from "../../src/book/book-builder.ts";
import { Ladder, MAX_WINDOW } from "../../src/book/ladder.ts";
import { SHRINK_LARGE_AFTER_OPS } from "../../src/book/ladder-window.ts";
import { ChangeSet } from "../../src/core/change-set.ts";
import { BookUpdate } from "../../src/core/book-update.ts";
import { BookState, Side } from "../../src/core/types.ts";
import { BigBook, type BigLevel, diffSide } from "./bigint-book.ts";
import { testInstrument } from "./reference-book.ts";
import { Rng } from "./rng.ts";

const DEEP = 100_000;
/** The asks go a fifth as deep: the bids carry the 100k, the asks the same paths at less cost. */
const DEEP_ASKS = DEEP / 5;
/** Asks start this far above the bids, so bids can jump many windows up without crossing. */
const SPREAD = 1_000_000_000n;

function fill(u: BookUpdate, bids: readonly BigLevel[], asks: readonly BigLevel[], snapshot: boolean): BookUpdate {
  u.reset();
  u.isSnapshot = snapshot;
  for (const [p, q] of bids) u.pushBid(Number(p), Number(q));
  for (const [p, q] of asks) u.pushAsk(Number(p), Number(q));
  return u;
}

/** A side of n levels best-first from `best`, 1–3 ticks apart (sign: +1 bids, −1 asks). */
function side(r: Rng, best: bigint, n: number, sign: bigint): BigLevel[] {
  const out: BigLevel[] = [];
  let p = best;
  for (let i = 0; i < n; i++) {
    out.push([p, BigInt(r.int(1, 1_000_000))]);
    p -= sign * BigInt(r.int(1, 3));
  }
  return out;
}

function runDeep(seed: number): { moves: number; changes: number; peakBytes: number; shallowBytes: number[] } {
  const r = new Rng(seed);
  const b = new BookBuilder(testInstrument(0, 0));
  const ref = new BigBook();
  const u = new BookUpdate();
  const mid = 1_000_000_000_000n;
  let phase = "";
  let step = 0;
  let changes = 0;
  let peakBytes = 0;
  const shallowBytes: number[] = [];
  const fail = (msg: string): never => {
    throw new Error(`deep seed ${seed}, ${phase}, step ${step}: ${msg}`);
  };
  const check = (full: boolean): void => {
    const depth = full ? undefined : r.int(1, 50);
    const probes = [r.int(0, 100), r.int(0, b.bidCount), r.int(0, b.askCount)];
    const d = diffSide(b, ref.bids, depth, probes) ?? diffSide(b, ref.asks, depth, probes);
    if (d !== null) fail(d);
    peakBytes = Math.max(peakBytes, b.bytesAllocated());
  };
  const snapshot = (bids: BigLevel[], asks: BigLevel[]): void => {
    if (b.applySnapshot(fill(u, bids, asks, true)) !== ApplyResult.APPLIED) fail("snapshot not applied");
    ref.load(bids, asks);
    check(true);
  };
  const delta = (bids: BigLevel[], asks: BigLevel[]): void => {
    step++;
    const res = b.applyDelta(fill(u, bids, asks, false));
    const want = ref.apply(bids, asks);
    if (res !== ApplyResult.APPLIED || b.state !== BookState.LIVE) fail(`result ${res}, state ${b.state}`);
    const cs = b.changes;
    if (cs.bidCount + cs.askCount !== want.changes.length) fail(`${cs.bidCount + cs.askCount} changes != ${want.changes.length}`);
    let bi = 0;
    let ai = 0;
    for (const c of want.changes) {
      const px = c.isBid ? cs.bidPx[bi] : cs.askPx[ai];
      const q = c.isBid ? cs.bidQty[bi++] : cs.askQty[ai++];
      if (BigInt(px!) !== c.price || BigInt(q!) !== c.qty) fail(`change ${px}@${q} != ${c.price}@${c.qty}`);
    }
    changes += want.changes.length;
    check(false);
  };
  const shallow = (): void => {
    phase = "shallow snapshot";
    snapshot(side(r, mid, 50, 1n), side(r, mid + SPREAD, 50, -1n));
    shallowBytes.push(b.bytesAllocated());
  };

  // 1. A deep snapshot: 100k bids (20k asks), most of them in the overflow.
  phase = "deep snapshot";
  snapshot(side(r, mid, DEEP, 1n), side(r, mid + SPREAD, DEEP_ASKS, -1n));
  if (b.bids.windowCount >= DEEP / 2) fail(`window holds ${b.bids.windowCount} of ${DEEP} levels`);

  // 2. Random depths: updates, deletes and inserts anywhere, repeats within a delta, absent deletes.
  phase = "random depths";
  for (let k = 0; k < 80; k++) {
    const bids: BigLevel[] = [];
    const asks: BigLevel[] = [];
    for (let j = r.int(1, 12); j > 0; j--) {
      const isBid = r.chance(0.5);
      const s = isBid ? ref.bids : ref.asks;
      const out = isBid ? bids : asks;
      const px = s.at(r.int(0, s.count - 1)) - (r.chance(0.3) ? (isBid ? 1n : -1n) : 0n); // a level, or next to one
      const q = r.chance(0.35) ? 0n : BigInt(r.int(1, 1_000_000));
      out.push([px, q]);
      if (r.chance(0.1)) out.push([px, r.chance(0.5) ? 0n : q + 1n]);
    }
    delta(bids, asks);
  }
  check(true);

  // 3. Far jumps from the deep book: a bid (an ask) many windows better than the best, then its delete: the window
  // spills into the 100k overflow, moves, and is pulled back.
  phase = "far jumps";
  for (let k = 0; k < 40; k++) {
    const isBid = k % 2 === 0;
    const s = isBid ? ref.bids : ref.asks;
    const w = BigInt(isBid ? b.bids.windowSize : b.asks.windowSize);
    const far = s.best()! + (isBid ? 1n : -1n) * w * BigInt(r.int(1, 20));
    const farBids: BigLevel[] = isBid ? [[far, 7n], [far - 5n, 8n]] : [];
    const farAsks: BigLevel[] = isBid ? [] : [[far, 7n], [far + 5n, 8n]];
    delta(farBids, farAsks);
    delta(farBids.map(([p]) => [p, 0n]), farAsks.map(([p]) => [p, 0n]));
  }
  check(true);

  // 4. Shrink by deltas: the best 1000 at a time, down to 50 levels a side (the window follows the best down).
  phase = "shrink by deltas";
  while (ref.bids.count > 50 || ref.asks.count > 50) {
    const bids: BigLevel[] = [];
    const asks: BigLevel[] = [];
    for (let i = 0; i < Math.min(1000, ref.bids.count - 50); i++) bids.push([ref.bids.at(i), 0n]);
    for (let i = 0; i < Math.min(1000, ref.asks.count - 50); i++) asks.push([ref.asks.at(i), 0n]);
    delta(bids, asks);
  }
  check(true);

  // 5. A shallow snapshot gives the deep side's memory back.
  shallow();

  // 6. Grow again by deltas: 1000 levels a delta below the window, each better than the last, to 100k bids (20k asks).
  phase = "grow by deltas";
  const wB = BigInt(b.bids.windowSize);
  const wA = BigInt(b.asks.windowSize);
  let bp = mid - 2n * wB - 300_000n;
  let ap = mid + SPREAD + 2n * wA + 300_000n;
  while (ref.bids.count < DEEP) {
    const bids: BigLevel[] = [];
    const asks: BigLevel[] = [];
    for (let i = 0; i < 1000; i++) {
      bids.push([(bp += BigInt(r.int(1, 2))), BigInt(r.int(1, 1_000_000))]);
      if (ref.asks.count + asks.length < DEEP_ASKS) asks.push([(ap -= BigInt(r.int(1, 2))), BigInt(r.int(1, 1_000_000))]);
    }
    delta(bids, asks);
  }
  check(true);
  if (b.bids.count - b.bids.windowCount < DEEP - 100) fail("the grown levels are not in the overflow");

  // 7. Shallow again, and deep again by snapshot.
  shallow();
  phase = "deep snapshot again";
  snapshot(side(r, mid, DEEP, 1n), side(r, mid + SPREAD, DEEP_ASKS, -1n));
  shallow();
  return { moves: b.bids.windowMoves + b.asks.windowMoves, changes, peakBytes, shallowBytes };
}

describe("the ladder's overflow at 100k levels", () => {
  it("grows by snapshot and by deltas, changes at every depth, jumps far and back, shrinks: equal to the reference throughout", () => {
    const s = runDeep(3);
    expect(s.moves).toBeGreaterThan(40); // every far jump moved the window (and its delete moved it back)
    expect(s.changes).toBeGreaterThan(2 * (DEEP + DEEP_ASKS) - 1000); // shrunk and grown again by deltas
    expect(s.peakBytes).toBeGreaterThan(DEEP * 16); // the overflow really held 100k levels
    // Each shallow snapshot after a deep book holds what a fresh book holds for it (within the window's hysteresis: a window within a factor two of its need is kept).
    const fresh = new BookBuilder(testInstrument(0, 0));
    const r = new Rng(1);
    fresh.applySnapshot(fill(new BookUpdate(), side(r, 1000n, 50, 1n), side(r, 2000n, 50, -1n), true));
    for (const bytes of s.shallowBytes) expect(bytes).toBeLessThanOrEqual(4 * fresh.bytesAllocated()); // 4.2 MB before
  }, 60_000);

  it("a shallow snapshot after a deep one gives the overflow's memory back (it kept 100k levels' arrays)", () => {
    for (const sideOf of [Side.BID, Side.ASK]) {
      const sign = sideOf === Side.BID ? 1 : -1;
      const l = new Ladder(sideOf);
      const n = 100_000;
      const px = Float64Array.from({ length: n }, (_, i) => 1e9 - sign * i);
      const qty = new Float64Array(n).fill(1);
      l.loadSorted(px, qty, n);
      const deep = l.bytesAllocated();
      l.loadSorted(px, qty, 50); // the best 50: all in the window
      expect(l.count).toBe(50);
      const fresh = new Ladder(sideOf);
      fresh.loadSorted(px, qty, 50);
      expect(deep).toBeGreaterThan(1_000_000);
      expect(l.bytesAllocated()).toBe(fresh.bytesAllocated()); // was 2 MiB: the 100k-level overflow arrays kept
      l.loadSorted(px, qty, n);
      l.loadSorted(px, new Float64Array(n), n); // an empty side (every qty 0)
      expect(l.count).toBe(0);
      expect(l.bytesAllocated()).toBeLessThan(fresh.bytesAllocated() + 200_000); // its window may stay; the overflow goes
    }
  });

  it("a side that lives in its window keeps its overflow arrays across re-centres (no grow and give back per move)", () => {
    // A re-centre spills every window level into the overflow and pulls them back: sized by the overflow's own levels
    // (0 after the pull), the give-back would halve what the spill had just grown, two allocations per move.
    class Probe extends Ladder {
      get overflowKeys(): Float64Array {
        return this.oKeys;
      }
    }
    for (const sideOf of [Side.BID, Side.ASK]) {
      const sign = sideOf === Side.BID ? 1 : -1;
      const n = 100;
      const l = new Probe(sideOf);
      l.loadSorted(Float64Array.from({ length: n }, (_, i) => 1e6 - sign * i), new Float64Array(n).fill(1), n);
      let best = 1e6;
      let keys: Float64Array | undefined;
      let replaced = 0;
      let left = 0;
      const moves = l.windowMoves;
      // The book moves up a tick at a time (a new best, the worst gone): it reaches the window's top every quarter
      // window, and the window moves with all its 100 levels.
      for (let k = 0; k < 1000; k++) {
        best += sign;
        l.set(best, 1);
        l.set(best - sign * n, 0);
        if (l.windowCount !== n) left++;
        if (l.windowMoves - moves === 1 && keys === undefined) keys = l.overflowKeys;
        if (keys !== undefined && l.overflowKeys !== keys) replaced++;
      }
      expect(l.windowMoves - moves).toBeGreaterThanOrEqual(10);
      expect(left).toBe(0); // every level back in the window after each move
      expect(replaced).toBe(0);
    }
  });

  it("deltas that take a deep side down give the overflow's memory back, whichever end they delete from", () => {
    // Only a snapshot gave it back: a side that was 50k levels deep kept ~1 MiB of overflow arrays (2 MiB at 100k)
    // while its deltas took it down to 50 levels, for as long as no snapshot came (a full-depth feed resyncs rarely).
    for (const sideOf of [Side.BID, Side.ASK]) {
      const sign = sideOf === Side.BID ? 1 : -1;
      const n = 50_000;
      const dense = Float64Array.from({ length: n }, (_, i) => 1e9 - sign * 2 * i); // 2 ticks apart: most in the overflow
      const qty = Float64Array.from({ length: n }, (_, i) => 1 + i);
      // Best first through applyLevels (the window follows the best down, pulling levels out of the overflow), and
      // from the overflow's best end through set() (each delete an overflow delete: the window keeps its levels).
      // 40 ticks apart for the second: a few hundred levels in the window, the rest in the overflow.
      const sparse = Float64Array.from({ length: n }, (_, i) => 1e9 - sign * 40 * i);
      for (const how of ["best first", "overflow first"]) {
        const px = how === "best first" ? dense : sparse;
        const l = new Ladder(sideOf);
        l.loadSorted(px, qty, n);
        expect(l.bytesAllocated()).toBeGreaterThan(n * 16);
        if (how === "best first") {
          const changes = new ChangeSet();
          for (let from = 0; from < n - 50; from += 1000) {
            const k = Math.min(1000, n - 50 - from);
            changes.clear();
            l.applyLevels(px.subarray(from, from + k), new Float64Array(k), k, changes);
          }
          // The re-centres on the way found the window (16,384 slots) over twice the need and left it, its overflow
          // sized as of the last of them: both are given back once SHRINK_LARGE_AFTER_OPS operations found it so.
          const last = px.subarray(n - 1);
          for (let k = SHRINK_LARGE_AFTER_OPS; k > 0; k--) l.applyLevels(last, Float64Array.of(n + ((k - 1) & 1)), 1, changes);
          expect(l.windowSize).toBeLessThan(MAX_WINDOW);
        } else {
          for (let rank = l.windowCount; rank < n - 50; rank++) l.set(px[rank]!, 0);
        }
        const left = how === "best first" ? [...px.subarray(n - 50)] : [...px.subarray(0, l.windowCount), ...px.subarray(n - 50)];
        expect(l.count).toBe(left.length);
        for (let r = 0; r < left.length; r++) expect(l.priceAt(r)).toBe(left[r]);
        expect(l.qtyAt(left.length - 1)).toBe(n);
        // The overflow's arrays (what is not the window's 8.125 B a slot) hold under 8 × the side's levels as of its
        // last overflow delete or re-centre (the window's levels included: a re-centre spills them all into it);
        // window deletes since may have halved those levels. Here within 16 ×; they were 1 MiB (65,536 levels).
        const overflowBytes = l.bytesAllocated() - l.windowSize * 8.125;
        expect(overflowBytes).toBeLessThanOrEqual(16 * 16 * Math.max(64, l.count));
      }
    }
  });
});

describe("Ladder.dropWorst (the subscriber's cap on a side deeper than it)", () => {
  it("drops the worst levels (through the overflow and into the window) in O(1) a level; inserts, deletes, grows and give-backs after it stay exact", () => {
    class Probe extends Ladder {
      get overflowCount(): number {
        return this.oN;
      }
      get overflowCapacity(): number {
        return this.oKeys.length;
      }
    }
    const typedArrayProto = Object.getPrototypeOf(Float64Array.prototype) as { copyWithin: (t: number, s: number, e?: number) => unknown };
    const copyWithin = typedArrayProto.copyWithin;
    for (const sideOf of [Side.BID, Side.ASK]) {
      const sign = sideOf === Side.BID ? 1 : -1;
      const r = new Rng(68 + sideOf);
      const n = 4000;
      const l = new Probe(sideOf);
      const model = new Map<number, number>();
      const px = Float64Array.from({ length: n }, (_, i) => 1e6 - sign * 7 * i); // 7 ticks apart: most in the overflow
      const qty = Float64Array.from({ length: n }, (_, i) => 1 + i);
      l.loadSorted(px, qty, n);
      for (let i = 0; i < n; i++) model.set(px[i]!, qty[i]!);
      const check = (where: string) => {
        const want = [...model].sort((a, b) => (b[0] - a[0]) * sign);
        expect([where, l.count]).toEqual([where, want.length]);
        const got: number[][] = [];
        for (let k = 0; k < want.length; k++) got.push([l.priceAt(k), l.qtyAt(k)]);
        expect(`${where}: ${got}`).toBe(`${where}: ${want}`);
      };
      // The worst levels one at a time, as the subscriber does for each level added above its floor: no shift.
      let moved = 0;
      typedArrayProto.copyWithin = function (this: Float64Array, t: number, s: number, e?: number) {
        moved += (e ?? this.length) - s;
        return copyWithin.call(this, t, s, e);
      };
      try {
        for (let k = 0; k < 500; k++) {
          const p = 1e6 - sign * (7 * (k % 50) + 1 + (k / 50) | 0); // between the top levels, each a new one
          l.set(p, 5);
          model.set(p, 5);
          const worst = l.priceAt(l.count - 1);
          l.dropWorst(1);
          model.delete(worst);
        }
      } finally {
        typedArrayProto.copyWithin = copyWithin;
      }
      expect(moved).toBe(0); // was ~500 × 3,700 keys and qtys: each drop shifted the whole overflow
      check(`${sideOf} after 500 drops`);
      // Then, on the views dropWorst left: deep inserts until the overflow grows, deletes until it is given back
      // (halved), and drops of several levels, some past the overflow into the window; random, the model checked.
      const drop = (k: number) => {
        const d = Math.min(k, l.count);
        for (let j = 0; j < d; j++) model.delete(l.priceAt(l.count - 1 - j));
        l.dropWorst(d);
      };
      const capacity0 = l.overflowCapacity;
      let intoWindow = 0;
      for (let step = 0; step < 6000; step++) {
        if (r.chance(0.05)) {
          const past = step >= 2500 && r.chance(0.1); // the whole overflow and some of the window
          if (past && l.windowCount > 0) intoWindow++;
          drop(past ? l.overflowCount + r.int(1, 3) : r.int(0, 20));
        } else if (step < 2500 || l.count === 0) {
          const p = 1e6 - sign * r.int(-20, 20 * n);
          const q = r.int(1, 9);
          l.set(p, q);
          model.set(p, q);
        } else if (l.count > 30) {
          const p = l.priceAt(r.int(0, l.count - 1));
          l.set(p, 0);
          model.delete(p);
        }
        if (step === 2499) {
          expect(l.overflowCapacity).toBeGreaterThan(capacity0); // grown from a view
          check(`${sideOf} deep`);
        }
        if (step % 1000 === 999) check(`${sideOf} step ${step}`);
      }
      expect(l.overflowCapacity).toBeLessThan(capacity0); // given back from a view
      expect(intoWindow).toBeGreaterThan(0);
      check(`${sideOf} end`);
    }
  });
});
