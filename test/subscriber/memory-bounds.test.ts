/**
 * s-subcap: what grows with the input in the subscriber, and its bound (docs/wire-protocol.md §6.9).
 * - Assembly scratch kept by books between their snapshots counted against maxAssemblyLevels for good: a publisher
 *   with 10,000 books (each keeping 64 levels a side) left every book past the ~7,800th without a snapshot, never
 *   usable. Idle scratch is taken back when an assembly is over the budget.
 * - An unfinished assembly (a part 1 of N, a snapshot's first chunk) whose rest never came held its scratch until
 *   its instrument's next event: for a forged or dead id for good, and enough of them refused every other book's
 *   snapshot (assemblyOverBudget). One untouched for STALE_ASSEMBLY_MS is dropped when the room is needed.
 * - Datagrams held behind a retransmission request were capped per stream (maxHeldDatagrams) only: 1024 streams
 *   could hold 8192 each (11 GB of 1400-byte datagrams). retransmit.maxHeldDatagramsTotal caps them all together:
 *   the request holding the most falls back (retransmitOverCap), its books invalid until their refresh.
 * - Guards (sound before, kept so): a sender cycling source ids or starting a new session every datagram or two
 *   grows the stream and source tables to maxStreams at most, and each source remembers 8 replaced sessions.
 * - Book levels were capped per book side (maxLevelsPerSide) only: maxBooks books could hold 131,070 levels each
 *   (over 20 GB at the defaults). maxBookLevels caps all books together: the book whose growth passes it is emptied
 *   and invalid (bookLevelsOverCap) until a snapshot that fits.
 */
import { describe, expect, it } from "vitest";
import { ChangeSet } from "../../src/core/change-set.ts";
import { packBookDelta, packBookSnapshot } from "../../src/wire/encoder.ts";
import { levelsOf, makeInstrument, TestBook } from "../wire/helpers.ts";
import { STALE_ASSEMBLY_MS } from "../../src/subscriber/instrument-books.ts";
import { ingestAll, newSubscriber, packer, T0, take } from "./feed-harness.ts";

const inst = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);

describe("assembly scratch kept between snapshots", () => {
  // At the defaults (10,000 books, 2,000,000 levels) the 7,813th book's snapshot was refused, each book keeping 256
  // levels (64 a side, price and qty); scaled down here: a budget of 100 books' worth, 300 books.
  it("every book takes its snapshot when all books' kept scratch together exceeds maxAssemblyLevels", () => {
    const sub = newSubscriber({ maxAssemblyLevels: 100 * 256 });
    const p = packer();
    for (let i = 0; i < 300; i++) {
      const b = new TestBook({ ...inst, instrumentId: 1000 + i });
      b.load([[10, 1]], [[20, 1]], 1, T0);
      packBookSnapshot(p, b, 0, false);
      ingestAll(sub, take(p));
    }
    let valid = 0;
    for (const b of sub.books.values()) if (b.valid) valid++;
    expect(sub.counters.assemblyOverBudget).toBe(0);
    expect(valid).toBe(300);
    expect(sub.assemblyScratchLevels).toBeLessThanOrEqual(100 * 256);
  });

  it("an assembly under way keeps its scratch: only idle books give theirs back", () => {
    const sub = newSubscriber({ maxAssemblyLevels: 4 * 256 });
    const p = packer();
    // Book 1: a two-chunk snapshot whose second chunk has not come (its scratch is in use).
    const big = new TestBook({ ...inst, instrumentId: 1 });
    const bids: [number, number][] = [];
    for (let k = 0; k < 120; k++) bids.push([10_000 - k, 1]);
    big.load(bids, [[20_000, 1]], 1, T0);
    const p2 = packer({ channelId: 2 }); // its own channel: the other books' datagrams leave its sequence alone
    packBookSnapshot(p2, big, 0, false);
    const chunks = take(p2);
    expect(chunks.length).toBeGreaterThan(1);
    ingestAll(sub, chunks.slice(0, 1));
    const held = sub.assemblyScratchLevels;
    expect(held).toBeGreaterThan(0);
    // Books 2..: one-chunk snapshots, each kept 256 levels of scratch before; they go on being taken.
    for (let i = 2; i < 12; i++) {
      const b = new TestBook({ ...inst, instrumentId: i });
      b.load([[10, 1]], [[20, 1]], 1, T0);
      packBookSnapshot(p, b, 0, false);
      ingestAll(sub, take(p));
      expect(sub.book(i)!.valid).toBe(true);
    }
    ingestAll(sub, chunks.slice(1));
    expect(sub.book(1)!.valid).toBe(true);
    expect(sub.counters.assemblyOverBudget).toBe(0);
    expect(sub.assemblyScratchLevels).toBeLessThanOrEqual(4 * 256);
  });
});

