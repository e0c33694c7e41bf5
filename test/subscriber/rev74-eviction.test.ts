/**
 * s-rev74: second read of s-r3b (full stream/book tables evict the entry silent longest). What "silent" must mean
 * for a table to give a stream up (never one still sending: a long heartbeat interval, a subscriber paused by its
 * user; never "never" for a stream claiming no heartbeats), what an eviction must keep (the source's left-behind
 * sessions) and release (its retransmission request), and what a flood at the cap may cost (no scan per datagram).
 * Driven through ingest(), checkStale(nowMs) and checkRecovery(nowMs): no sockets, no timers of consequence.
 */
import { describe, expect, it } from "vitest";
import { packBookSnapshot } from "../../src/wire/encoder.ts";
import { decodeDatagram } from "../../src/wire/decode-objects.ts";
import { rng, TestBook } from "../wire/helpers.ts";
import { inst, lastRecvMs, snap, STALE_MS } from "./eviction-rig.ts";
import { ingestAll, newSubscriber, packer, T0, take } from "./feed-harness.ts";
import { passes } from "./map-passes.ts";

const book = new TestBook({ ...inst, instrumentId: 1 });
book.load([[100, 2]], [[101, 3]], 1, T0);

describe("a stream still sending is never evicted", () => {
  it("one claiming heartbeat interval 0 (none) or more than a publisher may use is evictable after 3 × 60 s of silence, not never", () => {
    for (const hb of [0, 65_535]) {
      const sub = newSubscriber({ maxStreams: 4, staleAfterMs: undefined });
      for (let src = 0; src < 4; src++) ingestAll(sub, snap(packer({ sourceId: src, channelId: 7, heartbeatIntervalMs: hb }), -1));
      const last = lastRecvMs(sub);
      sub.checkStale(last + 179_000); // within the longest silence a real publisher's stream may keep: kept
      ingestAll(sub, snap(packer({ sourceId: 50, channelId: 1 }), -1));
      expect(sub.counters.streamsEvicted).toBe(0);
      expect(sub.counters.streamsOverCap).toBe(1);
      sub.checkStale(last + 180_000);
      ingestAll(sub, snap(packer({ sourceId: 51, channelId: 1 }), -1));
      expect(sub.counters.streamsEvicted).toBe(1);
      expect(sub.streamInfo().some((s) => s.sourceId === 51)).toBe(true);
    }
  });

  it("one whose heartbeat interval is longer than staleAfterMs is stale between heartbeats but kept until 3 intervals pass", () => {
    const sub = newSubscriber({ maxStreams: 1, staleAfterMs: 5_000 });
    ingestAll(sub, snap(packer({ sourceId: 1, channelId: 7, heartbeatIntervalMs: 30_000 }), 1));
    const last = lastRecvMs(sub);
    sub.checkStale(last + 10_000);
    expect(sub.book(1)!.stale).toBe(true); // the user's limit: not usable
    ingestAll(sub, snap(packer({ sourceId: 50, channelId: 1 }), -1));
    expect(sub.counters.streamsEvicted).toBe(0); // but its next heartbeat is not due yet: still there
    expect(sub.book(1)).toBeDefined();
    sub.checkStale(last + 90_000);
    ingestAll(sub, snap(packer({ sourceId: 51, channelId: 1 }), -1));
    expect(sub.counters.streamsEvicted).toBe(1);
  });

  it("a subscriber stopped and started again counts silence from its start, not through its own pause", async () => {
    const sub = newSubscriber({ maxStreams: 1, staleAfterMs: STALE_MS });
    ingestAll(sub, snap(packer({ sourceId: 1, channelId: 7 }), 1));
    const last = lastRecvMs(sub);
    sub.checkStale(last + STALE_MS); // silent already before the pause: it may have spoken during it
    await sub.stop();
    await sub.start(); // no groups: binds nothing
    try {
      const startedMs = performance.timeOrigin + performance.now();
      sub.checkStale(last + STALE_MS); // the pause is no silence of the stream: it has had no chance to speak
      ingestAll(sub, snap(packer({ sourceId: 50, channelId: 1 }), -1));
      expect(sub.counters.streamsEvicted).toBe(0);
      sub.checkStale(startedMs + STALE_MS);
      ingestAll(sub, snap(packer({ sourceId: 51, channelId: 1 }), -1));
      expect(sub.counters.streamsEvicted).toBe(1);
    } finally {
      await sub.stop();
    }
  });
});

