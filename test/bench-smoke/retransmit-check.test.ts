/** bench/retransmit.bench.ts's check: a recovery time is given only for books equal to the publisher's. */
import { expect, test } from "vitest";
import { ChangeSet } from "../../src/core/change-set.ts";
import { levelsHash, PublishedLevels, recoveryCells } from "../../bench/retransmit-check.ts";
import { makeInstrument, randomBookSides, randomChanges, rng, TestBook } from "../wire/helpers.ts";

function book(seed: number): TestBook {
  const b = new TestBook(makeInstrument("bybit", "linear", "SYM0USDT", 1, 3));
  const s = randomBookSides(rng(seed), 50, 300_000);
  b.load(s.bids, s.asks, 1, 0);
  return b;
}

test("a subscriber's book is compared with the publisher's at its own instrSeq, behind or not", () => {
  const pub = book(3);
  const sub = book(3); // the subscriber's copy, one event behind after the publisher's next change
  const published = new PublishedLevels([pub], 16);
  const cs = new ChangeSet();
  randomChanges(rng(5), pub, cs, 6, 300_000);
  published.changes(0, cs, (px) => pub.bids.get(px), (px) => pub.asks.get(px));
  pub.apply(cs, 2, 0);
  published.record(0, pub.instrSeq);
  expect(levelsHash(pub)).not.toBe(levelsHash(sub)); // the change moved the fingerprint
  published.compare(0, "SYM0USDT", sub, "behind");
  sub.apply(cs, 2, 0);
  published.compare(0, "SYM0USDT", sub, "caught up");
  expect(published.differ).toEqual([]);
  expect(published.compared).toBe(2);
  expect(recoveryCells([1, 2, 3], published)).toEqual({ p50Ms: 2, p99Ms: 3, maxMs: 3 });
});

test("a recovered book whose levels differ from the publisher's withholds the recovery times", () => {
  const pub = book(3);
  const sub = book(3);
  sub.bids.set(sub.bidPriceAt(0), sub.bidQtyAt(0) + 1); // one quantity wrong, same instrSeq
  expect(levelsHash(sub)).not.toBe(levelsHash(pub));
  const published = new PublishedLevels([pub], 16);
  published.compare(0, "SYM0USDT", sub, "at a recovery");
  expect(published.differ).toEqual(["SYM0USDT at instrSeq 1 (at a recovery)"]);
  expect(published.verdict()).toBe("NO (1 differ)");
  expect(recoveryCells([3, 1, 2], published)).toEqual({ p50Ms: "withheld", p99Ms: "withheld", maxMs: "withheld" });
});

test("a book older than the history kept is not compared, and no comparison is no verdict", () => {
  const pub = book(3);
  const old = book(3);
  const published = new PublishedLevels([pub], 2);
  const cs = new ChangeSet();
  for (let i = 0; i < 3; i++) {
    randomChanges(rng(7 + i), pub, cs, 6, 300_000);
    published.changes(0, cs, (px) => pub.bids.get(px), (px) => pub.asks.get(px));
    pub.apply(cs, 2 + i, 0);
    published.record(0, pub.instrSeq);
  }
  published.compare(0, "SYM0USDT", old, "at a recovery");
  expect([published.compared, published.unchecked]).toEqual([0, 1]);
  expect(published.verdict()).toBe("NO (none compared)");
});

test("the publisher's fingerprint kept per change equals the whole book's, over many changes (removals included)", () => {
  const pub = book(4);
  const published = new PublishedLevels([pub], 4096);
  const cs = new ChangeSet();
  const r = rng(9);
  for (let e = 0; e < 500; e++) {
    randomChanges(r, pub, cs, 6, 300_000);
    published.changes(0, cs, (px) => pub.bids.get(px), (px) => pub.asks.get(px));
    pub.apply(cs, 2 + e, 0);
    published.record(0, pub.instrSeq);
  }
  published.compare(0, "SYM0USDT", pub, "after 500 changes");
  expect(published.differ).toEqual([]);
  expect(published.compared).toBe(1);
});

/** `b`'s levels with its two best bids in each other's place: the same levels, not the same book. */
function bestBidsSwapped(b: TestBook) {
  const rank = (i: number) => (i === 0 ? 1 : i === 1 ? 0 : i);
  return {
    instrSeq: b.instrSeq,
    bidCount: b.bidCount,
    askCount: b.askCount,
    bidPriceAt: (i: number) => b.bidPriceAt(rank(i)),
    bidQtyAt: (i: number) => b.bidQtyAt(rank(i)),
    askPriceAt: (i: number) => b.askPriceAt(i),
    askQtyAt: (i: number) => b.askQtyAt(i),
  };
}

test("a book holding the publisher's levels in the wrong order differs (the fingerprint, a sum, cannot see order)", () => {
  const pub = book(3);
  const published = new PublishedLevels([pub], 16);
  published.compare(0, "SYM0USDT", bestBidsSwapped(book(3)), "at a recovery");
  expect(published.differ).toEqual([`SYM0USDT at instrSeq 1: bid 1 (${pub.bidPriceAt(0)}) not below bid 0 (${pub.bidPriceAt(1)}) (at a recovery)`]);
  expect(published.verdict()).toBe("NO (1 differ)");
});

test("a book at an instrSeq the publisher has not reached differs; it is not counted as too old to compare", () => {
  const pub = book(3);
  const sub = book(3);
  const published = new PublishedLevels([pub], 16);
  const cs = new ChangeSet();
  randomChanges(rng(5), sub, cs, 6, 300_000);
  sub.apply(cs, 2, 0); // the subscriber one event ahead of everything published
  published.compare(0, "SYM0USDT", sub, "at a recovery");
  expect(published.differ).toEqual(["SYM0USDT at instrSeq 2: ahead of the publisher's 1 (at a recovery)"]);
  expect(published.unchecked).toBe(0);
  expect(published.verdict()).toBe("NO (1 differ)");
});

test("a price given twice on a side in one change set counts as its last quantity, not its old one taken off twice", () => {
  const pub = book(3);
  const published = new PublishedLevels([pub], 16);
  const cs = new ChangeSet();
  const bidPx = pub.bidPriceAt(0);
  const askPx = pub.askPriceAt(1);
  cs.addBid(bidPx, 7);
  cs.addBid(bidPx, 9); // the same price again: the book ends at 9
  cs.addAsk(askPx, 0);
  cs.addAsk(askPx, 4); // removed, then back at 4
  published.changes(0, cs, (px) => pub.bids.get(px), (px) => pub.asks.get(px));
  pub.apply(cs, 2, 0);
  published.record(0, pub.instrSeq);
  published.compare(0, "SYM0USDT", pub, "after repeats");
  expect(published.differ).toEqual([]); // before: the old quantities taken off twice, the book said to differ
  expect(published.compared).toBe(1);
});