describe("assemblies whose rest never comes", () => {
  /** Chunk 0 only of a two-chunk snapshot of book `id` (its own channel: nothing else moves that channel's sequence). */
  function firstChunk(id: number): Uint8Array {
    const p = packer({ channelId: 100 + id });
    const b = new TestBook({ ...inst, instrumentId: id });
    const bids: [number, number][] = [];
    for (let k = 0; k < 120; k++) bids.push([10_000 - k, 1]);
    b.load(bids, [[20_000, 1]], 1, T0);
    packBookSnapshot(p, b, 0, false);
    const chunks = take(p);
    expect(chunks.length).toBe(2);
    return chunks[0]!;
  }
  function smallSnapshot(id: number): Uint8Array[] {
    const p = packer({ channelId: 100 + id });
    const b = new TestBook({ ...inst, instrumentId: id });
    b.load([[10, 1]], [[20, 1]], 1, T0);
    packBookSnapshot(p, b, 0, false);
    return take(p);
  }

  it("an assembly untouched for STALE_ASSEMBLY_MS gives its room to another; a recent one keeps it", () => {
    const sub = newSubscriber({ maxAssemblyLevels: 3 * 256 + 100 });
    for (const id of [1, 2, 3]) sub.ingest(firstChunk(id), T0);
    expect(sub.assemblyScratchLevels).toBe(3 * 256);
    // 1 s later the three are still under way: the new book's snapshot does not fit.
    for (const d of smallSnapshot(10)) sub.ingest(d, T0 + 1_000_000);
    expect(sub.counters.assemblyOverBudget).toBe(1);
    expect(sub.book(10)!.valid).toBe(false);
    // 10 s after their last chunk they are dead: dropped for the next one.
    for (const d of smallSnapshot(11)) sub.ingest(d, T0 + STALE_ASSEMBLY_MS * 1000);
    expect(sub.counters.assemblyOverBudget).toBe(1);
    expect(sub.counters.assembliesExpired).toBe(3);
    expect(sub.book(11)!.valid).toBe(true);
    expect(sub.assemblyScratchLevels).toBeLessThanOrEqual(3 * 256 + 100);
  });

  it("a split delta whose last part never came, dropped so, leaves its book invalid", () => {
    const sub = newSubscriber({ maxAssemblyLevels: 600 });
    const p = packer({ channelId: 1 });
    const b = new TestBook({ ...inst, instrumentId: 1 });
    b.load([[10, 1]], [[20, 1]], 1, T0);
    packBookSnapshot(p, b, 0, false);
    for (const d of take(p)) sub.ingest(d, T0);
    const cs = new ChangeSet();
    for (let k = 0; k < 150; k++) cs.addBid(5_000 - k, 1);
    b.apply(cs, b.venueSeq + 1, T0);
    packBookDelta(p, b, cs);
    const parts = take(p);
    expect(parts.length).toBeGreaterThan(1);
    sub.ingest(parts[0]!, T0); // the rest never comes
    expect(sub.book(1)!.usable).toBe(true);
    const other = packer({ channelId: 2 });
    const c = new TestBook({ ...inst, instrumentId: 2 });
    const bids: [number, number][] = [];
    for (let k = 0; k < 100; k++) bids.push([10_000 - k, 1]);
    c.load(bids, [[20_000, 1]], 1, T0);
    packBookSnapshot(other, c, 0, false);
    for (const d of take(other)) sub.ingest(d, T0 + STALE_ASSEMBLY_MS * 1000);
    expect(sub.counters.assembliesExpired).toBe(1);
    expect(sub.book(2)!.valid).toBe(true);
    expect(sub.book(1)!.valid).toBe(false);
    expect(sub.book(1)!.usable).toBe(false);
  });
});