describe("what a stream's eviction keeps and releases", () => {
  it("its source still remembers the sessions it left behind: a dead run's late snapshot makes no usable book", () => {
    const sub = newSubscriber({ maxStreams: 1, staleAfterMs: STALE_MS });
    const dead = packer({ sourceId: 50, channelId: 1, sessionId: 3, sessionStartUs: T0 + 1000 });
    ingestAll(sub, [...snap(dead, 1), ...snap(dead, -1)]); // its session confirmed
    const late = snap(dead, 1, true); // sent by the dead run, arriving long after
    const run = packer({ sourceId: 50, channelId: 1, sessionId: 4, sessionStartUs: T0 + 2000 });
    ingestAll(sub, [...snap(run, -1), ...snap(run, -1)]); // the restart, confirmed: session 3 left behind
    sub.checkStale(lastRecvMs(sub) + 10 * STALE_MS);
    ingestAll(sub, snap(packer({ sourceId: 60, channelId: 2 }), -1)); // takes the silent stream's place
    expect(sub.counters.streamsEvicted).toBe(1);
    sub.checkStale(lastRecvMs(sub) + 10 * STALE_MS); // that one silent too: the table has room for anyone
    ingestAll(sub, late);
    expect(sub.book(1)?.usable ?? false).toBe(false);
    expect(sub.counters.oldSessionDatagrams).toBe(1);
    expect(sub.counters.streamsEvicted).toBe(1); // dropped, it took no silent stream's place either
  });

  it("its retransmission request ends with it: the held datagrams are released, never replayed later", () => {
    const sub = newSubscriber({ maxStreams: 1, staleAfterMs: STALE_MS, retransmit: { host: "127.0.0.1", port: 9, timeoutMs: 3_600_000 } });
    const p = packer({ sourceId: 1, channelId: 7 });
    ingestAll(sub, [...snap(p, 1), ...snap(p, 1, true), ...snap(p, 1, true)]); // the line established
    snap(p, 1, true); // lost
    ingestAll(sub, snap(p, 1, true)); // the gap: asked for, this one held
    expect(sub.retransmitsPending).toBe(1);
    expect(sub.heldDatagrams).toBe(1);
    sub.checkStale(lastRecvMs(sub) + 10 * STALE_MS);
    ingestAll(sub, snap(packer({ sourceId: 50, channelId: 1 }), -1));
    expect(sub.counters.streamsEvicted).toBe(1);
    expect(sub.retransmitsPending).toBe(0);
    expect(sub.heldDatagrams).toBe(0);
    sub.checkRecovery(lastRecvMs(sub) + 7_200_000);
    expect(sub.streamInfo().map((s) => s.sourceId)).toEqual([50]);
    expect(sub.book(1)).toBeUndefined();
  });

  it("its line is remembered: a late copy of its own session's datagrams makes no stream and no book; a resumption does", () => {
    const sub = newSubscriber({ maxStreams: 1, staleAfterMs: STALE_MS });
    const p = packer({ sourceId: 1, channelId: 7 });
    const first = snap(p, 1);
    const hb = snap(p, -1);
    ingestAll(sub, [...first, ...hb, ...snap(p, -1)]);
    const sessions: string[] = [];
    sub.on("session", (e) => sessions.push(`${e.kind} ${e.sourceId}`));
    sub.checkStale(lastRecvMs(sub) + 10 * STALE_MS);
    ingestAll(sub, snap(packer({ sourceId: 50, channelId: 1 }), -1)); // takes the silent stream's place
    sub.checkStale(lastRecvMs(sub) + 10 * STALE_MS); // that one silent too: the table has room for anyone
    ingestAll(sub, first); // a delayed copy of what it had brought
    // Before: a new stream of source 1 (source 50's evicted for it), its book 1 usable with that old snapshot.
    expect(sub.book(1)).toBeUndefined();
    expect(sub.streamInfo().map((s) => s.sourceId)).toEqual([50]);
    expect(sub.counters.duplicates).toBe(1);
    // A heartbeat at the line's next seq is as good as a fresh one: the stream again, its line where it stood.
    ingestAll(sub, [...hb, ...first]);
    expect(sub.book(1)).toBeUndefined();
    expect(sub.counters.duplicates).toBe(2);
    expect(sessions).toEqual(["evicted 1", "new 50", "evicted 50", "new 1"]);
    ingestAll(sub, snap(p, 1, true)); // the publisher itself: taken
    expect(sub.book(1)!.usable).toBe(true);
    expect(sub.counters.gaps).toBe(0);
  });

  it("with a jump pending on its line, a late copy from before the jump still makes no stream; the datagram the jump skipped does", () => {
    const sub = newSubscriber({ maxStreams: 1, staleAfterMs: STALE_MS });
    const p = packer({ sourceId: 1, channelId: 7 });
    const first = snap(p, 1);
    ingestAll(sub, [...first, ...snap(p, -1)]); // the line established
    const skipped = snap(p, 1); // lost: the next one is a jump, the line from before it pending (§6.3)
    ingestAll(sub, snap(p, 1, true));
    expect(sub.counters.gaps).toBe(1);
    const sessions: string[] = [];
    sub.on("session", (e) => sessions.push(`${e.kind} ${e.sourceId}`));
    sub.checkStale(lastRecvMs(sub) + 10 * STALE_MS);
    ingestAll(sub, snap(packer({ sourceId: 50, channelId: 1 }), -1)); // takes the silent stream's place
    sub.checkStale(lastRecvMs(sub) + 10 * STALE_MS);
    ingestAll(sub, first); // a delayed copy of what it had brought, before the jump
    // Before: the stream made again (source 50's evicted for it), then the copy dropped there as a duplicate.
    expect(sessions).toEqual(["evicted 1", "new 50"]);
    expect(sub.counters.duplicates).toBe(1);
    ingestAll(sub, skipped); // the line from before the jump continued: the stream again, as had it stayed
    expect(sessions).toEqual(["evicted 1", "new 50", "evicted 50", "new 1"]);
    expect(sub.counters.lateDatagrams).toBe(1);
  });

  it("randomized: its line drops what the stream, had it stayed, would drop as a duplicate, and nothing else", () => {
    // The reference: a second subscriber fed the same datagrams, whose table never evicts the stream. Lines of every
    // kind at the eviction: established, a jump pending (loss, reorder), unproven (one datagram), evidence under way.
    type Line = { nextSeq: number; altNext: number; altCount: number; lineFrom: number };
    const lineOf = (sub: ReturnType<typeof newSubscriber>): Line | undefined => {
      const st = (sub as unknown as { streams: Map<number, Line> }).streams.get(7 * 65536 + 1);
      return st && { nextSeq: st.nextSeq, altNext: st.altNext, altCount: st.altCount, lineFrom: st.lineFrom };
    };
    const r = rng(0x74);
    let resumed = 0;
    let dropped = 0;
    for (let round = 0; round < 150; round++) {
      const evicting = newSubscriber({ maxStreams: 1, staleAfterMs: STALE_MS });
      const stayed = newSubscriber({ staleAfterMs: STALE_MS });
      const p = packer({ sourceId: 1, channelId: 7 });
      const history: Uint8Array[] = [];
      for (let i = 0; i < 12; i++) {
        const k = r();
        if (k < 0.3) p.appendHeartbeat(0);
        for (let m = k < 0.3 ? 0 : k < 0.8 ? 1 : 2; m > 0; m--) packBookSnapshot(p, book, 0, false); // 2: one datagram
        history.push(...take(p));
      }
      const pick = () => history[Math.floor(r() * history.length)]!;
      for (let n = 1 + Math.floor(r() * 6); n > 0; n--) {
        const d = pick();
        ingestAll(evicting, [d]);
        ingestAll(stayed, [d]);
      }
      const ctx = `round ${round}`;
      evicting.checkStale(lastRecvMs(evicting) + 10 * STALE_MS);
      ingestAll(evicting, snap(packer({ sourceId: 50, channelId: 1 }), -1)); // takes its place
      evicting.checkStale(lastRecvMs(evicting) + 10 * STALE_MS); // room again
      expect(lineOf(evicting), ctx).toBeUndefined();
      for (let n = 0; n < 4 && lineOf(evicting) === undefined; n++) {
        const d = pick();
        const before = lineOf(stayed)!;
        const dups = stayed.counters.duplicates;
        ingestAll(evicting, [d]);
        ingestAll(stayed, [d]);
        const after = lineOf(stayed)!;
        const h = decodeDatagram(d);
        if (!h.ok) throw h.error;
        const behind = h.packet.msgCount > 0 ? stayed.counters.duplicates > dups : h.packet.seqNum < before.nextSeq;
        if (behind && JSON.stringify(after) === JSON.stringify(before)) {
          dropped++;
          expect(lineOf(evicting), `${ctx}: a copy the stream would have dropped made it again`).toBeUndefined();
        } else {
          resumed++;
          expect(lineOf(evicting), `${ctx}: the stream not made again where it stood`).toEqual(after);
        }
      }
      expect(evicting.counters.duplicates, ctx).toBe(stayed.counters.duplicates);
    }
    expect([resumed > 30, dropped > 30], `resumed ${resumed}, dropped ${dropped}`).toEqual([true, true]); // both ways exercised
  });

  it("an evicted book made again by its stream is usable only after a fresh snapshot", () => {
    const sub = newSubscriber({ maxBooks: 2, staleAfterMs: STALE_MS });
    const p = packer({ sourceId: 1, channelId: 7 });
    ingestAll(sub, [...snap(p, 1), ...snap(p, 2)]);
    sub.checkStale(lastRecvMs(sub) + 10 * STALE_MS);
    const q = packer({ sourceId: 2, channelId: 8 });
    ingestAll(sub, snap(q, 3)); // book 1 gives way
    expect(sub.counters.booksEvicted).toBe(1);
    const gone = sub.book(1) === undefined ? 1 : 2;
    expect(sub.book(gone)).toBeUndefined();
    ingestAll(sub, snap(p, -1)); // its stream speaks again: a heartbeat brings nothing of the book
    expect(sub.book(gone)).toBeUndefined();
    sub.checkStale(lastRecvMs(sub) + 10 * STALE_MS);
    ingestAll(sub, snap(p, gone, true));
    expect(sub.book(gone)!.usable).toBe(true); // the snapshot it needs
  });
});

