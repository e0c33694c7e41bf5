/**
 * The book's applies allocate nothing in steady state, counted by bench/alloc-meter.ts (new heap cells between full
 * GCs; its control must see a 32 B object a step), on the paths the app-level tests (test/app/replay-allocation,
 * the Upbit recording's) do not reach: full books whose span swings, re-centres back and forth, deltas with inserts
 * and deletes in the window (the branch-free loop) and in the overflow. Each scenario also checks the book against
 * what it must hold, so a path that stopped applying cannot pass by allocating nothing. The large window's shrink
 * hysteresis is counted by the ladder's own window allocations (windowAllocs): its scenarios move 2,000 levels a
 * delta, too slow for the meter's 24,000 steps.
 */
import { expect, it } from "vitest";
import { allocationControl, measureAllocation } from "../../bench/alloc-meter.ts";
import { BookBuilder } from "../../src/book/book-builder.ts";
import { Ladder } from "../../src/book/ladder.ts";
import { MAX_WINDOW, SHRINK_AFTER_SIZINGS, SHRINK_LARGE_AFTER_OPS, windowSlotsFor } from "../../src/book/ladder-window.ts";
import { BookUpdate } from "../../src/core/book-update.ts";
import { ChangeSet } from "../../src/core/change-set.ts";
import { BookState, Side } from "../../src/core/types.ts";
import { testInstrument } from "./reference-book.ts";

const instr = testInstrument(0, 0);

/** A full book (or snapshot) of n levels a side, `gap` ticks apart, around mid. */
function fullBook(mid: number, n: number, gap: number, replace: boolean): BookUpdate {
  const u = new BookUpdate(n);
  u.replace = replace;
  u.isSnapshot = !replace;
  for (let i = 0; i < n; i++) {
    u.pushBid(mid - 1 - i * gap, 1 + i);
    u.pushAsk(mid + 1 + i * gap, 1 + i);
  }
  return u;
}

function meter(step: (i: number) => void) {
  for (let i = 0; i < 4_000; i++) step(i); // compiled, and past any growth a first pass makes
  const a = measureAllocation(0, 20_000, step);
  expect(allocationControl(10_000).cellsPerStep).toBeGreaterThan(0.9);
  return a;
}

it("full books whose span swings across a factor two (15 and 30 levels a side) are applied without allocating", () => {
  // Upbit's 15 levels dense, then 8 ticks apart: windows of 64 and 192 slots; 30 levels: 64 and 512. Before, each
  // swing reallocated both sides' windows (0.56 cells a message: Float64Array, Int32Array).
  const cases = [
    { b: new BookBuilder(instr), us: [fullBook(10_000, 15, 1, true), fullBook(10_000, 15, 8, true)] },
    { b: new BookBuilder(instr), us: [fullBook(50_000, 30, 1, true), fullBook(50_000, 30, 20, true)] },
  ];
  const step = (i: number) => {
    const c = cases[i & 1]!;
    c.b.applyReplace(c.us[(i >> 1) & 1]!);
  };
  const a = meter(step);
  for (const { b, us } of cases) {
    const last = us[1]!; // the last steps (23,998 and 23,999) applied us[1] to each
    expect(b.state).toBe(BookState.LIVE);
    expect(b.counters.replaces).toBe(24_000 / 2 - 1);
    expect([b.bidCount, b.askCount]).toEqual([last.bidCount, last.askCount]);
    for (let r = 0; r < last.bidCount; r++) expect([b.bidPriceAt(r), b.askPriceAt(r)]).toEqual([last.bidPx[r], last.askPx[r]]);
  }
  expect(a.gcDuring, "a GC inside a chunk leaves the count a lower bound").toBe(false);
  expect(a.cellsPerStep, a.types).toBeLessThan(0.05);
});

