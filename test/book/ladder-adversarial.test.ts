/**
 * Adversarial randomized test of the ladder (src/book/ladder.ts) against a deliberately simple reference: per
 * side a Map price → qty plus its prices kept sorted best-first. It targets what the ladder's speed work put at
 * risk: a window qty means something only where its bitmap bit is set (clear() and a re-centre's spill leave
 * stale qtys), so it lands inserts with the very qty a slot held before, deletes of absent levels and reads on
 * previously used slots after clears, re-centres and snapshot reloads into smaller or larger windows (spans and
 * depths that differ by orders of magnitude); prices that jump far both ways and then reads by rank; deletes of
 * the best inside windowRun's runs; duplicates of one price in a delta (the last one wins, each real change is
 * reported); asks at price 0 and mantissas near 2^53; empty sides; and both sides through BookBuilder (snapshot,
 * delta, replace) with the change set compared to the reference's diff.
 * After EVERY operation: count, best, every rank in order and some out of order (the rank cursor), get() of
 * current, stale, nearby and far prices, copyLevels of random ranges and in sequential chunks, the change set
 * and the count of deletes of absent levels.
 */
import { describe, expect, it } from "vitest";
import { ApplyResult, BookBuilder } from "../../src/book/book-builder.ts";
import { Ladder, MAX_WINDOW, MIN_WINDOW } from "../../src/book/ladder.ts";
import { BookUpdate } from "../../src/core/book-update.ts";
import { ChangeSet } from "../../src/core/change-set.ts";
import { BookState, Side } from "../../src/core/types.ts";
import { testInstrument } from "./reference-book.ts";
import { RefSide } from "./ref-side.ts";
import { Rng } from "./rng.ts";

const MAX = Number.MAX_SAFE_INTEGER;

/** Prices (and the qty they had) that were ever levels: the slots stale qtys may sit in. */
class History {
  readonly px: number[] = [];
  readonly qty: number[] = [];
  private next = 0;
  add(p: number, q: number): void {
    if (this.px.length < 4096) {
      this.px.push(p);
      this.qty.push(q);
    } else {
      this.px[this.next] = p;
      this.qty[this.next] = q;
      this.next = (this.next + 1) & 4095;
    }
  }
}

/** Generates one side's snapshots and deltas, applying them to the reference as it goes (so it knows the best). */
class SideGen {
  readonly hist = new History();
  readonly sign: number;
  /** Price bounds for new levels (BookBuilder keeps bids below asks); [0, MAX] by default. */
  lo = 0;
  hi = MAX;
  /** The previous qty of the last delta level (for set()'s return value). */
  lastPrev = 0;
  /** Deletes of the current best that were not the first level of their delta (windowRun had started). */
  bestDeletesInRun = 0;
  constructor(
    readonly r: Rng,
    readonly ref: RefSide,
    public center: number,
  ) {
    this.sign = ref.isBid ? 1 : -1;
  }

  /** A price `ticks` better (negative: worse) than p, clamped to [lo, hi]. */
  move(p: number, ticks: number): number {
    const x = p + ticks * this.sign;
    return x < this.lo ? this.lo : x > this.hi ? this.hi : x;
  }

  anchor(): number {
    return this.ref.prices.length !== 0 ? this.ref.prices[0]! : this.center;
  }

  newQty(): number {
    const r = this.r;
    const k = r.float();
    if (k < 0.4) return r.int(1, 3); // a tiny pool: new qtys often equal a stale one
    if (k < 0.75) return r.int(1, 1_000_000);
    if (k < 0.85) return MAX - r.int(0, 1000);
    if (this.hist.px.length !== 0) return this.hist.qty[r.int(0, this.hist.px.length - 1)]!;
    return r.logInt(MAX);
  }

  gap(mode: number): number {
    const r = this.r;
    switch (mode) {
      case 0:
        return 1;
      case 1:
        return r.int(1, 3);
      case 2:
        return r.int(5, 15); // OKX-like
      case 3:
        return r.logInt(1000);
      case 4:
        return r.chance(0.97) ? 1 : r.logInt(1e9); // dense with huge holes
      default:
        return r.logInt(1e13);
    }
  }

