/**
 * s-rev72: second read of the subscriber memory bounds (s-subcap). A book whose snapshot took all books' levels past
 * maxBookLevels was emptied and made invalid without any event: a consumer driven by `update` events kept the
 * book's last (usable) top of book until its next event, which for a quiet instrument may be long. A delta that
 * passes the cap was followed by its `update` (the book emptied, invalid); a snapshot now is too. And the scratch
 * a book keeps between assemblies was taken back for another book's assembly over maxAssemblyLevels, not for its
 * own: its last split delta's arrays refused its snapshot, so an invalid book stayed invalid at every refresh.
 */
import { describe, expect, it } from "vitest";
import { ChangeSet } from "../../src/core/change-set.ts";
import { packBookDelta, packBookSnapshot } from "../../src/wire/encoder.ts";
import { levelsOf, makeInstrument, TestBook } from "../wire/helpers.ts";
import { ingestAll, newSubscriber, packer, T0, take } from "./feed-harness.ts";

const inst = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);

function deepBook(id: number, levels: number): TestBook {
  const b = new TestBook({ ...inst, instrumentId: id });
  const bids: [number, number][] = [];
  const asks: [number, number][] = [];
  for (let k = 0; k < levels; k++) {
    bids.push([100_000 - k, 1]);
    asks.push([100_001 + k, 1]);
  }
  b.load(bids, asks, 1, T0);
  return b;
}

describe("a snapshot over maxBookLevels", () => {
  it("empties its book with an update: listeners see it invalid at once, not at its next event", () => {
    const sub = newSubscriber({ maxBookLevels: 1000 });
    const p = packer();
    const big = deepBook(1, 300); // 600 levels
    const small = deepBook(2, 100); // 200 levels
    packBookSnapshot(p, big, 0, false);
    packBookSnapshot(p, small, 0, false);
    ingestAll(sub, take(p));
    const book2 = sub.book(2)!;
    expect(book2.usable).toBe(true);
    expect(sub.bookLevels).toBe(800);
    const seen: { valid: boolean; levels: number; instrSeq: number }[] = [];
    sub.on("update", (e) => {
      if (e.book.instrumentId === 2) seen.push({ valid: e.book.valid, levels: e.book.bidCount + e.book.askCount, instrSeq: e.book.instrSeq });
    });
    // Book 2 deeper now (300 levels a side): its refresh would take all books to 1200.
    const deeper = deepBook(2, 300);
    deeper.instrSeq = small.instrSeq + 1;
    packBookSnapshot(p, deeper, 0, true);
    ingestAll(sub, take(p));
    expect(sub.counters.bookLevelsOverCap).toBe(1);
    expect(book2.usable).toBe(false);
    expect(book2.bidCount + book2.askCount).toBe(0);
    expect(sub.bookLevels).toBe(600);
    expect(seen).toEqual([{ valid: false, levels: 0, instrSeq: deeper.instrSeq }]);
  });
});

describe("a book's own kept scratch", () => {
  // The scan that takes kept scratch back for an assembly over maxAssemblyLevels skipped the book assembling, so the
  // arrays its own last split delta left refused its snapshot: an invalid book stayed so at every refresh.
  it("is taken back for its snapshot too", () => {
    const sub = newSubscriber({ maxAssemblyLevels: 1000 });
    const p = packer();
    const b = new TestBook({ ...inst, instrumentId: 1 });
    b.load([[10, 1]], [[20, 1]], 1, T0);
    packBookSnapshot(p, b, 0, false);
    ingestAll(sub, take(p));
    const split = new ChangeSet();
    for (let k = 0; k < 150; k++) split.addBid(5_000 - k, 1);
    b.apply(split, b.venueSeq + 1, T0);
    packBookDelta(p, b, split);
    const parts = take(p);
    expect(parts.length).toBeGreaterThan(1);
    ingestAll(sub, parts);
    expect(sub.book(1)!.usable).toBe(true);
    expect(sub.assemblyScratchLevels).toBe(768); // the snapshot's 64 a side and the split delta's 256 bids, kept
    // A lost delta: the book invalid until its refresh, which needs 256 bids of snapshot scratch.
    for (const lost of [true, false]) {
      const cs = new ChangeSet();
      cs.addAsk(21, 1);
      b.apply(cs, b.venueSeq + 1, T0);
      packBookDelta(p, b, cs);
      const ds = take(p);
      if (!lost) ingestAll(sub, ds);
    }
    expect(sub.book(1)!.valid).toBe(false);
    packBookSnapshot(p, b, 0, true);
    ingestAll(sub, take(p));
    expect(sub.counters.assemblyOverBudget).toBe(0);
    expect(sub.book(1)!.usable).toBe(true);
    expect(levelsOf(sub.book(1)!)).toEqual(levelsOf(b));
    expect(sub.assemblyScratchLevels).toBeLessThanOrEqual(1000);
  });
});