it("a best bid 300 ticks above the rest of its side, deleted and added again every delta (a re-centre each), allocates nothing", () => {
  const b = new BookBuilder(instr);
  const snap = fullBook(100_000, 20, 1, false);
  for (let i = 1; i < 20; i++) snap.bidPx[i] = 99_700 - i; // 99,999, then 99,699 … 99,681
  b.applySnapshot(snap);
  const del = new BookUpdate(4);
  del.pushBid(99_999, 0);
  const add = new BookUpdate(4);
  add.pushBid(99_999, 5);
  const step = (i: number) => b.applyDelta(i & 1 ? add : del);
  const moves = b.bids.windowMoves;
  const a = meter(step);
  expect(b.state).toBe(BookState.LIVE);
  expect(b.bids.windowMoves - moves).toBe(24_000); // every delete and every add moved the window
  expect([b.bidCount, b.bids.bestPrice(), b.bids.bestQty(), b.bidPriceAt(1), b.bidPriceAt(19)]).toEqual([20, 99_999, 5, 99_699, 99_681]);
  // Before: the window was 320 slots with the best and 64 without it, reallocated at each move.
  expect(a.gcDuring, "a GC inside a chunk leaves the count a lower bound").toBe(false);
  expect(a.cellsPerStep, a.types).toBeLessThan(0.05);
});

it("deltas inserting and deleting in the window (branch-free loop) and in the overflow allocate nothing", () => {
  const b = new BookBuilder(instr);
  b.applySnapshot(fullBook(100_000, 200, 1, false));
  // 32 deltas, applied in a cycle that restores the book: delta k < 16 deletes 9 asks (a set of its own) and inserts a
  // bid in the overflow, 5,000 ticks below the window; delta k + 16 puts them back as they were. 20 bid qty updates each.
  const us: BookUpdate[] = [];
  for (let k = 0; k < 32; k++) {
    const u = new BookUpdate(64);
    const on = k < 16;
    for (let j = 0; j < 20; j++) u.pushBid(100_000 - 2 - j * 7, on ? 7 : 2 + j * 7); // the snapshot's qty was the distance
    for (let j = 0; j < 9; j++) {
      const d = 2 + (k & 15) + 16 * j;
      u.pushAsk(100_000 + d, on ? 0 : d);
    }
    u.pushBid(95_000 - (k & 15), on ? 3 : 0);
    us.push(u);
  }
  const step = (i: number) => b.applyDelta(us[i & 31]!);
  const a = meter(step);
  expect(b.state).toBe(BookState.LIVE);
  expect(b.asks.churn).toBeGreaterThanOrEqual(25); // the branch-free loop ran
  expect(b.bidCount).toBe(200); // the cycle restored the book: the overflow levels gone again
  expect(b.askCount).toBe(200);
  expect(a.gcDuring, "a GC inside a chunk leaves the count a lower bound").toBe(false);
  expect(a.cellsPerStep, a.types).toBeLessThan(0.05);
});

it(`a small window over twice its need is given back after ${SHRINK_AFTER_SIZINGS} such sizings in a row, not before`, () => {
  const b = new BookBuilder(instr);
  const dense = fullBook(10_000, 15, 1, true);
  const sparse = fullBook(10_000, 15, 8, true);
  b.applyReplace(sparse);
  expect(b.bids.windowSize).toBe(192);
  for (let k = 1; k < SHRINK_AFTER_SIZINGS; k++) b.applyReplace(dense);
  b.applyReplace(sparse); // the run is broken: counted again from here
  for (let k = 1; k < SHRINK_AFTER_SIZINGS; k++) b.applyReplace(dense);
  expect(b.bids.windowSize).toBe(192);
  b.applyReplace(dense);
  expect([b.bids.windowSize, b.asks.windowSize]).toEqual([64, 64]);
  expect(b.bidCount).toBe(15);
  for (let r = 0; r < 15; r++) expect([b.bidPriceAt(r), b.askPriceAt(r)]).toEqual([9_999 - r, 10_001 + r]);
});

/** 2,000 bids one tick apart below 1,000,000 and an ask at 10M; a far best bid at 5M to add and delete. */
function farBestBook() {
  const b = new BookBuilder(instr);
  const snap = new BookUpdate(2_000);
  snap.isSnapshot = true;
  for (let i = 0; i < 2_000; i++) snap.pushBid(1_000_000 - i, 1 + i);
  snap.pushAsk(10_000_000, 1);
  b.applySnapshot(snap);
  const add = new BookUpdate(1);
  add.pushBid(5_000_000, 7);
  const del = new BookUpdate(1);
  del.pushBid(5_000_000, 0);
  return { b, add, del };
}