  depth(): number {
    const r = this.r;
    const k = r.float();
    if (k < 0.06) return 0;
    if (k < 0.16) return 1;
    if (k < 0.4) return r.int(2, 16);
    if (k < 0.9) return r.int(17, 400);
    if (k < 0.98) return r.int(401, 2000);
    if (k < 0.995) return r.int(2001, 6000);
    return r.int(6001, 20_000); // more than MAX_WINDOW can hold even one tick apart
  }

  /** A snapshot best price: near the current best, far away either way, at an extreme, or the centre. */
  snapshotBest(): number {
    const r = this.r;
    const k = r.float();
    const a = this.anchor();
    let p: number;
    if (k < 0.45) p = a + r.int(-64, 64);
    else if (k < 0.7) p = a + (r.chance(0.5) ? 1 : -1) * r.logInt(1e15);
    else if (k < 0.8) p = r.chance(0.5) ? r.int(0, 50) : MAX - r.int(0, 50);
    else p = this.center + r.int(-5000, 5000);
    return p < this.lo ? this.lo : p > this.hi ? this.hi : p;
  }

  /**
   * Snapshot levels best-first from `best`, each price once (sometimes with qty 0 entries between levels, which the
   * one pass skips, or shuffled, which forces the unsorted fallback), loaded into the reference: qty 0 skipped.
   */
  snapshot(best: number, px: number[], qty: number[]): void {
    const r = this.r;
    const n = this.depth();
    const mode = r.int(0, 5);
    px.length = 0;
    qty.length = 0;
    let p = best;
    for (let i = 0; i < n; i++) {
      px.push(p);
      qty.push(this.newQty());
      const next = p - this.gap(mode) * this.sign;
      if (next < this.lo || next > this.hi) break;
      p = next;
    }
    if (px.length > 1 && r.chance(0.08)) {
      // qty 0 entries (skipped) at prices of their own between two levels: a repeated price is refused
      // (book-builder.test.ts), so a snapshot lists each price once.
      for (let d = r.int(1, 4); d > 0; d--) {
        const at = r.int(1, px.length - 1);
        const mid = (px[at - 1]! + px[at]!) / 2;
        if (Number.isInteger(mid) && mid !== px[at - 1] && mid !== px[at]) {
          px.splice(at, 0, mid);
          qty.splice(at, 0, 0);
        }
      }
    }
    if (px.length > 1 && r.chance(0.05)) {
      for (let i = px.length - 1; i > 0; i--) {
        const j = r.int(0, i);
        [px[i], px[j]] = [px[j]!, px[i]!];
        [qty[i], qty[j]] = [qty[j]!, qty[i]!];
      }
    }
    if (px.length !== 0 && r.chance(0.04)) {
      // A qty 0 entry worse than every level at the end (sizes the window, never a level).
      px.push((this.sign > 0 ? Math.min(...px) : Math.max(...px)) - this.sign);
      qty.push(0);
      if (px[px.length - 1]! < 0) {
        px.pop();
        qty.pop();
      }
    }
    this.ref.clear();
    for (let i = 0; i < px.length; i++) {
      if (qty[i] === 0) continue;
      this.ref.set(px[i]!, qty[i]!);
      this.hist.add(px[i]!, qty[i]!);
    }
  }

