/**
 * The assembly budget's intrusive lists (assembly.ts, book-list.ts) walked after every datagram and compared with a
 * scan of the book table, under what can take a book off or leave it on a list: the table full (a silent stream's
 * book evicted), restarts (supersede), exponent changes, sets and split deltas cut short, assemblies expiring over
 * the budget, listeners that throw, stop(). A list corrupted (a link left behind, an evicted or idle book still on
 * an under-way list) would be silent otherwise: expiry would drop a finished assembly and invalidate a good book.
 */
import { describe, expect, it } from "vitest";
import { ChangeSet } from "../../src/core/change-set.ts";
import type { FeedSubscriber } from "../../src/subscriber/index.ts";
import { STALE_ASSEMBLY_MS } from "../../src/subscriber/instrument-books.ts";
import type { BookLink, BookList } from "../../src/subscriber/book-list.ts";
import { monoEpochMs } from "../../src/subscriber/mono-clock.ts";
import type { SubscriberBook } from "../../src/subscriber/subscriber-book.ts";
import { packBookDelta, packBookSnapshot } from "../../src/wire/encoder.ts";
import type { ChannelPacker } from "../../src/wire/packer.ts";
import { makeInstrument, rng, TestBook } from "../wire/helpers.ts";
import { newSubscriber, packer, T0, take } from "./feed-harness.ts";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const budgetOf = (sub: FeedSubscriber): any => (sub as any).instrumentBooks.budget;

/** The books on `list` head to tail, its links checked both ways; fails on a cycle or a broken back link. */
function walk(list: BookList, name: string, max: number): SubscriberBook[] {
  const out: SubscriberBook[] = [];
  let prev: BookLink | null = null;
  for (let l = list.head; l !== null; l = l.next) {
    if (l.prev !== prev) expect({ name, backLink: l.prev === prev }).toEqual({ name, backLink: true });
    out.push(l.book);
    if (out.length > max) throw new Error(`${name}: a cycle (more links than books)`);
    prev = l;
  }
  if (list.tail !== prev) expect({ name, tail: list.tail === prev }).toEqual({ name, tail: true });
  return out;
}

const detached = (l: BookLink, list: BookList) => l.prev === null && l.next === null && list.head !== l && list.tail !== l;

