/**
 * BookBuilder.applyReplace (snapshot-only venues: every message is the full top-N): against a naive model, on
 * random books, sorted and unsorted, the book equals the new levels and the change set, applied to the previous
 * book, gives exactly the new one.
 */
import { describe, expect, it } from "vitest";
import { ApplyResult, BookBuilder } from "../../src/book/book-builder.ts";
import { BookUpdate } from "../../src/core/book-update.ts";
import { BookState } from "../../src/core/types.ts";
import { testInstrument } from "./reference-book.ts";

const instr = testInstrument(0, 0);

/** Deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function side(book: BookBuilder, bid: boolean): Map<number, number> {
  const m = new Map<number, number>();
  const n = bid ? book.bidCount : book.askCount;
  for (let r = 0; r < n; r++) m.set(bid ? book.bidPriceAt(r) : book.askPriceAt(r), bid ? book.bidQtyAt(r) : book.askQtyAt(r));
  return m;
}

describe("BookBuilder.applyReplace", () => {
  for (const seed of [1, 2, 3]) {
    it(`random full books (seed ${seed}): book = new levels; previous book + change set = new book`, () => {
      const r = rng(seed);
      const b = new BookBuilder(instr);
      const u = new BookUpdate();
      let replaces = 0;
      for (let step = 0; step < 3000; step++) {
        const mid = 10_000 + Math.floor(r() * 200) - 100;
        const n = 1 + Math.floor(r() * (r() < 0.1 ? 400 : 30));
        const bids = new Map<number, number>();
        const asks = new Map<number, number>();
        while (bids.size < n) bids.set(mid - 1 - Math.floor(r() * n * 3), 1 + Math.floor(r() * 5));
        while (asks.size < n) asks.set(mid + Math.floor(r() * n * 3), 1 + Math.floor(r() * 5));
        const order = (m: Map<number, number>, desc: boolean) => {
          const e = [...m];
          if (r() < 0.8) e.sort((x, y) => (desc ? y[0] - x[0] : x[0] - y[0])); // venues send best first; sometimes not
          else e.sort(() => r() - 0.5);
          return e;
        };
        u.reset();
        u.replace = true;
        for (const [p, q] of order(bids, true)) u.pushBid(p, q);
        for (const [p, q] of order(asks, false)) u.pushAsk(p, q);
        u.venueSeq = step + 1;
        const wasLive = b.state === BookState.LIVE;
        const before = { bids: side(b, true), asks: side(b, false) };
        expect(b.applyReplace(u)).toBe(ApplyResult.APPLIED);
        expect(b.state).toBe(BookState.LIVE);
        expect(side(b, true)).toEqual(bids);
        expect(side(b, false)).toEqual(asks);
        if (!wasLive) {
          expect(b.changes.count).toBe(0); // published as a snapshot
          continue;
        }
        replaces++;
        const c = b.changes;
        for (let i = 0; i < c.bidCount; i++) (c.bidQty[i] === 0 ? before.bids.delete(c.bidPx[i]!) : before.bids.set(c.bidPx[i]!, c.bidQty[i]!));
        for (let i = 0; i < c.askCount; i++) (c.askQty[i] === 0 ? before.asks.delete(c.askPx[i]!) : before.asks.set(c.askPx[i]!, c.askQty[i]!));
        expect(before.bids).toEqual(bids);
        expect(before.asks).toEqual(asks);
      }
      expect(b.counters.replaces).toBe(replaces);
    });
  }

  it("a full book gives the same book LIVE (as a delta) or not (as a snapshot): qty 0 entries are no level, even after the same price", () => {
    // bids 100@5, 99@1, 100@0 (unsorted, a duplicate ending in 0) and 98@0 (a qty 0 level that was in the old book)
    const fill = (u: BookUpdate) => {
      u.reset();
      u.replace = true;
      u.pushBid(100, 5);
      u.pushBid(99, 1);
      u.pushBid(100, 0);
      u.pushBid(98, 0);
      u.pushAsk(101, 2);
      u.pushAsk(102, 0);
    };
    const cold = new BookBuilder(instr);
    const u = new BookUpdate();
    fill(u);
    expect(cold.applyReplace(u)).toBe(ApplyResult.APPLIED); // not LIVE: a snapshot
    const live = new BookBuilder(instr);
    u.reset();
    u.isSnapshot = true;
    u.pushBid(98, 3);
    u.pushBid(97, 1);
    u.pushAsk(101, 1);
    u.pushAsk(102, 4);
    live.applySnapshot(u);
    const before = { bids: side(live, true), asks: side(live, false) };
    fill(u);
    expect(live.applyReplace(u)).toBe(ApplyResult.APPLIED);
    const want = { bids: new Map([[100, 5], [99, 1]]), asks: new Map([[101, 2]]) };
    expect({ bids: side(cold, true), asks: side(cold, false) }).toEqual(want);
    expect({ bids: side(live, true), asks: side(live, false) }).toEqual(want);
    // The change set takes the LIVE book's subscribers from the old book to the same new one.
    const c = live.changes;
    for (let i = 0; i < c.bidCount; i++) (c.bidQty[i] === 0 ? before.bids.delete(c.bidPx[i]!) : before.bids.set(c.bidPx[i]!, c.bidQty[i]!));
    for (let i = 0; i < c.askCount; i++) (c.askQty[i] === 0 ? before.asks.delete(c.askPx[i]!) : before.asks.set(c.askPx[i]!, c.askQty[i]!));
    expect(before).toEqual(want);
  });

  it("an unchanged full book gives an empty change set; a crossed one is CROSSED", () => {
    const b = new BookBuilder(instr);
    const u = new BookUpdate();
    const fill = (bid: number, ask: number) => {
      u.reset();
      u.replace = true;
      u.pushBid(bid, 1);
      u.pushAsk(ask, 1);
    };
    fill(99, 101);
    b.applyReplace(u);
    b.applyReplace(u);
    expect(b.changes.count).toBe(0);
    fill(102, 101);
    expect(b.applyReplace(u)).toBe(ApplyResult.CROSSED);
  });
});