  /**
   * k delta levels, applied to the reference one by one; `changes` gets each real change (price, new qty) and
   * the return value is the number of deletes of absent levels.
   */
  delta(k: number, px: number[], qty: number[], changes: number[]): number {
    const r = this.r;
    const ref = this.ref;
    px.length = 0;
    qty.length = 0;
    changes.length = 0;
    let absent = 0;
    const runGap = r.int(0, 5);
    for (let i = 0; i < k; i++) {
      const n = ref.prices.length;
      const roll = r.float();
      let p: number;
      let q: number;
      if (roll < 0.16 && n !== 0) {
        p = ref.prices[0]!; // the best: mostly its delete (windowRun hands it to set()), else an update
        q = r.chance(0.7) ? 0 : this.newQty();
      } else if (roll < 0.3 && n !== 0) {
        p = ref.prices[r.int(0, n - 1)]!;
        q = r.chance(0.4) ? 0 : r.chance(0.25) ? ref.get(p) : this.newQty();
      } else if (roll < 0.38 && n !== 0) {
        p = ref.prices[r.int(0, Math.min(n - 1, 8))]!; // near the top: runs of deletes sweep the best away
        q = 0;
      } else if (roll < 0.5 && this.hist.px.length !== 0) {
        // A price that was a level before, with the qty it had: if a stale window qty were read as live, this
        // insert would look unchanged; a delete of it when absent must count as absent, not as a change.
        const h = r.int(0, this.hist.px.length - 1);
        p = this.hist.px[h]!;
        if (p < this.lo || p > this.hi) continue;
        q = r.chance(0.35) ? 0 : this.hist.qty[h]!;
      } else if (roll < 0.72) {
        const better = r.chance(0.35);
        p = this.move(this.anchor(), (better ? 1 : -1) * this.gap(runGap));
        q = r.chance(0.12) ? 0 : this.newQty();
      } else if (roll < 0.8) {
        p = this.move(this.anchor(), (r.chance(0.5) ? 1 : -1) * r.logInt(1e15)); // far: re-centre or deep overflow
        q = r.chance(0.1) ? 0 : this.newQty();
      } else if (roll < 0.92 && px.length !== 0) {
        const j = r.int(0, px.length - 1); // a duplicate of a price earlier in this delta
        p = px[j]!;
        q = r.chance(0.4) ? 0 : r.chance(0.3) ? qty[j]! : this.newQty();
      } else {
        const e = r.int(0, 3);
        p = e === 0 ? 0 : e === 1 ? MAX : e === 2 ? r.int(0, 40) : MAX - r.int(0, 40);
        if (p < this.lo || p > this.hi) continue;
        q = r.chance(0.2) ? 0 : this.newQty();
      }
      px.push(p);
      qty.push(q);
      if (q === 0 && i > 0 && ref.prices.length !== 0 && ref.prices[0] === p) this.bestDeletesInRun++;
      const prev = ref.set(p, q);
      this.lastPrev = prev;
      if (prev !== q) changes.push(p, q);
      else if (q === 0) absent++;
      if (q !== 0) this.hist.add(p, q);
    }
    return absent;
  }
}

/** Sentinel slots each side of copyLevels' output. */
const COPY_MARGIN = 3;
let scratch = new Float64Array(1024);
let scratchPx = new Float64Array(1024);
let scratchQty = new Float64Array(1024);

