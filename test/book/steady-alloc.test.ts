/**
 * The book's applies allocate nothing in steady state, counted by bench/alloc-meter.ts (new heap cells between full
 * GCs; its control must see a 32 B object a step), on the paths the app-level tests (test/app/replay-allocation,
 * the Upbit recording's) do not reach: full books whose span swings, re-centres back and forth, deltas with inserts
 * and deletes in the window (the branch-free loop) and in the overflow. Each scenario also checks the book against
 * what it must hold, so a path that stopped applying cannot pass by allocating nothing.
 */
import { expect, it } from "vitest";
import { allocationControl, measureAllocation } from "../../bench/alloc-meter.ts";
import { BookBuilder } from "../../src/book/book-builder.ts";
import { SHRINK_AFTER_SIZINGS } from "../../src/book/ladder-window.ts";
import { BookUpdate } from "../../src/core/book-update.ts";
import { BookState } from "../../src/core/types.ts";
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
