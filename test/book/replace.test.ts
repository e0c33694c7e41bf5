/**
 * BookBuilder.applyReplace (snapshot-only venues: every message is the full top-N): against a naive model, on
 * random books, sorted and unsorted, the book equals the new levels and the change set, applied to the previous
 * book, gives exactly the new one.
 */
import { describe, expect, it } from "vitest";
import { ApplyResult, BookBuilder, RepeatedPriceError } from "../../src/book/book-builder.ts";
import { BookUpdate } from "../../src/core/book-update.ts";
import { BookState, StatusReason } from "../../src/core/types.ts";
import { testInstrument } from "./reference-book.ts";
import { Rng } from "./rng.ts";
import { rng } from "../support/mulberry32.ts";

const instr = testInstrument(0, 0);

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

  it("a full book gives the same book LIVE (as a delta) or not (as a snapshot): qty 0 entries are no level, distinct prices in any order are sorted", () => {
    // bids 99@1, 100@5 (unsorted), 98@0 (a qty 0 level that was in the old book)
    const fill = (u: BookUpdate) => {
      u.reset();
      u.replace = true;
      u.pushBid(99, 1);
      u.pushBid(100, 5);
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

  it("a LIVE full book whose worst level is infinite (a bid's −∞, an ask's +∞) is refused naming it, that side untouched", () => {
    // Best first, so it passed as sorted: its change entry was recorded (−∞ published as a level) and the side took it.
    for (const bid of [true, false]) {
      const b = new BookBuilder(instr);
      const u = new BookUpdate();
      u.reset();
      u.isSnapshot = true;
      u.pushBid(99, 1);
      u.pushAsk(101, 1);
      b.applySnapshot(u);
      u.reset();
      u.replace = true;
      u.pushBid(99, 2);
      u.pushAsk(101, 2);
      if (bid) u.pushBid(-Infinity, 3);
      else u.pushAsk(Infinity, 3);
      u.pushBid(98, 0); // a qty 0 entry after it: it is still the list's last level
      const bad = bid ? -Infinity : Infinity;
      expect(() => b.applyReplace(u)).toThrow(`BookBuilder.applyReplace: price ${bad} at level 1 is not a finite number`);
      expect(bid ? levelsOf(b, true) : levelsOf(b, false)).toEqual([[bid ? 99 : 101, 1]]);
      expect(bid ? b.changes.bidCount : b.changes.askCount).toBe(0);
    }
  });

  it("a LIVE full book with a NaN or infinite price on a qty 0 entry (no level) is refused naming it, as a snapshot is", () => {
    for (const bad of [NaN, Infinity, -Infinity]) {
      const b = new BookBuilder(instr);
      const u = new BookUpdate();
      u.reset();
      u.isSnapshot = true;
      u.pushBid(99, 1);
      u.pushAsk(101, 1);
      b.applySnapshot(u);
      u.reset();
      u.replace = true;
      u.pushBid(99, 2);
      u.pushBid(bad, 0);
      u.pushBid(98, 3);
      u.pushAsk(101, 2);
      expect(() => b.applyReplace(u)).toThrow(`BookBuilder.applyReplace: price ${bad} at level 1 is not a finite number`);
      expect(levelsOf(b, true)).toEqual([[99, 1]]);
      u.replace = false;
      u.isSnapshot = true;
      expect(() => b.applySnapshot(u)).toThrow(`Ladder.loadSorted: price ${bad} at level 1 is not a finite number`);
    }
  });
});

/** The levels of one side best first, as [price, qty] pairs. */
function levelsOf(book: BookBuilder, bid: boolean): [number, number][] {
  const n = bid ? book.bidCount : book.askCount;
  const out: [number, number][] = [];
  for (let r = 0; r < n; r++) out.push(bid ? [book.bidPriceAt(r), book.bidQtyAt(r)] : [book.askPriceAt(r), book.askQtyAt(r)]);
  return out;
}

/**
 * The change set a replace of `old` (best first) by the sorted list `next` must give: each listed level whose qty
 * differs from the old one (absent = 0), in the list's order, then each old level the list lacks (qty 0), best first.
 */
function modelChanges(old: [number, number][], next: [number, number][]): [number, number][] {
  const oldQty = new Map(old);
  const listed = new Set(next.map(([p]) => p));
  return [
    ...next.filter(([p, q]) => (oldQty.get(p) ?? 0) !== q),
    ...old.filter(([p]) => !listed.has(p)).map(([p]): [number, number] => [p, 0]),
  ];
}

function changesOf(b: BookBuilder, bid: boolean): [number, number][] {
  const c = b.changes;
  const n = bid ? c.bidCount : c.askCount;
  return Array.from({ length: n }, (_, i): [number, number] => (bid ? [c.bidPx[i]!, c.bidQty[i]!] : [c.askPx[i]!, c.askQty[i]!]));
}

describe("BookBuilder.applyReplace on deep books", () => {
  for (const seed of [11, 12]) {
    it(`random deep full books (seed ${seed}), the overflow and far jumps included: book = new levels; change set = the model's, entry for entry`, () => {
      const r = new Rng(seed);
      const b = new BookBuilder(instr);
      const u = new BookUpdate();
      let mid = 5_000_000;
      let prev: { bids: [number, number][]; asks: [number, number][] } = { bids: [], asks: [] };
      for (let step = 0; step < 60; step++) {
        // Mostly a drift with the old levels partly kept; sometimes a jump of up to 10^6 ticks, or one level, or none.
        if (r.chance(0.1)) mid += r.int(-1_000_000, 1_000_000);
        else mid += r.int(-50, 50);
        const gen = (bid: boolean, old: [number, number][]): [number, number][] => {
          const n = r.chance(0.1) ? r.int(0, 1) : r.logInt(6000);
          const gap = r.chance(0.3) ? r.int(1, 40) : r.int(1, 3); // sparse books put most levels in the overflow
          const m = new Map<number, number>();
          for (const [p, q] of old) if (r.chance(0.5)) m.set(p, r.chance(0.7) ? q : q + 1); // kept, as is or changed
          let p = bid ? mid - 1 : mid;
          while (m.size < n) {
            m.set(p, 1 + r.int(0, 9));
            p += (bid ? -1 : 1) * r.int(1, gap);
          }
          const e = [...m].filter(([px]) => (bid ? px < mid && px > 0 : px >= mid));
          e.sort((x, y) => (bid ? y[0] - x[0] : x[0] - y[0]));
          return e.slice(0, n);
        };
        const bids = gen(true, prev.bids);
        const asks = gen(false, prev.asks);
        u.reset();
        u.replace = true;
        for (const [p, q] of bids) u.pushBid(p, q);
        for (const [p, q] of asks) u.pushAsk(p, q);
        const wasLive = b.state === BookState.LIVE;
        const result = b.applyReplace(u);
        expect(result).toBe(ApplyResult.APPLIED);
        // Compared as strings: toEqual on thousands of pairs costs seconds.
        expect(String(levelsOf(b, true))).toBe(String(bids));
        expect(String(levelsOf(b, false))).toBe(String(asks));
        if (wasLive) {
          expect(String(changesOf(b, true))).toBe(String(modelChanges(prev.bids, bids)));
          expect(String(changesOf(b, false))).toBe(String(modelChanges(prev.asks, asks)));
        }
        prev = { bids, asks };
      }
    });
  }

  it("a LIVE replace of a deep book moves work proportional to its levels, not their product", () => {
    // Work counted, not timed: entries moved by copyWithin (every overflow insert or delete that shifts more than
    // SMALL_MOVE entries uses it). Applying the list as a delta inserted each new level below the window into the
    // sorted overflow and deleted each old one from it, a shift per level: O(old × new), ~1 s for 50k levels a side.
    const typedArrayProto = Object.getPrototypeOf(Float64Array.prototype) as { copyWithin: (t: number, s: number, e?: number) => unknown };
    const copyWithin = typedArrayProto.copyWithin;
    let moved = 0;
    typedArrayProto.copyWithin = function (this: Float64Array, t: number, s: number, e?: number) {
      moved += (e ?? this.length) - s;
      return copyWithin.call(this, t, s, e);
    };
    try {
      const n = 20_000; // 2 ticks apart: a span wider than the largest window, so most levels are in the overflow
      const b = new BookBuilder(instr);
      const u = new BookUpdate();
      const fill = (shift: number) => {
        u.reset();
        u.replace = true;
        for (let i = 0; i < n; i++) u.pushBid(1_000_000 - 2 * i - shift, 1 + (i % 7));
        for (let i = 0; i < n; i++) u.pushAsk(1_000_001 + 2 * i + shift, 1 + (i % 5));
      };
      fill(0);
      b.applyReplace(u); // a snapshot
      moved = 0;
      fill(1); // every old level goes, every new one comes
      expect(b.applyReplace(u)).toBe(ApplyResult.APPLIED);
      expect(moved).toBeLessThan(8 * n); // was ~1.2 × 10^9 entries
      expect(b.changes.bidCount).toBe(2 * n);
      expect(b.changes.askCount).toBe(2 * n);
      expect(b.bidPriceAt(n - 1)).toBe(1_000_000 - 2 * (n - 1) - 1);
      expect(b.askPriceAt(n - 1)).toBe(1_000_001 + 2 * (n - 1) + 1);
      // Worst first (not best first: sorted into a copy), back to the first prices: each old price looked up in the
      // list was O(old × new) too.
      fill(0);
      const px = { bid: u.bidPx.slice(0, n).reverse(), bidQty: u.bidQty.slice(0, n).reverse(), ask: u.askPx.slice(0, n).reverse(), askQty: u.askQty.slice(0, n).reverse() };
      u.reset();
      u.replace = true;
      for (let i = 0; i < n; i++) u.pushBid(px.bid[i]!, px.bidQty[i]!);
      for (let i = 0; i < n; i++) u.pushAsk(px.ask[i]!, px.askQty[i]!);
      moved = 0;
      expect(b.applyReplace(u)).toBe(ApplyResult.APPLIED);
      expect(moved).toBeLessThan(8 * n);
      expect(b.changes.bidCount).toBe(2 * n);
      expect(b.changes.bidPx[0]).toBe(1_000_000 - 2 * (n - 1)); // the list's order: its first entry first
      expect(b.bidPriceAt(0)).toBe(1_000_000);
      expect(b.askPriceAt(n - 1)).toBe(1_000_001 + 2 * (n - 1));
    } finally {
      typedArrayProto.copyWithin = copyWithin;
    }
  });
});

/**
 * The change set of a LIVE replace whose list is applied level by level (a list not best first): each entry (qty 0
 * skipped) whose qty differs from its price's qty at that point, in the list's order, then each old level the list
 * lacks (qty 0), best first.
 */
function listedModel(old: [number, number][], list: [number, number][]): [number, number][] {
  const cur = new Map(old);
  const out: [number, number][] = [];
  for (const [p, q] of list) {
    if (q === 0 || (cur.get(p) ?? 0) === q) continue;
    cur.set(p, q);
    out.push([p, q]);
  }
  const listed = new Set(list.filter(([, q]) => q !== 0).map(([p]) => p));
  for (const [p] of old) if (!listed.has(p)) out.push([p, 0]);
  return out;
}

describe("BookBuilder.applyReplace: a list that names a price twice", () => {
  it("is refused naming the side and the price, LIVE (nothing of that side changed) or not (as a snapshot); never LIVE from it", () => {
    // Until 2026-12-08 the last entry of a repeated price was kept: which of the venue's two sizes is true is a guess.
    const b = new BookBuilder(instr);
    const u = new BookUpdate();
    u.isSnapshot = true;
    u.pushBid(100, 1);
    u.pushBid(98, 1);
    u.pushAsk(101, 1);
    u.pushAsk(103, 1);
    b.applySnapshot(u);
    u.reset();
    u.replace = true;
    u.pushBid(100, 2);
    u.pushBid(99, 3);
    u.pushAsk(102, 1);
    u.pushAsk(104, 2);
    u.pushAsk(102, 0); // a qty 0 entry repeats a price too
    expect(() => b.applyReplace(u)).toThrow(RepeatedPriceError);
    expect(() => b.applyReplace(u)).toThrow("ask price 102 is listed twice");
    expect(levelsOf(b, false)).toEqual([[101, 1], [103, 1]]); // refused before the side changed
    b.markInvalid(BookState.RESYNCING, StatusReason.PARSE_ERROR); // as the app does
    // Not LIVE: applied as a snapshot, refused the same way (bids this time), the book not LIVE.
    u.reset();
    u.replace = true;
    u.pushBid(99, 3);
    u.pushBid(100, 2);
    u.pushBid(99, 4);
    u.pushAsk(101, 1);
    expect(() => b.applyReplace(u)).toThrow("bid price 99 is listed twice");
    expect(b.state).toBe(BookState.RESYNCING);
  });

  it("random lists with repeats, qty 0 entries and any order: refused exactly when a side lists a price twice; else book = the list read as a snapshot, change set = the model's", () => {
    const r = new Rng(68);
    const b = new BookBuilder(instr);
    const u = new BookUpdate();
    let refused = 0;
    let applied = 0;
    for (let step = 0; step < 300; step++) {
      const gen = (bid: boolean): [number, number][] => {
        const n = r.chance(0.1) ? r.int(0, 1) : r.logInt(700);
        const spread = r.chance(0.5) ? 20 : 100_000; // few prices (many repeats) or many (repeats rare)
        const e: [number, number][] = [];
        for (let i = 0; i < n; i++) e.push([bid ? 200_000 - r.int(1, spread) : 200_000 + r.int(0, spread), r.chance(0.1) ? 0 : r.int(1, 3)]);
        if (r.chance(0.3)) e.sort((x, y) => (bid ? y[0] - x[0] : x[0] - y[0])); // best first, the repeats adjacent
        return e;
      };
      const bids = gen(true);
      const asks = gen(false);
      const old = { bids: levelsOf(b, true), asks: levelsOf(b, false) };
      const wasLive = b.state === BookState.LIVE;
      u.reset();
      u.replace = true;
      for (const [p, q] of bids) u.pushBid(p, q);
      for (const [p, q] of asks) u.pushAsk(p, q);
      const repeated = (e: [number, number][]) => new Set(e.map(([p]) => p)).size !== e.length;
      if (repeated(bids) || repeated(asks)) {
        expect(() => b.applyReplace(u)).toThrow(RepeatedPriceError);
        b.markInvalid(BookState.RESYNCING, StatusReason.PARSE_ERROR);
        refused++;
        continue;
      }
      expect(b.applyReplace(u)).toBe(ApplyResult.APPLIED);
      applied++;
      const asSnapshot = (e: [number, number][], bid: boolean) =>
        [...new Map(e.filter(([, q]) => q !== 0))].sort((x, y) => (bid ? y[0] - x[0] : x[0] - y[0]));
      expect(String(levelsOf(b, true))).toBe(String(asSnapshot(bids, true)));
      expect(String(levelsOf(b, false))).toBe(String(asSnapshot(asks, false)));
      if (wasLive) {
        expect(String(changesOf(b, true))).toBe(String(listedModel(old.bids, bids)));
        expect(String(changesOf(b, false))).toBe(String(listedModel(old.asks, asks)));
      }
    }
    expect(refused).toBeGreaterThan(30);
    expect(applied).toBeGreaterThan(30);
  });
});