describe("assembly lists against a scan of the books", () => {
  for (const seed of [0x78c1]) {
    it(`seed ${seed.toString(16)}: evictions, restarts, exponent changes, expiry, throwing listeners, stop()`, async () => {
      const r = rng(seed);
      const sub = newSubscriber({ maxAssemblyLevels: 1500, maxBooks: 8, staleAfterMs: 1 });
      const budget = budgetOf(sub);
      const evicted = new Set<SubscriberBook>();
      sub.on("update", () => {
        if (r() < 0.1) throw new Error("update listener");
      });
      sub.on("evict", (e) => {
        evicted.add(e.book);
        throw new Error("evict listener");
      });
      sub.on("supersede", () => {
        throw new Error("supersede listener");
      });
      sub.on("error", () => {}); // the listeners' throws, reported
      let nowUs = T0;
      const sessions = [11, 11, 11, 11];
      const packers: ChannelPacker[] = [0, 1, 2, 3].map((c) => packer({ channelId: c + 1, sourceId: c, maxBytes: 320 }));
      for (let i = 0; i < 500; i++) {
        nowUs += r() < 0.04 ? STALE_ASSEMBLY_MS * 1000 + 1 : 1000;
        const c = Math.floor(r() * 4);
        if (r() < 0.01) {
          sessions[c]! += 1; // a restart of that channel's publisher (its own source): its books superseded
          packers[c] = packer({ channelId: c + 1, sourceId: c, sessionId: sessions[c]!, sessionStartUs: T0 + i * 1000, maxBytes: 320 });
        }
        if (r() < 0.02) sub.checkStale(monoEpochMs() + 3_600_000); // every stream silent: a full table evicts
        if (r() < 0.005) await sub.stop();
        const p = packers[c]!;
        const inst = makeInstrument("bybit", "linear", "BTCUSDT", r() < 0.1 ? 2 : 1, 3); // now and then other units
        const b = new TestBook({ ...inst, instrumentId: 1 + Math.floor(r() * 14) });
        b.instrSeq = i;
        const bids: [number, number][] = [];
        for (let k = 0, n = Math.floor(r() * 120); k < n; k++) bids.push([10_000 - k, 1 + k]);
        b.load(bids, [[20_000, 1]], 1, T0);
        if (r() < 0.5) {
          packBookSnapshot(p, b, 0, r() < 0.5);
        } else {
          const cs = new ChangeSet();
          for (let k = 0, n = 1 + Math.floor(r() * 90); k < n; k++) cs.addBid(5000 + k, 1 + (i % 7));
          b.apply(cs, i, T0);
          packBookDelta(p, b, cs);
        }
        const ds = take(p, nowUs);
        const sent = r() < 0.3 ? ds.slice(0, 1 + Math.floor(r() * ds.length)) : ds; // the rest of a set lost
        for (const d of sent) {
          sub.ingest(d, nowUs);
          const table = new Set(sub.books.values());
          const max = table.size + evicted.size + 1;
          const idle = walk(budget.idle, "idle", max);
          const parts = walk(budget.parts, "parts", max);
          const chunks = walk(budget.chunks, "chunks", max);
          for (const [name, books] of [["idle", idle], ["parts", parts], ["chunks", chunks]] as const) {
            for (const book of books) if (!table.has(book)) expect({ i, name, inTable: table.has(book) }).toEqual({ i, name, inTable: true });
          }
          // Least recently touched first: expiry stops at the first assembly touched since (receive times go forward here).
          for (let k = 1; k < parts.length; k++) if (parts[k - 1]!.asmTouchedUs > parts[k]!.asmTouchedUs) expect({ i, partsInOrder: false }).toBe(true);
          for (let k = 1; k < chunks.length; k++) if (chunks[k - 1]!.snapTouchedUs > chunks[k]!.snapTouchedUs) expect({ i, chunksInOrder: false }).toBe(true);
          let scratch = 0;
          for (const book of table) {
            scratch += book.scratchLevels;
            const idleScratch = (book.asmSeq < 0 && book.pendBidPx.length + book.pendAskPx.length > 0) || (book.snapSeq < 0 && book.snapBidPx.length + book.snapAskPx.length > 0);
            // Exactly the assemblies under way on their lists; idle scratch always on the idle list.
            const got = { i, id: book.instrumentId, parts: parts.includes(book), chunks: chunks.includes(book), idle: idleScratch && idle.includes(book) };
            const want = { i, id: book.instrumentId, parts: book.asmSeq >= 0, chunks: book.snapSeq >= 0, idle: idleScratch };
            if (got.parts !== want.parts || got.chunks !== want.chunks || got.idle !== want.idle) expect(got).toEqual(want);
          }
          if (sub.assemblyScratchLevels !== scratch * 2) expect({ i, used: sub.assemblyScratchLevels }).toEqual({ i, used: scratch * 2 });
          for (const book of evicted) {
            const links = [detached(book.idleLink, budget.idle), detached(book.asmLink, budget.parts), detached(book.snapLink, budget.chunks)];
            if (!links.every((x) => x) || book.scratchLevels !== 0) expect({ i, evicted: book.instrumentId, links, scratch: book.scratchLevels }).toEqual({ i, evicted: book.instrumentId, links: [true, true, true], scratch: 0 });
          }
        }
      }
      const n = sub.counters;
      expect([n.booksEvicted > 0, n.superseded > 0, n.exponentChanges > 0, n.assembliesExpired > 0, n.listenerErrors > 0]).toEqual([true, true, true, true, true]);
    });
  }
});
