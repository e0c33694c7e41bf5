/**
 * s-r3b: full stream and book tables under a flood of forged ids (no HMAC key). Bounded since s-subcap, but once
 * full nothing left them: streams and books forged once locked out a restarted publisher's new stream and a new
 * instrument for good. Now the one silent longest (judged by the stale check, on the clock it is given) makes room;
 * a table of live entries still refuses. Driven through ingest() and checkStale(nowMs): no sockets, no timers.
 */
import { describe, expect, it } from "vitest";
import { packBookSnapshot } from "../../src/wire/encoder.ts";
import type { EvictEvent, FeedSubscriber, SessionEvent } from "../../src/subscriber/index.ts";
import { levelsOf, makeInstrument, TestBook } from "../wire/helpers.ts";
import { ingestAll, newSubscriber, packer, T0, take } from "./feed-harness.ts";

const inst = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);
const STALE_MS = 60_000;

/** A forged stream (its own source id) sending one heartbeat, or a snapshot of each of `ids`. */
// Each call's datagrams their own send time: a stream speaking again sends a new heartbeat, not a copy of its last.
let forgedSendUs = T0;

function forged(sub: FeedSubscriber, sourceId: number, ids: number[] = []): void {
  const p = packer({ sourceId, channelId: 7, sessionId: 900 + sourceId });
  if (ids.length === 0) p.appendHeartbeat(0);
  for (const id of ids) {
    const b = new TestBook({ ...inst, instrumentId: id });
    b.load([[10, 1]], [[20, 1]], 1, T0);
    packBookSnapshot(p, b, 0, false);
  }
  ingestAll(sub, take(p, ++forgedSendUs));
}

/** The latest receive time of any stream: checkStale past it by STALE_MS finds every stream silent. */
function lastRecvMs(sub: FeedSubscriber): number {
  return Math.max(...sub.streamInfo().map((s) => s.lastRecvMs));
}

/** A real publisher's stream (source 50, a new session) with one book. */
function realBook(id: number) {
  const p = packer({ sourceId: 50, channelId: 1, sessionId: 3, sessionStartUs: T0 + 1000 });
  const b = new TestBook({ ...inst, instrumentId: id });
  b.load([[100, 2], [99, 1]], [[101, 3]], 1, T0);
  packBookSnapshot(p, b, 0, false);
  return { p, b, datagrams: take(p) };
}

