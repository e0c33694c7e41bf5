/**
 * Over the assembly budget, the scratch taken back (idle scratch, stale assemblies) comes off the budget's lists
 * (assembly.ts), not from a scan of every book: old code scanned the whole book table at every part or chunk over the
 * budget, O(books) per datagram of a flood (/tmp numbers in the commit: ~0.1 ms at 1,000 books, 7 ms at 30,000).
 */
import { describe, expect, it } from "vitest";
import { ChangeSet } from "../../src/core/change-set.ts";
import type { FeedSubscriber } from "../../src/subscriber/index.ts";
import { STALE_ASSEMBLY_MS } from "../../src/subscriber/instrument-books.ts";
import type { SubscriberBook } from "../../src/subscriber/subscriber-book.ts";
import { packBookDelta, packBookSnapshot } from "../../src/wire/encoder.ts";
import { makeInstrument, rng, TestBook } from "../wire/helpers.ts";
import { newSubscriber, packer, T0, take } from "./feed-harness.ts";

const inst = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);

function deepBook(id: number, levels: number): TestBook {
  const b = new TestBook({ ...inst, instrumentId: id });
  const bids: [number, number][] = [];
  for (let k = 0; k < levels; k++) bids.push([10_000 - k, 1]);
  b.load(bids, [[20_000, 1]], 1, T0);
  return b;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const internals = (sub: FeedSubscriber): any => (sub as any).instrumentBooks;

describe("assembly scratch taken back off lists", () => {
  it("a flood of chunk sets over the budget never scans the book table", () => {
    const sub = newSubscriber({ maxAssemblyLevels: 300, maxBooks: 100 });
    const p = packer({ channelId: 1 });
    for (let i = 0; i < 50; i++) {
      const b = new TestBook({ ...inst, instrumentId: 100 + i });
      const cs = new ChangeSet();
      cs.addBid(100, 1);
      b.apply(cs, 1, T0);
      packBookDelta(p, b, cs);
    }
    for (const d of take(p)) sub.ingest(d, T0);
    const holder = packer({ channelId: 2 });
    packBookSnapshot(holder, deepBook(1, 240), 0, false);
    sub.ingest(take(holder)[0]!, T0); // chunk 0 of several: its scratch under way, the budget taken
    const flood = packer({ channelId: 3 });
    flood.appendHeartbeat(0);
    for (const d of take(flood)) sub.ingest(d, T0); // a new stream looks at the books once (supersedeSource)
    const books: Map<number, SubscriberBook> = internals(sub).books;
    const values = books.values.bind(books);
    let scans = 0;
    books.values = () => {
      scans++;
      return values();
    };
    for (let i = 0; i < 20; i++) {
      packBookSnapshot(flood, deepBook(2, 240), 0, false);
      for (const d of take(flood)) sub.ingest(d, T0);
    }
    expect(sub.counters.assemblyOverBudget).toBe(20);
    expect(scans).toBe(0); // old code: one per chunk 0 over the budget, 20
  });

  it("randomized: every idle scratch and exactly the assemblies under way are on the lists; the budget is the books' scratch", () => {
    const r = rng(0x7e75);
    const sub = newSubscriber({ maxAssemblyLevels: 3000 });
    const budget = internals(sub).budget;
    const packers = [1, 2, 3, 4].map((channelId) => packer({ channelId }));
    let nowUs = T0;
    let overBudget = 0;
    let expired = 0;
    for (let i = 0; i < 400; i++) {
      nowUs += r() < 0.05 ? STALE_ASSEMBLY_MS * 1000 + 1 : 1000;
      const p = packers[Math.floor(r() * packers.length)]!;
      const b = deepBook(1 + Math.floor(r() * 12), 1 + Math.floor(r() * 300));
      b.instrSeq = i;
      if (r() < 0.5) {
        packBookSnapshot(p, b, 0, r() < 0.5);
      } else {
        const cs = new ChangeSet();
        const n = 1 + Math.floor(r() * 250);
        for (let k = 0; k < n; k++) cs.addBid(5000 + k, 1 + (i % 7));
        b.apply(cs, i, T0);
        packBookDelta(p, b, cs);
      }
      const ds = take(p, nowUs);
      const sent = r() < 0.3 ? ds.slice(0, 1 + Math.floor(r() * ds.length)) : ds; // the rest of a set lost
      for (const d of sent) sub.ingest(d, nowUs);
      let scratch = 0;
      for (const book of sub.books.values()) {
        scratch += book.scratchLevels;
        const idle = (book.asmSeq < 0 && book.pendBidPx.length + book.pendAskPx.length > 0) || (book.snapSeq < 0 && book.snapBidPx.length + book.snapAskPx.length > 0);
        const lists = [budget.idle.has(book.idleLink), budget.parts.has(book.asmLink), budget.chunks.has(book.snapLink)];
        // Idle scratch is always on the idle list (a book there may have started an assembly since: freed nothing).
        const want = [idle || lists[0], book.asmSeq >= 0 && book.pendBidPx.length + book.pendAskPx.length > 0, book.snapSeq >= 0 && book.snapBidPx.length + book.snapAskPx.length > 0];
        expect({ i, lists }).toEqual({ i, lists: want });
      }
      expect(sub.assemblyScratchLevels).toBe(scratch * 2);
      overBudget = sub.counters.assemblyOverBudget;
      expired = sub.counters.assembliesExpired;
    }
    expect(overBudget).toBeGreaterThan(0);
    expect(expired).toBeGreaterThan(0);
  });
});