/** Everything readable about one side, against the reference; throws naming the first difference. */
function checkSide(l: Ladder, ref: RefSide, hist: History, r: Rng, what: () => string, whatSide = ""): void {
  const fail = (msg: string): never => {
    throw new Error(`${what()}${whatSide}: ${msg}`);
  };
  const prices = ref.prices;
  const n = prices.length;
  // The reference's qty of each rank, looked up once (the checks below read a rank up to 4 times: Map lookups each
  // time cost CPU); the buffers grow and are reused instead of a fresh pair per check.
  if (scratch.length < n + 2 * COPY_MARGIN) {
    scratch = new Float64Array(2 * (n + 2 * COPY_MARGIN));
    scratchPx = new Float64Array(scratch.length);
    scratchQty = new Float64Array(scratch.length);
  }
  const refQty = scratch;
  for (let rank = 0; rank < n; rank++) refQty[rank] = ref.get(prices[rank]!);
  if (l.count !== n) fail(`count ${l.count} != ${n}`);
  if (n === 0) {
    if (!Number.isNaN(l.bestPrice())) fail(`empty: bestPrice ${l.bestPrice()}`);
    if (l.bestQty() !== 0) fail(`empty: bestQty ${l.bestQty()}`);
  } else {
    // Object.is: an ask at price 0 has key −0 inside, and must still read as 0.
    if (!Object.is(l.bestPrice(), prices[0])) fail(`bestPrice ${l.bestPrice()} != ${prices[0]}`);
    if (l.bestQty() !== refQty[0]) fail(`bestQty ${l.bestQty()} != ${refQty[0]}`);
  }
  // Every rank, in order (the cursor walks forward).
  for (let rank = 0; rank < n; rank++) {
    const p = l.priceAt(rank);
    if (!Object.is(p, prices[rank])) fail(`priceAt(${rank}) ${p} != ${prices[rank]}`);
    const q = l.qtyAt(rank);
    if (q !== refQty[rank]) fail(`qtyAt(${rank}) ${q} != ${refQty[rank]}`);
  }
  // Out of order: backwards jumps reset the cursor, forward ones walk from it.
  if (n !== 0) {
    for (let t = 0; t < 6; t++) {
      const rank = r.chance(0.3) ? r.int(0, Math.min(n - 1, 3)) : r.int(0, n - 1);
      const p = r.chance(0.5) ? l.priceAt(rank) : (l.qtyAt(rank), l.priceAt(rank));
      if (!Object.is(p, prices[rank])) fail(`priceAt(${rank}) out of order ${p} != ${prices[rank]}`);
      if (l.qtyAt(rank) !== refQty[rank]) fail(`qtyAt(${rank}) out of order`);
    }
  }
  // copyLevels of random ranges, with sentinels around the written part.
  const out = COPY_MARGIN;
  const bufPx = scratchPx.subarray(0, n + 2 * out);
  const bufQty = scratchQty.subarray(0, n + 2 * out);
  for (let t = 0; t < 3; t++) {
    const from = r.int(0, n);
    const len = r.int(0, n - from);
    const off = r.int(0, out);
    bufPx.fill(-7);
    bufQty.fill(-7);
    if (r.chance(0.5) && n !== 0) l.priceAt(r.int(0, n - 1)); // leave the cursor somewhere else first
    l.copyLevels(from, len, bufPx, bufQty, off);
    for (let i = 0; i < bufPx.length; i++) {
      const inRange = i >= off && i < off + len;
      if (!inRange) {
        if (bufPx[i] !== -7 || bufQty[i] !== -7) fail(`copyLevels(${from}, ${len}) wrote outside at ${i}`);
        continue;
      }
      const rank = from + i - off;
      if (!Object.is(bufPx[i], prices[rank])) fail(`copyLevels(${from}, ${len}) rank ${rank}: ${bufPx[i]} != ${prices[rank]}`);
      if (bufQty[i] !== refQty[rank]) fail(`copyLevels(${from}, ${len}) rank ${rank} qty`);
    }
    // The cursor it leaves: the next rank read must still be right.
    if (from + len < n) {
      const p = l.priceAt(from + len);
      if (!Object.is(p, prices[from + len])) fail(`priceAt(${from + len}) after copyLevels: ${p}`);
    }
  }
  // Sequential chunks, as the snapshot encoder reads.
  const chunk = r.int(1, 64);
  for (let from = 0; from < n; from += chunk) {
    const len = Math.min(chunk, n - from);
    l.copyLevels(from, len, bufPx, bufQty, 0);
    for (let i = 0; i < len; i++) {
      if (!Object.is(bufPx[i], prices[from + i]) || bufQty[i] !== refQty[from + i]) {
        fail(`chunked copyLevels(${from}, ${len}) rank ${from + i}: ${bufPx[i]}@${bufQty[i]}`);
      }
    }
  }
  // get(): current levels, stale prices, near the best, far, the extremes.
  const probe = (p: number): void => {
    if (p < 0 || p > MAX) return;
    const got = l.get(p);
    if (got !== ref.get(p)) fail(`get(${p}) ${got} != ${ref.get(p)}`);
  };
  for (let t = 0; t < 6 && n !== 0; t++) probe(prices[r.int(0, n - 1)]!);
  for (let t = 0; t < 10 && hist.px.length !== 0; t++) probe(hist.px[r.int(0, hist.px.length - 1)]!);
  const a = n !== 0 ? prices[0]! : 1e6;
  for (let t = 0; t < 4; t++) probe(a + r.int(-3000, 3000));
  probe(r.int(0, MAX));
  probe(0);
  probe(MAX);
}