describe("stream table full of forged streams", () => {
  it("once they are silent past the stale limit, a real publisher's new stream is taken and its books become usable", () => {
    const sub = newSubscriber({ maxStreams: 16, staleAfterMs: STALE_MS });
    const sessions: SessionEvent[] = [];
    const evicted: EvictEvent[] = [];
    sub.on("session", (e) => sessions.push(e));
    sub.on("evict", (e) => evicted.push(e));
    for (let src = 0; src < 16; src++) forged(sub, src, [1000 + src]);
    expect(sub.streamInfo().length).toBe(16);
    const forgedBook = sub.book(1000)!;
    expect(forgedBook.usable).toBe(true);
    sub.checkStale(lastRecvMs(sub) + STALE_MS); // the flood stopped: every forged stream silent
    const real = realBook(1);
    ingestAll(sub, real.datagrams);
    expect(sub.counters.streamsOverCap).toBe(0);
    expect(sub.counters.streamsEvicted).toBe(1);
    const book = sub.book(1)!;
    expect(book.usable).toBe(true);
    expect(levelsOf(book)).toEqual(levelsOf(real.b));
    expect(sub.streamInfo().length).toBe(16);
    expect(sub.streamInfo().some((s) => s.sourceId === 50)).toBe(true);
    // The one evicted took its books along: told, out of the table, never usable again.
    const gone = sessions.filter((e) => e.kind === "evicted");
    expect(gone.length).toBe(1);
    expect(evicted.length).toBe(1);
    expect(evicted[0]!.sourceId).toBe(gone[0]!.sourceId);
    const victim = evicted[0]!.book;
    expect(sub.book(victim.instrumentId)).toBeUndefined();
    expect(victim.usable).toBe(false);
    expect(victim.valid).toBe(false);
    expect(victim.bidCount + victim.askCount).toBe(0);
    expect(sub.counters.booksEvicted).toBe(1);
    let levels = 0;
    for (const b of sub.books.values()) levels += b.bidCount + b.askCount;
    expect(sub.bookLevels).toBe(levels);
  });

  it("an evicted stream's book with a snapshot under way gives its scratch back", () => {
    const sub = newSubscriber({ maxStreams: 4, staleAfterMs: STALE_MS });
    for (let src = 0; src < 4; src++) {
      const p = packer({ sourceId: src, channelId: 7, sessionId: 900 + src });
      const b = new TestBook({ ...inst, instrumentId: 2000 + src });
      const bids: [number, number][] = [];
      for (let k = 0; k < 120; k++) bids.push([10_000 - k, 1]);
      b.load(bids, [[20_000, 1]], 1, T0);
      packBookSnapshot(p, b, 0, false);
      const chunks = take(p);
      expect(chunks.length).toBe(2);
      ingestAll(sub, chunks.slice(0, 1)); // the rest never comes
    }
    const held = sub.assemblyScratchLevels;
    expect(held).toBeGreaterThan(0);
    sub.checkStale(lastRecvMs(sub) + STALE_MS);
    ingestAll(sub, realBook(1).datagrams);
    expect(sub.counters.streamsEvicted).toBe(1);
    expect(sub.counters.booksEvicted).toBe(1);
    expect(sub.books.size).toBe(4);
    expect(sub.book(1)!.usable).toBe(true);
    expect(sub.assemblyScratchLevels).toBeLessThan(held + 1); // the new book's scratch replaced at most what was given back
    let scratch = 0;
    for (const b of sub.books.values()) scratch += b.scratchLevels * 2;
    expect(sub.assemblyScratchLevels).toBe(scratch);
  });

  it("a table full of live streams still refuses a new one; only silent ones are evicted", () => {
    const sub = newSubscriber({ maxStreams: 8, staleAfterMs: STALE_MS });
    for (let src = 0; src < 8; src++) forged(sub, src);
    sub.checkStale(lastRecvMs(sub) + 1); // none silent yet
    forged(sub, 100);
    expect(sub.counters.streamsOverCap).toBe(1);
    expect(sub.counters.streamsEvicted).toBe(0);
    // All silent, then 5 of them speak again: live. Three new streams take the three silent ones' places.
    sub.checkStale(lastRecvMs(sub) + STALE_MS);
    for (let src = 0; src < 5; src++) forged(sub, src);
    for (let src = 101; src < 105; src++) forged(sub, src);
    expect(sub.counters.streamsEvicted).toBe(3);
    expect(sub.counters.streamsOverCap).toBe(2);
    const sources = sub.streamInfo().map((s) => s.sourceId).sort((a, b) => a - b);
    expect(sources).toEqual([0, 1, 2, 3, 4, 101, 102, 103]);
  });

  it("without stale detection (staleAfterMs 0) nothing is ever evicted", () => {
    const sub = newSubscriber({ maxStreams: 4, staleAfterMs: 0 });
    for (let src = 0; src < 4; src++) forged(sub, src);
    sub.checkStale(lastRecvMs(sub) + 10 * STALE_MS);
    forged(sub, 100);
    expect(sub.counters.streamsOverCap).toBe(1);
    expect(sub.counters.streamsEvicted).toBe(0);
  });
});

describe("book table full of forged ids", () => {
  it("once their stream is silent, a real publisher's new instrument takes a forged one's place and becomes usable", () => {
    const sub = newSubscriber({ maxBooks: 20, staleAfterMs: STALE_MS });
    const ids: number[] = [];
    for (let i = 0; i < 20; i++) ids.push(5000 + i);
    forged(sub, 9, ids);
    expect(sub.books.size).toBe(20);
    const real = realBook(1);
    // The forged stream still live: the new instrument is refused.
    ingestAll(sub, real.datagrams);
    expect(sub.book(1)).toBeUndefined();
    expect(sub.counters.booksOverCap).toBe(1);
    // The forged stream silent (the real one too, then it speaks again): its books make room, one per new id.
    sub.checkStale(lastRecvMs(sub) + STALE_MS);
    const evicted: EvictEvent[] = [];
    sub.on("evict", (e) => evicted.push(e));
    packBookSnapshot(real.p, real.b, 0, true);
    ingestAll(sub, take(real.p));
    const book = sub.book(1)!;
    expect(book.usable).toBe(true);
    expect(levelsOf(book)).toEqual(levelsOf(real.b));
    expect(sub.counters.booksEvicted).toBe(1);
    expect(evicted.length).toBe(1);
    expect(evicted[0]!.sourceId).toBe(9);
    expect(evicted[0]!.book.usable).toBe(false);
    expect(sub.books.size).toBe(20);
    expect(sub.counters.streamsEvicted).toBe(0); // the stream table was not full
  });
});
