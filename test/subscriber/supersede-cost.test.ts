/**
 * s-supersede: what a forged-session flood costs the subscriber. A LAN sender (no HMAC key) cycling session ids for
 * a real source id makes each datagram a new session of that source: its books are superseded (or its stream's
 * restarted), walking that source's books, not the book table. Passes over the table are counted, not timed.
 * Driven through ingest(): no sockets.
 */
import { describe, expect, it } from "vitest";
import { packBookSnapshot } from "../../src/wire/encoder.ts";
import type { FeedSubscriber } from "../../src/subscriber/index.ts";
import { makeInstrument, TestBook } from "../wire/helpers.ts";
import { ingestAll, newSubscriber, packer, T0, take } from "./feed-harness.ts";
import { passes } from "./map-passes.ts";

const inst = makeInstrument("bybit", "linear", "BTCUSDT", 1, 3);

function snap(p: ReturnType<typeof packer>, id: number, seq = 1): Uint8Array[] {
  const b = new TestBook({ ...inst, instrumentId: id });
  b.instrSeq = seq - 1; // load() advances it
  b.load([[100, 2]], [[101, 3]], seq, T0);
  packBookSnapshot(p, b, 0, false);
  return take(p);
}

// Each heartbeat its own send time: two are two datagrams (a copy of one counts once as session evidence).
let hbSendUs = T0;
function heartbeat(p: ReturnType<typeof packer>): Uint8Array[] {
  p.appendHeartbeat(0);
  return take(p, ++hbSendUs);
}

/** 200 books of source 1 (channel 7), 3 of source 2 (channel 8, ids 1000–1002), all usable. */
function twoSources(): { sub: FeedSubscriber; real: ReturnType<typeof packer> } {
  const sub = newSubscriber();
  const p1 = packer({ sourceId: 1, channelId: 7 });
  for (let id = 0; id < 200; id++) ingestAll(sub, snap(p1, id));
  const p2 = packer({ sourceId: 2, channelId: 8 });
  for (let id = 1000; id < 1003; id++) ingestAll(sub, snap(p2, id, 5));
  ingestAll(sub, heartbeat(p2)); // source 2's session confirmed (2 datagrams)
  expect(sub.books.size).toBe(203);
  for (const b of sub.books.values()) expect(b.usable).toBe(true);
  return { sub, real: p2 };
}

describe("a flood of forged sessions of one source", () => {
  for (const channelId of [8, 9]) {
    it(`walks that source's books, not the table (on ${channelId === 8 ? "its own stream: restarts" : "a new stream of it"})`, () => {
      const { sub, real } = twoSources();
      const order: number[] = [];
      sub.on("supersede", (e) => order.push(e.book.instrumentId));
      const flood: Uint8Array[] = [];
      for (let id = 100; id < 130; id++) flood.push(...heartbeat(packer({ sourceId: 2, channelId, sessionId: id })));
      const n = passes(sub.books, () => ingestAll(sub, flood));
      expect(n).toBeLessThan(3); // the old code: two per datagram on its stream (restart + supersede), one on a new one
      expect(sub.counters.superseded).toBe(3 * 30);
      expect(order.slice(0, 3)).toEqual([1000, 1001, 1002]); // in the table's order, as before
      for (let id = 1000; id < 1003; id++) {
        expect(sub.book(id)!.valid).toBe(false);
        expect(sub.book(id)!.sessionId).toBe(129);
      }
      for (let id = 0; id < 200; id++) expect(sub.book(id)!.usable).toBe(true); // the other source's untouched
      // Two datagrams of the real session prove the forged ones bogus: the books go back to it, invalid.
      ingestAll(sub, [...heartbeat(real), ...heartbeat(real)]);
      expect(sub.counters.sessionsReverted).toBe(1);
      for (let id = 1000; id < 1003; id++) {
        expect(sub.book(id)!.sessionId).toBe(11);
        expect(sub.book(id)!.valid).toBe(false);
      }
      ingestAll(sub, snap(real, 1000, 6));
      expect(sub.book(1000)!.usable).toBe(true);
    });
  }

  it("two forged sessions in a row, undone: the real session's highSeq comes back (an older refresh is refused)", () => {
    const { sub, real } = twoSources();
    for (const id of [100, 101]) ingestAll(sub, heartbeat(packer({ sourceId: 2, channelId: 8, sessionId: id })));
    ingestAll(sub, [...heartbeat(real), ...heartbeat(real)]);
    expect(sub.counters.sessionsReverted).toBe(1);
    expect(sub.book(1000)!.highSeq).toBe(5); // the old code: −1 (the second forged session's record replaced it)
    ingestAll(sub, snap(real, 1000, 4)); // a lagging channel's older refresh
    expect(sub.book(1000)!.usable).toBe(false);
    ingestAll(sub, snap(real, 1000, 6));
    expect(sub.book(1000)!.usable).toBe(true);
  });

  it("an evicted book and one moved to another source leave their source's list", () => {
    const sub = newSubscriber({ maxBooks: 3, staleAfterMs: 60_000 });
    const p1 = packer({ sourceId: 1, channelId: 7 });
    for (let id = 0; id < 3; id++) ingestAll(sub, snap(p1, id));
    ingestAll(sub, heartbeat(p1));
    // Book 0 taken by source 3's newer session (an instrument moving to another publisher process).
    const p3 = packer({ sourceId: 3, channelId: 5, sessionId: 50 });
    ingestAll(sub, snap(p3, 0, 9));
    expect(sub.book(0)!.sourceId).toBe(3);
    // A newer session of source 1 supersedes books 1 and 2 only.
    const superseded: number[] = [];
    sub.on("supersede", (e) => superseded.push(e.book.instrumentId));
    ingestAll(sub, heartbeat(packer({ sourceId: 1, channelId: 7, sessionId: 12 })));
    expect(superseded).toEqual([1, 2]);
    expect(sub.book(0)!.usable).toBe(true);
    // Source 1's streams silent, a new id evicts a book of it; the next supersede of source 1 skips it.
    sub.checkStale(Math.max(...sub.streamInfo().map((s) => s.lastRecvMs)) + 600_000);
    ingestAll(sub, heartbeat(p3)); // book 0's stream speaks: not evictable
    const p4 = packer({ sourceId: 4, channelId: 4 });
    ingestAll(sub, snap(p4, 77));
    expect(sub.counters.booksEvicted).toBe(1);
    superseded.length = 0;
    ingestAll(sub, heartbeat(packer({ sourceId: 1, channelId: 7, sessionId: 13 })));
    expect(sub.book(1)).toBeUndefined(); // evicted: its source's supersede no longer reaches it
    expect(superseded).toEqual([2]);
  });
});