describe("a flood of new ids at a full table", () => {
  it("new instrument ids evicting silent books do not scan the book table per datagram", () => {
    const sub = newSubscriber({ maxBooks: 40, staleAfterMs: STALE_MS });
    const old = packer({ sourceId: 1, channelId: 7 });
    for (let id = 0; id < 40; id++) ingestAll(sub, snap(old, id));
    sub.checkStale(lastRecvMs(sub) + 10 * STALE_MS);
    const flood = packer({ sourceId: 2, channelId: 8 });
    const datagrams: Uint8Array[] = [];
    for (let id = 1000; id < 1030; id++) datagrams.push(...snap(flood, id));
    const n = passes(sub.books, () => ingestAll(sub, datagrams));
    expect(sub.counters.booksEvicted).toBe(30);
    expect(n).toBeLessThan(10);
    let levels = 0;
    let scratch = 0;
    for (const b of sub.books.values()) {
      levels += b.bidCount + b.askCount;
      scratch += b.scratchLevels * 2;
    }
    expect(sub.bookLevels).toBe(levels); // what the evicted books held is given back exactly
    expect(sub.assemblyScratchLevels).toBe(scratch);
  });

  it("new streams evicting silent ones do not scan the stream or book table per datagram", () => {
    const sub = newSubscriber({ maxStreams: 40, staleAfterMs: STALE_MS });
    for (let src = 0; src < 40; src++) ingestAll(sub, snap(packer({ sourceId: src, channelId: 7 }), src % 2 === 0 ? src : -1)); // odd: no book
    sub.checkStale(lastRecvMs(sub) + 10 * STALE_MS);
    const datagrams: Uint8Array[] = [];
    for (let src = 1000; src < 1030; src++) datagrams.push(...snap(packer({ sourceId: src, channelId: 8 }), src));
    const streams = (sub as unknown as { streams: Map<number, unknown> }).streams;
    let n = 0;
    n += passes(sub.books, () => (n += passes(streams, () => ingestAll(sub, datagrams))));
    expect(sub.counters.streamsEvicted).toBe(30);
    expect(sub.counters.booksEvicted).toBe(15);
    expect(n).toBeLessThan(10);
  });
});