const NEAR_WINDOW = windowSlotsFor(2_001, 2_000); // what the 2,000 bids alone need: 4,032 slots

it("a far best bid added and deleted every delta over a 2,000-level side does not reallocate the large window each time", () => {
  const { b, add, del } = farBestBook();
  for (let i = 0; i < 4; i++) b.applyDelta(i & 1 ? del : add); // the first add grows the window to the maximum
  const allocs = b.bids.windowAllocs;
  const moves = b.bids.windowMoves;
  const deltas = 2 * SHRINK_LARGE_AFTER_OPS + 2;
  for (let i = 0; i < deltas; i++) b.applyDelta(i & 1 ? del : add);
  expect(b.bids.windowMoves - moves).toBe(deltas); // every add and every delete re-centred
  // Before: the window went 16,384 → 4,032 slots at each delete and back at each add: `deltas` allocations.
  expect(b.bids.windowAllocs - allocs).toBe(0);
  expect(b.bids.windowSize).toBe(MAX_WINDOW);
  const got = [b.state, b.bidCount, b.bids.bestPrice(), b.bidPriceAt(1_999), b.bids.qtyAt(1_999)];
  expect(got).toEqual([BookState.LIVE, 2_000, 1_000_000, 998_001, 2_000]);
});

it(`a large window a re-centre found over twice its need is given back within ${SHRINK_LARGE_AFTER_OPS} deltas, not before`, () => {
  const { b, add, del } = farBestBook();
  b.applyDelta(add);
  b.applyDelta(del); // a re-centre that needs 4,032 of its 16,384 slots
  expect(b.bids.windowSize).toBe(MAX_WINDOW);
  const bytes = b.bids.bytesAllocated();
  const upd = new BookUpdate(1);
  let shrunkAt = -1;
  for (let i = 1; i <= SHRINK_LARGE_AFTER_OPS && shrunkAt < 0; i++) {
    upd.reset();
    upd.pushBid(999_000, 100 + i); // a qty update deep in the window: no re-centre
    b.applyDelta(upd);
    if (b.bids.windowSize !== MAX_WINDOW) shrunkAt = i;
  }
  // The delete's own delta and the re-centre in it counted: SHRINK_LARGE_AFTER_OPS operations in all.
  expect(shrunkAt).toBe(SHRINK_LARGE_AFTER_OPS - 2);
  expect(b.bids.windowSize).toBe(NEAR_WINDOW);
  expect(b.bids.bytesAllocated()).toBeLessThan(bytes - (MAX_WINDOW - NEAR_WINDOW) * 8);
  expect([b.bidCount, b.bids.bestPrice(), b.bids.get(999_000), b.bidPriceAt(1_999)]).toEqual([2_000, 1_000_000, 100 + shrunkAt, 998_001]);
});

it("a large window over twice its need whose side emptied is given back by the deltas that follow, and the side still works", () => {
  const l = new Ladder(Side.BID);
  const px = Float64Array.from({ length: 2_000 }, (_, i) => 1_000_000 - i);
  l.loadSorted(px, new Float64Array(2_000).fill(3), 2_000);
  l.set(5_000_000, 7);
  l.set(5_000_000, 0);
  expect(l.windowSize).toBe(MAX_WINDOW);
  const cs = new ChangeSet();
  l.applyLevels(px.slice().reverse(), new Float64Array(2_000), 2_000, cs); // worst first: no re-centre on the way
  expect([l.count, l.windowSize]).toEqual([0, MAX_WINDOW]);
  const absent = Float64Array.of(42);
  for (let i = 0; i < SHRINK_LARGE_AFTER_OPS; i++) l.applyLevels(absent, new Float64Array(1), 1, cs); // deletes of absent levels
  expect(l.windowSize).toBe(windowSlotsFor(1, 0));
  l.set(123, 4);
  l.set(7_000_000, 5);
  expect([l.count, l.bestPrice(), l.priceAt(1), l.qtyAt(1)]).toEqual([2, 7_000_000, 123, 4]);
});