describe("datagrams held behind retransmission requests", () => {
  /** A stream on its own channel with one book: snapshot and a delta (its line established), then a lost delta. */
  function gappedStream(channelId: number) {
    const p = packer({ channelId });
    const b = new TestBook({ ...inst, instrumentId: 100 + channelId });
    b.load([[10, 1]], [[20, 1]], 1, T0);
    packBookSnapshot(p, b, 0, false);
    const next = (): Uint8Array[] => {
      const cs = new ChangeSet();
      cs.addBid(10, b.venueSeq + 1);
      b.apply(cs, b.venueSeq + 1, T0);
      packBookDelta(p, b, cs);
      return take(p);
    };
    const start = [...take(p), ...next()];
    next(); // lost
    return { p, b, start, next };
  }

  it("all streams together hold at most maxHeldDatagramsTotal: the request holding the most falls back, its book invalid", () => {
    const sub = newSubscriber({ retransmit: { host: "127.0.0.1", port: 9, timeoutMs: 60_000, maxHeldDatagrams: 100, maxHeldDatagramsTotal: 150 } });
    const streams = [1, 2, 3].map(gappedStream);
    for (const s of streams) ingestAll(sub, s.start);
    let most = 0;
    for (const [i, s] of streams.entries()) {
      for (let k = 0; k < (i === 0 ? 90 : 40); k++) {
        ingestAll(sub, s.next());
        most = Math.max(most, sub.heldDatagrams);
      }
    }
    expect(sub.counters.retransmitRequests).toBe(3);
    expect(most).toBe(150);
    expect(sub.counters.retransmitOverCap).toBe(1);
    expect(sub.counters.retransmitFallbacks).toBe(1);
    // Stream 1 held the most (90): it fell back, its datagrams applied after the gap, its book invalid (not usable).
    const b1 = sub.book(101)!;
    expect(b1.valid).toBe(false);
    expect(b1.usable).toBe(false);
    expect(sub.retransmitsPending).toBe(2);
    expect(sub.heldDatagrams).toBe(80);
    // The others still wait for their answer: held, not usable.
    expect(sub.book(102)!.usable).toBe(false);
    // Stream 1's refresh repairs it.
    const s1 = streams[0]!;
    packBookSnapshot(s1.p, s1.b, 0, true);
    ingestAll(sub, take(s1.p));
    expect(b1.usable).toBe(true);
    expect(levelsOf(b1)).toEqual(levelsOf(s1.b));
  });

  it("one stream over maxHeldDatagrams falls back alone, counted in retransmitOverCap", () => {
    const sub = newSubscriber({ retransmit: { host: "127.0.0.1", port: 9, timeoutMs: 60_000, maxHeldDatagrams: 20 } });
    const s = gappedStream(1);
    ingestAll(sub, s.start);
    for (let k = 0; k < 21; k++) ingestAll(sub, s.next());
    expect(sub.counters.retransmitOverCap).toBe(1);
    expect(sub.counters.retransmitFallbacks).toBe(1);
    expect(sub.heldDatagrams).toBe(0);
    expect(sub.book(101)!.valid).toBe(false);
  });
});