/** The ladder's change-set half for this side against the expected (price, qty) pairs after `before` entries. */
function checkChanges(cs: ChangeSet, isBid: boolean, before: number, want: number[], what: () => string): void {
  const count = (isBid ? cs.bidCount : cs.askCount) - before;
  const px = isBid ? cs.bidPx : cs.askPx;
  const qty = isBid ? cs.bidQty : cs.askQty;
  // Equal entries (=== implies the same text below) need no text: building both for every operation was ~10 % of
  // this file's CPU. Anything else is told by the texts, as before.
  let same = count * 2 === want.length;
  for (let i = 0; same && i < count; i++) same = px[before + i] === want[2 * i] && qty[before + i] === want[2 * i + 1];
  if (same) return;
  const got: string[] = [];
  for (let i = 0; i < count; i++) got.push(`${px[before + i]}@${qty[before + i]}`);
  const exp: string[] = [];
  for (let i = 0; i < want.length; i += 2) exp.push(`${want[i]}@${want[i + 1]}`);
  if (got.join(",") !== exp.join(",")) throw new Error(`${what()}: changes [${got.join(",")}] != [${exp.join(",")}]`);
}

const allSizes = new Set<number>();

interface LadderRun {
  ops: number;
  windowMoves: number;
  windowSizes: number;
  bestDeletesMidRun: number;
}

/** One seed of one side: snapshots, clears, single sets and deltas, checked after every operation. */
function runLadder(seed: number, side: Side, ops: number): LadderRun {
  const r = new Rng(seed * 7919 + side);
  const isBid = side === Side.BID;
  const l = new Ladder(side, r.int(1, 32));
  const ref = new RefSide(isBid);
  const centre = r.chance(0.2) ? r.int(0, 3000) : r.chance(0.2) ? MAX - r.int(0, 3000) : r.int(1e4, 1e13);
  const g = new SideGen(r, ref, centre);
  const cs = new ChangeSet();
  const px: number[] = [];
  const qty: number[] = [];
  const want: number[] = [];
  const sizes = new Set<number>();
  // The failure label is built only when a check fails: building it (every level of a delta) for every operation
  // was a large part of this file's CPU. It reads this operation's px/qty, which stay as they are until the next.
  let op = 0;
  let kind: "load" | "clear" | "set" | "levels" = "load";
  const what = (): string => {
    const head = `seed ${seed} ${isBid ? "bid" : "ask"} op ${op}`;
    if (kind === "load") return `${head} loadSorted(${px.length} levels)`;
    if (kind === "clear") return `${head} clear`;
    if (kind === "set") return `${head} set(${px[0]}, ${qty[0]})`;
    return `${head} applyLevels(${px.map((p, i) => `${p}@${qty[i]}`).join(" ")})`;
  };
  for (; op < ops; op++) {
    const k = r.float();
    if (k < 0.07 || (op === 0 && r.chance(0.7))) {
      g.snapshot(g.snapshotBest(), px, qty);
      kind = "load";
      l.loadSorted(Float64Array.from(px), Float64Array.from(qty), px.length);
    } else if (k < 0.09) {
      kind = "clear";
      l.clear();
      ref.clear();
    } else if (k < 0.17) {
      g.delta(1, px, qty, want);
      if (px.length === 0) continue;
      kind = "set";
      const prev = l.set(px[0]!, qty[0]!);
      if (prev !== g.lastPrev) throw new Error(`${what()}: returned ${prev} != ${g.lastPrev}`);
    } else {
      const kLevels = r.chance(0.03) ? r.int(100, 600) : r.int(1, 48); // > 256: the change set grows
      const absentWant = g.delta(kLevels, px, qty, want);
      kind = "levels";
      // Sometimes the change set already holds the other side's or an earlier part's entries.
      cs.clear();
      const before = r.chance(0.3) ? r.int(1, 300) : 0;
      for (let i = 0; i < before; i++) {
        if (isBid) cs.addBid(-1 - i, i);
        else cs.addAsk(-1 - i, i);
      }
      const absent = l.applyLevels(Float64Array.from(px), Float64Array.from(qty), px.length, cs);
      if (absent !== absentWant) throw new Error(`${what()}: absent deletes ${absent} != ${absentWant}`);
      checkChanges(cs, isBid, before, want, what);
      const cp = isBid ? cs.bidPx : cs.askPx;
      for (let i = 0; i < before; i++) if (cp[i] !== -1 - i) throw new Error(`${what()}: earlier change ${i} overwritten`);
    }
    checkSide(l, ref, g.hist, r, what);
    sizes.add(l.windowSize);
  }
  for (const z of sizes) allSizes.add(z);
  return { ops, windowMoves: l.windowMoves, windowSizes: sizes.size, bestDeletesMidRun: g.bestDeletesInRun };
}

/** Seeds of the ladder test (each: 700 operations per side); the builder test runs half as many. */
const SEEDS = 40;

it("checkChanges: equal entries pass; a differing price or quantity, a missing or an extra entry fails", () => {
  const cs = new ChangeSet();
  cs.bidPx.set([7, 100, 99]);
  cs.bidQty.set([7, 5, 0]);
  cs.bidCount = 3; // the first entry is before `before`: not this operation's
  checkChanges(cs, true, 1, [100, 5, 99, 0], () => "equal");
  checkChanges(cs, false, 0, [], () => "none on this side");
  const fails = (want: number[]) => expect(() => checkChanges(cs, true, 1, want, () => "w"), String(want)).toThrow(/w: changes/);
  fails([100, 5, 98, 0]);
  fails([100, 5, 99, 1]);
  fails([100, 5]); // one missing from want: the ladder wrote one more
  fails([100, 5, 99, 0, 98, 1]); // one the ladder did not write
  fails([]);
});

describe("Ladder against a Map reference (adversarial)", () => {
  it("stale window qtys: a reload into the same window, then inserts with the qtys those slots held before", () => {
    for (const side of [Side.BID, Side.ASK]) {
      const sign = side === Side.BID ? 1 : -1;
      const l = new Ladder(side);
      // 40 levels one tick apart, qty = 100 + i; then a one-level snapshot whose window covers the old slots.
      const base = 1_000_000;
      const px = Float64Array.from({ length: 40 }, (_, i) => base - i * sign);
      const qty = Float64Array.from({ length: 40 }, (_, i) => 100 + i);
      l.loadSorted(px, qty, 40);
      l.loadSorted(Float64Array.of(base), Float64Array.of(5), 1);
      expect(l.count).toBe(1);
      const cs = new ChangeSet();
      // Inserts with the stale qty, deletes of absent levels at stale slots, an update of the one live level.
      const dpx = Float64Array.of(base - 3 * sign, base - 4 * sign, base - 5 * sign, base, base - 3 * sign);
      const dqty = Float64Array.of(103, 0, 105, 5, 103);
      const absent = l.applyLevels(dpx, dqty, 5, cs);
      const got = side === Side.BID ? [...cs.bidPx.subarray(0, cs.bidCount)] : [...cs.askPx.subarray(0, cs.askCount)];
      expect(got).toEqual([base - 3 * sign, base - 5 * sign]);
      expect(absent).toBe(1);
      expect(l.count).toBe(3);
      expect([l.priceAt(0), l.priceAt(1), l.priceAt(2)]).toEqual([base, base - 3 * sign, base - 5 * sign]);
      expect(l.get(base - 4 * sign)).toBe(0);
      // clear() then set() with a stale qty: an insert (returns 0), not an unchanged level.
      l.clear();
      expect(l.set(base - 5 * sign, 105)).toBe(0);
      expect(l.count).toBe(1);
      expect(l.get(base - 3 * sign)).toBe(0);
    }
  });

  it("randomized: snapshots of any span and depth, clears, sets and deltas, both sides, many seeds", () => {
    let totalOps = 0;
    let moves = 0;
    let maxSizes = 0;
    let bestDeletes = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      for (const side of [Side.BID, Side.ASK]) {
        const res = runLadder(seed, side, 700);
        totalOps += res.ops;
        moves += res.windowMoves;
        maxSizes = Math.max(maxSizes, res.windowSizes);
        bestDeletes += res.bestDeletesMidRun;
      }
    }
    // Proof that the risky paths ran: re-centres, windows of several sizes, deletes of the best after a run started.
    expect(totalOps).toBe(SEEDS * 2 * 700);
    expect(moves).toBeGreaterThan(1000);
    expect(maxSizes).toBeGreaterThanOrEqual(4);
    expect(bestDeletes).toBeGreaterThan(500);
    // Windows of every kind: the smallest, the largest, and sizes that are not powers of two.
    expect(allSizes.has(MIN_WINDOW) && allSizes.has(MAX_WINDOW)).toBe(true);
    expect([...allSizes].filter((z) => (z & (z - 1)) !== 0).length).toBeGreaterThanOrEqual(3);
  }, 120_000); // ~3 s alone; the box is shared
});