describe("levels in all books together", () => {
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

  it("books stop at maxBookLevels: the book whose snapshot or delta passes it is emptied and invalid, then refilled when it fits", () => {
    const sub = newSubscriber({ maxBookLevels: 1000 });
    const p = packer();
    const books = [1, 2, 3].map((i) => deepBook(i, 200)); // 400 levels each
    for (const b of books) packBookSnapshot(p, b, 0, false);
    ingestAll(sub, take(p));
    expect(sub.bookLevels).toBe(800);
    expect(sub.counters.bookLevelsOverCap).toBe(1);
    const third = sub.book(3)!;
    expect(third.valid).toBe(false);
    expect(third.usable).toBe(false);
    expect(third.bidCount + third.askCount).toBe(0);
    expect(sub.book(1)!.usable).toBe(true);
    // A delta growing book 2 past the cap: book 2 is emptied, invalid.
    const b2 = books[1]!;
    const cs = new ChangeSet();
    for (let k = 0; k < 250; k++) cs.addBid(50_000 - k, 1);
    b2.apply(cs, b2.venueSeq + 1, T0);
    packBookDelta(p, b2, cs);
    ingestAll(sub, take(p));
    expect(sub.counters.bookLevelsOverCap).toBe(2);
    expect(sub.book(2)!.valid).toBe(false);
    expect(sub.bookLevels).toBe(400);
    // Room again: book 3's refresh loads it, exact and usable.
    packBookSnapshot(p, books[2]!, 0, true);
    ingestAll(sub, take(p));
    expect(third.usable).toBe(true);
    expect(levelsOf(third)).toEqual(levelsOf(books[2]!));
    expect(sub.bookLevels).toBe(800);
  });

  it("levels removed by deltas are given back to the count", () => {
    const sub = newSubscriber({ maxBookLevels: 1000 });
    const p = packer();
    const b = deepBook(1, 200);
    packBookSnapshot(p, b, 0, false);
    ingestAll(sub, take(p));
    const cs = new ChangeSet();
    for (let k = 0; k < 50; k++) cs.addBid(100_000 - k, 0);
    b.apply(cs, b.venueSeq + 1, T0);
    packBookDelta(p, b, cs);
    ingestAll(sub, take(p));
    expect(sub.bookLevels).toBe(350);
    const sb = sub.book(1)!;
    let n = 0;
    for (const x of sub.books.values()) n += x.bidCount + x.askCount;
    expect(sub.bookLevels).toBe(n);
    expect(sb.usable).toBe(true);
  });
});

describe("stream and session tables under a sender cycling ids", () => {
  interface Tables {
    streamTable: { streams: Map<number, unknown>; sources: Map<number, { left: { size: number } }> };
  }
  const tables = (sub: object) => (sub as unknown as Tables).streamTable;

  it("300 source ids: at most maxStreams streams and sources, the rest dropped and counted", () => {
    const sub = newSubscriber({ maxStreams: 64 });
    for (let src = 0; src < 300; src++) {
      const p = packer({ sourceId: src });
      p.appendHeartbeat(0);
      ingestAll(sub, take(p));
    }
    expect(tables(sub).streams.size).toBe(64);
    expect(tables(sub).sources.size).toBe(64);
    expect(sub.counters.streamsOverCap).toBe(300 - 64);
  });

  it("a new session every two datagrams (each confirmed) on one stream: one stream, 8 replaced sessions remembered", () => {
    const sub = newSubscriber();
    for (let s = 1; s <= 100; s++) {
      const p = packer({ sessionId: s, sessionStartUs: T0 + s });
      p.appendHeartbeat(0);
      p.appendHeartbeat(0);
      const [a] = take(p);
      p.appendHeartbeat(0);
      const [b] = take(p);
      ingestAll(sub, [a!, b!]);
    }
    expect(sub.counters.sessionsReverted).toBe(0);
    expect(tables(sub).streams.size).toBe(1);
    expect(sub.streamInfo()[0]!.sessionId).toBe(100);
    expect(tables(sub).sources.get(0)!.left.size).toBe(8);
  });
});