/** Both sides through BookBuilder: snapshot, delta and replace, with the change set checked against the diff. */
function runBuilder(seed: number, ops: number): { replaces: number; deltas: number; crossed: number } {
  const r = new Rng(seed * 104729 + 17);
  const inst = testInstrument(0, 0);
  const b = new BookBuilder(inst, { initialLevels: r.int(1, 32) });
  const refB = new RefSide(true);
  const refA = new RefSide(false);
  let mid = r.chance(0.25) ? r.int(1, 2000) : r.chance(0.2) ? MAX - r.int(0, 2000) : r.int(1e5, 1e13);
  const gB = new SideGen(r, refB, mid - 1);
  const gA = new SideGen(r, refA, mid);
  const u = new BookUpdate();
  const bpx: number[] = [];
  const bq: number[] = [];
  const apx: number[] = [];
  const aq: number[] = [];
  const wantB: number[] = [];
  const wantA: number[] = [];
  let live = false;
  let absentTotal = 0;
  let replaces = 0;
  let deltas = 0;
  let crossed = 0;
  const isCrossed = (): boolean =>
    refB.prices.length !== 0 && refA.prices.length !== 0 && refB.prices[0]! >= refA.prices[0]!;
  // Bounds for new levels so most messages leave the book uncrossed; a few may cross it on purpose.
  const bound = (): void => {
    const bb = refB.prices.length !== 0 ? refB.prices[0]! : mid - 1;
    const ba = refA.prices.length !== 0 ? refA.prices[0]! : mid;
    const cross = r.chance(0.02);
    gB.hi = cross ? MAX : Math.max(1, ba - 1); // not below lo (an ask at 1 left hi 0: a bid at 0, refused)
    // A price must be > 0: BookBuilder refuses a level at 0 (the ladder alone takes it, tested above).
    gA.lo = cross ? 1 : Math.min(MAX, bb + 1);
    gB.lo = 1;
    gA.hi = MAX;
  };
  /** A full book for both sides around a new mid: sets gB/gA's levels and the reference. */
  const fullBook = (): void => {
    const k = r.float();
    if (k < 0.3) mid = mid + r.int(-100, 100);
    else if (k < 0.6) mid = mid + (r.chance(0.5) ? 1 : -1) * r.logInt(1e15);
    else if (k < 0.75) mid = r.chance(0.5) ? r.int(2, 60) : MAX - r.int(0, 60);
    mid = Math.min(MAX, Math.max(2, mid));
    gB.lo = 1;
    gB.hi = mid - 1;
    gA.lo = mid;
    gA.hi = MAX;
    gB.snapshot(Math.max(1, mid - r.int(1, 3)), bpx, bq);
    gA.snapshot(Math.min(MAX, mid + r.int(0, 2)), apx, aq);
  };
  const fill = (snapshot: boolean): void => {
    u.reset();
    u.isSnapshot = snapshot;
    for (let i = 0; i < bpx.length; i++) u.pushBid(bpx[i]!, bq[i]!);
    for (let i = 0; i < apx.length; i++) u.pushAsk(apx[i]!, aq[i]!);
  };
  // Built only when a check fails (as in runLadder); it reads this operation's lists, unchanged until the next.
  let op = 0;
  let kind = "";
  const what = (): string => {
    const head = `builder seed ${seed} op ${op}`;
    if (kind !== "delta") return `${head} ${kind}(${bpx.length}/${apx.length})`;
    return `${head} applyDelta(bids ${bpx.map((p, i) => `${p}@${bq[i]}`).join(" ")} | asks ${apx.map((p, i) => `${p}@${aq[i]}`).join(" ")})`;
  };
  for (; op < ops; op++) {
    const k = r.float();
    let res: ApplyResult;
    let wantRes: ApplyResult;
    wantB.length = 0;
    wantA.length = 0;
    if (!live || k < 0.06) {
      const oldB = [...refB.prices];
      const oldA = [...refA.prices];
      const oldQtyB = new Map(refB.qty);
      const oldQtyA = new Map(refA.qty);
      fullBook();
      fill(true);
      if (live && r.chance(0.6)) {
        // Replace while LIVE: the new levels (qty 0 entries left out, as a snapshot reads them) applied as a delta
        // (each real change), then each old level the new book lacks is deleted (old order, best first). fullBook() loaded the reference with the new book; the
        // expected diff is rebuilt from the old one.
        kind = "applyReplace";
        u.replace = true;
        replaces++;
        const diff = (ref: RefSide, oldPrices: number[], oldQty: Map<number, number>, px: number[], q: number[], want: number[]): void => {
          const newQty = new Map(ref.qty);
          ref.clear();
          for (const p of oldPrices) ref.set(p, oldQty.get(p)!);
          for (let i = 0; i < px.length; i++) {
            if (q[i] === 0) continue; // the new list is read as a snapshot: a qty 0 entry is no level
            const prev = ref.set(px[i]!, q[i]!);
            if (prev !== q[i]) want.push(px[i]!, q[i]!);
          }
          for (const p of oldPrices) {
            if (newQty.has(p)) continue;
            if (ref.set(p, 0) !== 0) want.push(p, 0);
          }
        };
        diff(refB, oldB, oldQtyB, bpx, bq, wantB);
        diff(refA, oldA, oldQtyA, apx, aq, wantA);
        res = b.applyReplace(u);
        if (isCrossed()) {
          wantRes = ApplyResult.CROSSED;
          live = false;
        } else wantRes = ApplyResult.APPLIED;
      } else {
        kind = "applySnapshot";
        // Not LIVE, a replace is applied as a snapshot.
        u.replace = !live && r.chance(0.2);
        res = u.replace ? b.applyReplace(u) : b.applySnapshot(u);
        live = !isCrossed();
        wantRes = live ? ApplyResult.APPLIED : ApplyResult.CROSSED;
      }
    } else {
      bound();
      const ka = r.chance(0.02) ? r.int(100, 400) : r.int(0, 30);
      const kb = r.chance(0.02) ? r.int(100, 400) : r.int(0, 30);
      absentTotal += gB.delta(kb, bpx, bq, wantB);
      bound();
      absentTotal += gA.delta(ka, apx, aq, wantA);
      fill(false);
      kind = "delta";
      deltas++;
      res = b.applyDelta(u);
      if (isCrossed()) {
        wantRes = ApplyResult.CROSSED;
        live = false;
        crossed++;
      } else wantRes = ApplyResult.APPLIED;
    }
    if (res !== wantRes) throw new Error(`${what()}: result ${res} != ${wantRes}`);
    if ((b.state === BookState.LIVE) !== live) throw new Error(`${what()}: state ${b.state}, live ${live}`);
    if (b.counters.deletesOfAbsent !== absentTotal) {
      throw new Error(`${what()}: deletesOfAbsent ${b.counters.deletesOfAbsent} != ${absentTotal}`);
    }
    checkChanges(b.changes, true, 0, wantB, what);
    checkChanges(b.changes, false, 0, wantA, what);
    checkSide(b.bids, refB, gB.hist, r, what, " bids");
    checkSide(b.asks, refA, gA.hist, r, what, " asks");
  }
  return { replaces, deltas, crossed };
}

describe("BookBuilder over the ladder (adversarial)", () => {
  it("randomized snapshots, deltas and replaces on both sides: book and change set equal the reference's", () => {
    let replaces = 0;
    let deltas = 0;
    let crossed = 0;
    for (let seed = 1; seed <= SEEDS / 2; seed++) {
      const res = runBuilder(seed, 500);
      replaces += res.replaces;
      deltas += res.deltas;
      crossed += res.crossed;
    }
    expect(replaces).toBeGreaterThan(50);
    expect(deltas).toBeGreaterThan(3000);
    expect(crossed).toBeGreaterThan(5);
  }, 120_000); // ~3 s alone; the box is shared
});
