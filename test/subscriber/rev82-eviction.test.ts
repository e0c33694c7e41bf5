/**
 * s-rev82: adversarial second read of s-rev74 (full stream/book tables: sources remembered after their last stream
 * left, silence, the evictable lists, Recovery.forget). Driven through ingest(), checkStale(nowMs) and
 * checkRecovery(nowMs): no sockets, no timers of consequence.
 */
import { describe, expect, it } from "vitest";
import { ChangeSet } from "../../src/core/change-set.ts";
import { EncodedDefinition, packBookDelta, packBookSnapshot, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import { markRetransmit } from "../../src/wire/retransmit.ts";
import type { FeedSubscriber } from "../../src/subscriber/index.ts";
import { IDLE_SOURCES } from "../../src/subscriber/streams.ts";
import { levelsOf, TestBook } from "../wire/helpers.ts";
import { flagged } from "./delta-feed.ts";
import { inst, lastRecvMs, snap, STALE_MS } from "./eviction-rig.ts";
import { ingestAll, newSubscriber, packer, T0, take } from "./feed-harness.ts";

/** The only stream (maxStreams 1) goes silent, and a new one of `sourceId` takes its place. */
function replaceWith(sub: FeedSubscriber, datagrams: Uint8Array[]): void {
  sub.checkStale(lastRecvMs(sub) + 10 * STALE_MS);
  ingestAll(sub, datagrams);
}

describe("sources remembered after their last stream left the table", () => {
  it("a source taken back from the oldest remembered one as the table evicts for it stays remembered", () => {
    const sub = newSubscriber({ maxStreams: 1, staleAfterMs: STALE_MS });
    const dead = packer({ sourceId: 50, channelId: 1, sessionId: 3, sessionStartUs: T0 + 1000 });
    ingestAll(sub, [...snap(dead, 1), ...snap(dead, -1)]); // its session confirmed
    const late = snap(dead, 1, true); // sent by the dead run, arriving long after
    const run = packer({ sourceId: 50, channelId: 1, sessionId: 4, sessionStartUs: T0 + 2000 });
    ingestAll(sub, [...snap(run, -1), ...snap(run, -1)]); // the restart, confirmed: session 3 left behind
    // Source 50 leaves the table and is the oldest of IDLE_SOURCES remembered ones.
    for (let src = 1000; src < 1000 + IDLE_SOURCES; src++) replaceWith(sub, snap(packer({ sourceId: src, channelId: 2 }), -1));
    expect(sub.counters.streamsEvicted).toBe(IDLE_SOURCES);
    // The live run speaks again: its stream takes the last one's place, whose source pushes out the oldest remembered.
    replaceWith(sub, snap(run, -1));
    expect(sub.streamInfo().map((s) => s.sourceId)).toEqual([50]);
    replaceWith(sub, snap(packer({ sourceId: 5000, channelId: 2 }), -1)); // it leaves again
    replaceWith(sub, late);
    expect(sub.book(1)?.usable ?? false).toBe(false);
    expect(sub.counters.oldSessionDatagrams).toBe(1); // the dead run's: still known as left behind
  });
});

describe("a retransmission answer of a stream with no request open", () => {
  const retransmit = { host: "127.0.0.1", port: 9, timeoutMs: 3_600_000 };
  const answer = (d: Uint8Array): Uint8Array => {
    const a = d.slice();
    markRetransmit(a, a.length, undefined);
    return a;
  };

  it("arriving after its stream was evicted makes it no stream again, at no other silent stream's cost", () => {
    const sub = newSubscriber({ maxStreams: 2, staleAfterMs: STALE_MS, retransmit });
    const p = packer({ sourceId: 1, channelId: 7 });
    ingestAll(sub, [...snap(p, 1), ...snap(p, 1, true), ...snap(p, 1, true)]); // the line established
    const lost = snap(p, 1, true);
    ingestAll(sub, snap(p, 1, true)); // the gap: asked for, this one held
    ingestAll(sub, snap(packer({ sourceId: 2, channelId: 8 }), 2)); // another stream, heard after it
    sub.checkStale(lastRecvMs(sub) + 10 * STALE_MS); // both silent
    ingestAll(sub, snap(packer({ sourceId: 50, channelId: 1 }), -1)); // takes the place of source 1's, silent longest
    expect(sub.counters.streamsEvicted).toBe(1);
    expect(sub.retransmitsPending).toBe(0);
    sub.ingest(answer(lost[0]!), T0 + 50); // the answer, late
    expect(sub.counters.retransmitRejected).toBe(1);
    expect(sub.counters.streamsEvicted).toBe(1); // before: source 2's stream gave way to it, and its book
    expect(sub.book(2)).toBeDefined();
    expect(sub.streamInfo().map((s) => s.sourceId).sort((a, b) => a - b)).toEqual([2, 50]);
  });

  it("of another session than its stream's, with a request open, moves no session (s-undo)", () => {
    const sub = newSubscriber({ staleAfterMs: STALE_MS, retransmit });
    const p = packer({ sourceId: 1, channelId: 7, sessionId: 2, sessionStartUs: T0 + 2000 });
    ingestAll(sub, [...snap(p, 1), ...snap(p, -1)]); // confirmed, the line established
    snap(p, 1, true); // lost
    ingestAll(sub, snap(p, 1, true)); // the gap: asked for
    sub.checkStale(lastRecvMs(sub) + 10 * STALE_MS); // the session over: an older one would pass for a restart
    const sessions: string[] = [];
    sub.on("session", (e) => sessions.push(e.kind));
    sub.ingest(answer(snap(packer({ sourceId: 1, channelId: 7, sessionId: 1, sessionStartUs: T0 + 1000 }), 1)[0]!), T0 + 50);
    // Before: the stream restarted on that session ('restarted'), its source's newest provisional on it.
    expect(sessions).toEqual([]);
    expect(sub.counters.retransmitRejected).toBe(1);
    expect(sub.streamInfo().map((s) => s.sessionId)).toEqual([2]);
    expect(sub.retransmitsPending).toBe(1);
  });

  it("of a session its source left behind since it was asked for is refused: it takes no book of the live run (s-undo)", () => {
    const sub = newSubscriber({ staleAfterMs: STALE_MS, retransmit });
    const dead = packer({ sourceId: 1, channelId: 7, sessionId: 2, sessionStartUs: T0 + 2000 });
    ingestAll(sub, [...snap(dead, 1), ...snap(dead, -1)]);
    const lost = snap(dead, 1, true);
    ingestAll(sub, snap(dead, -1)); // the gap: asked for
    sub.checkStale(lastRecvMs(sub) + 10 * STALE_MS);
    const live = packer({ sourceId: 1, channelId: 8, sessionId: 1, sessionStartUs: T0 + 1000 }); // its clock stepped back
    ingestAll(sub, [...snap(live, 1), ...snap(live, -1)]); // confirmed: the dead run left behind
    expect([sub.book(1)!.sessionId, sub.book(1)!.usable]).toEqual([1, true]);
    sub.ingest(answer(lost[0]!), T0 + 50);
    // Before: applied, the later-starting dead run's snapshot superseding the live run's book ([2, false]).
    expect([sub.book(1)!.sessionId, sub.book(1)!.usable, sub.counters.retransmitRejected]).toEqual([1, true, 1]);
  });

  it("taking books onto a stream still silent (the answer, the held datagrams after it) lists it again: they go with it (s-undo)", () => {
    const sub = newSubscriber({ maxStreams: 2, staleAfterMs: undefined, retransmit }); // heartbeat 0: never stale
    const stream = (sourceId: number) => packer({ sourceId, channelId: 6 + sourceId, heartbeatIntervalMs: 0 });
    const a = stream(1);
    ingestAll(sub, snap(stream(2), -1));
    ingestAll(sub, [...snap(a, 1), ...snap(a, -1)]); // the line established
    const lost = snap(a, 2);
    ingestAll(sub, snap(a, 3)); // the gap: asked for, this one held
    sub.checkStale(lastRecvMs(sub) + 10 * 180_000); // both silent (3 × 60 s for a claim of none)
    ingestAll(sub, snap(stream(3), -1)); // lists the silent streams and their books; source 2's, silent longest, goes
    sub.ingest(answer(lost[0]!), T0 + 50); // book 2 onto source 1's stream, then the held book 3: still silent
    expect([sub.book(2)?.usable, sub.book(3)?.usable]).toEqual([true, true]);
    ingestAll(sub, snap(stream(4), -1)); // source 1's stream goes, every book it carries with it
    // Before: only book 1 (the one listed) went; books 2 and 3 stayed usable with their stream gone.
    expect([1, 2, 3].map((id) => sub.book(id))).toEqual([undefined, undefined, undefined]);
    expect(sub.streamInfo().map((s) => s.sourceId)).toEqual([3, 4]);
  });

  it("of a stream never seen, with or without the retransmit option, makes no stream (no 'session' event)", () => {
    for (const opts of [{ retransmit }, {}]) {
      const sub = newSubscriber({ staleAfterMs: STALE_MS, ...opts });
      const sessions: string[] = [];
      sub.on("session", (e) => sessions.push(e.kind));
      sub.ingest(answer(snap(packer({ sourceId: 3, channelId: 9 }), 3)[0]!), T0 + 50);
      expect(sub.counters.retransmitRejected).toBe(1);
      expect(sub.streamInfo()).toEqual([]);
      expect(sessions).toEqual([]);
    }
  });
});

describe("datagrams held behind a retransmission request, replayed once the gap is filled", () => {
  it("received before a restart, they are no evidence against it: they do not undo a real restart's session", () => {
    const sub = newSubscriber({ staleAfterMs: STALE_MS, retransmit: { host: "127.0.0.1", port: 9, timeoutMs: 3_600_000 } });
    let recvUs = T0;
    const feed = (ds: Uint8Array[]) => {
      for (const d of ds) sub.ingest(d, (recvUs += 1000));
    };
    const run = (channelId: number, sessionId: number) => packer({ sourceId: 1, channelId, sessionId, sessionStartUs: T0 + 1000 * sessionId });
    const a1 = run(1, 1);
    const a2 = run(2, 1);
    feed([...snap(a1, 1), ...snap(a1, -1), ...snap(a2, 2), ...snap(a2, -1)]); // session 1 confirmed, both lines established
    const lost = snap(a2, 2, true);
    feed([...snap(a2, 2, true), ...snap(a2, 2, true)]); // the gap on channel 2: asked for, these two held
    expect([sub.retransmitsPending, sub.heldDatagrams]).toEqual([1, 2]);
    const b1 = run(1, 2); // the publisher restarts: session 2, provisional, its snapshot takes book 1
    feed(snap(b1, 1));
    const sb = sub.book(1)!;
    expect([sb.sessionId, sb.usable]).toEqual([2, true]);
    sub.ingest(flagged(lost[0]!), (recvUs += 1000)); // the gap filled: the two held datagrams of session 1 replayed
    // Before: they counted as two late datagrams of session 1 arriving after session 2, which proved session 2
    // bogus: undone (its stream gone, book 1 back on session 1, invalid until a refresh of a restart that was real).
    expect([sub.counters.sessionsReverted, sb.sessionId, sb.usable, sub.counters.retransmitRecovered]).toEqual([0, 2, true, 1]);
    expect(sub.streamInfo().map((s) => `${s.channelId}:${s.sessionId}:${s.nextSeq}`)).toEqual(["1:2:2", "2:1:5"]);
    feed(snap(b1, -1)); // its second datagram: confirmed
    feed(snap(run(2, 2), 2)); // channel 2 restarts too: book 2 the new session's
    expect([sb.usable, sub.book(2)!.sessionId, sub.book(2)!.usable, sub.counters.sessionsReverted]).toEqual([true, 2, true, 0]);
  });

  it("nor when the restart comes on the gap's own channel: its request ends, the held ones replayed after it are dropped", () => {
    const sub = newSubscriber({ staleAfterMs: STALE_MS, retransmit: { host: "127.0.0.1", port: 9, timeoutMs: 3_600_000 } });
    let recvUs = T0;
    const feed = (ds: Uint8Array[]) => {
      for (const d of ds) sub.ingest(d, (recvUs += 1000));
    };
    const run = (channelId: number, sessionId: number) => packer({ sourceId: 1, channelId, sessionId, sessionStartUs: T0 + 1000 * sessionId });
    const a1 = run(1, 1);
    const a2 = run(2, 1);
    feed([...snap(a1, 1), ...snap(a1, -1), ...snap(a2, 2), ...snap(a2, -1)]);
    snap(a2, 2, true); // lost
    feed([...snap(a2, 2, true), ...snap(a2, 2, true)]); // held
    feed(snap(run(2, 2), 2)); // the restart on channel 2: the request falls back, its snapshot takes book 2
    // Before: the held datagrams of session 1, replayed after it, proved session 2 bogus ([1, 1, false]).
    expect([sub.counters.sessionsReverted, sub.book(2)!.sessionId, sub.book(2)!.usable, sub.counters.retransmitFallbacks]).toEqual([0, 2, true, 1]);
    expect(sub.streamInfo().map((s) => `${s.channelId}:${s.sessionId}`)).toEqual(["1:1", "2:2"]);
  });
});

describe("a stream leaving the table when a bogus session is undone", () => {
  it("takes its retransmission request with it (nothing held, nothing replayed)", () => {
    const sub = newSubscriber({ staleAfterMs: STALE_MS, retransmit: { host: "127.0.0.1", port: 9, timeoutMs: 3_600_000 } });
    const x = packer({ sourceId: 1, channelId: 1, sessionId: 2, sessionStartUs: T0 + 2000 });
    ingestAll(sub, [...snap(x, 1), ...snap(x, -1)]); // session X confirmed, its line established
    snap(x, 1, true); // lost
    ingestAll(sub, snap(x, -1)); // the gap: asked for, this one held
    expect([sub.retransmitsPending, sub.heldDatagrams]).toEqual([1, 1]);
    sub.checkStale(lastRecvMs(sub) + 10 * STALE_MS); // X over
    const y = packer({ sourceId: 1, channelId: 2, sessionId: 1, sessionStartUs: T0 + 1000 });
    ingestAll(sub, [...snap(y, 2), ...snap(y, -1)]); // a restart whose clock stepped back, confirmed: X left behind
    ingestAll(sub, snap(packer({ sourceId: 1, channelId: 3, sessionId: 99, sessionStartUs: T0 + 1e9 }), -1)); // bogus
    ingestAll(sub, [...snap(y, -1), ...snap(y, -1)]); // undone: streams on sessions after Y leave, channel 1's too
    expect(sub.counters.sessionsReverted).toBe(1);
    expect(sub.streamInfo().map((s) => s.channelId)).toEqual([2]);
    expect([sub.retransmitsPending, sub.heldDatagrams]).toEqual([0, 0]); // before: [1, 1], the request of no stream
  });
});

describe("a full book table", () => {
  it("never gives up a book only defined yet (no book message) whose stream is live", () => {
    const sub = newSubscriber({ maxBooks: 2, staleAfterMs: STALE_MS });
    const p = packer({ sourceId: 1, channelId: 7 });
    packInstrumentDefinition(p, new EncodedDefinition({ ...inst, instrumentId: 1 }), false); // its snapshot yet to come
    ingestAll(sub, [...take(p), ...snap(p, 2)]);
    expect(sub.book(1)!.definition).toBeDefined();
    const q = packer({ sourceId: 2, channelId: 8 });
    ingestAll(sub, snap(q, 3)); // a new id: every book's stream is live
    expect(sub.counters.booksEvicted).toBe(0); // before: book 1 gave way, as if it had no stream
    expect(sub.counters.booksOverCap).toBe(1);
    expect(sub.book(1)!.definition).toBeDefined();
    sub.checkStale(lastRecvMs(sub) + 10 * STALE_MS);
    ingestAll(sub, snap(q, 3)); // now its stream is silent: it may go
    expect(sub.counters.booksEvicted).toBe(1);
  });
});

/**
 * s-goneline: an evicted stream's remembered line (GoneLine) kept its pending jump's line but not the jump's mark
 * (StreamState.jumpMark): resumed, the stream got a fresh one, and undoing the jump then untrusted nothing the line
 * had begun. A book the evicted stream had left to the other channel of an A/B pair (its later datagrams) stays in
 * the table, with the chunk set a forged chunk 0 far ahead began on it: that set kept the next real refresh out (a
 * book invalid by a lost event stayed unusable until the refresh after).
 */
describe("a stream evicted with a jump pending, resuming and undoing it", () => {
  it("what the jump's line began on a book the A/B pair's other channel carries keeps no real refresh out", () => {
    const SMALL = 256; // a 30-level book takes several chunks
    const sub = newSubscriber({ maxStreams: 2, staleAfterMs: STALE_MS, maxDatagramBytes: SMALL });
    const a = packer({ sourceId: 1, channelId: 7, maxBytes: SMALL });
    const b = packer({ sourceId: 1, channelId: 8, maxBytes: SMALL });
    const deep = (instrSeq: number): TestBook => {
      const t = new TestBook({ ...inst, instrumentId: 1 });
      const bids: [number, number][] = [];
      for (let i = 0; i < 30; i++) bids.push([943000 - i, 1 + i]);
      t.load(bids, [[943504, 250]], 1, T0);
      t.instrSeq = instrSeq;
      return t;
    };
    const real = deep(1);
    let sendUs = T0;
    const heldA: Uint8Array[] = []; // channel A's copies, delayed: they continue its line from before the jump
    /** The publisher's next delta on both channels; A's delivered now or held. */
    const delta = (deliverA: boolean): void => {
      const cs = new ChangeSet();
      cs.addBid(943000, 50 + real.instrSeq);
      real.apply(cs, real.venueSeq + 1, T0);
      packBookDelta(a, real, cs);
      packBookDelta(b, real, cs);
      sendUs++;
      const fromA = take(a, sendUs);
      if (deliverA) ingestAll(sub, fromA);
      else heldA.push(...fromA);
      ingestAll(sub, take(b, sendUs));
    };
    packBookSnapshot(a, real, 0, false);
    packBookSnapshot(b, real, 0, false);
    ingestAll(sub, [...take(a, ++sendUs), ...take(b, sendUs)]);
    delta(true);
    delta(true);
    const sb = sub.book(1)!;
    expect(sb.usable).toBe(true);
    // One forged datagram on channel A far ahead (no key): a jump, its line pending; its chunk 0 begins a set.
    const forger = packer({ sourceId: 1, channelId: 7, maxBytes: SMALL });
    forger.nextSeq = a.nextSeq + 1_000_000;
    expect(packBookSnapshot(forger, deep(real.instrSeq + 1_000_000), 0, false)).toBeGreaterThan(1);
    ingestAll(sub, take(forger, ++sendUs).slice(0, 1));
    expect(sub.counters.gaps).toBe(1);
    delta(false); // B carries the book now
    sub.checkStale(lastRecvMs(sub) + 10 * STALE_MS); // both silent
    delta(false); // B speaks
    ingestAll(sub, snap(packer({ sourceId: 50, channelId: 1 }), -1)); // takes A's place, silent longest
    expect(sub.counters.streamsEvicted).toBe(1);
    expect(sub.streamInfo().map((s) => s.channelId).sort()).toEqual([1, 8]);
    sub.checkStale(lastRecvMs(sub) + 10 * STALE_MS);
    const lost = new ChangeSet();
    lost.addBid(942990, 7);
    real.apply(lost, real.venueSeq + 1, T0); // an event lost on both channels: the book needs a refresh
    delta(false); // B speaks: source 50's stream makes room for A's
    expect(sb.valid).toBe(false);
    ingestAll(sub, heldA); // A resumes where its line stood; two of its datagrams undo the jump
    expect(sub.counters.streamsEvicted).toBe(2);
    expect(sub.counters.seqJumpsReverted).toBe(1);
    // A real refresh, whose copy on A is lost: it loads the book.
    expect(packBookSnapshot(b, real, 0, true)).toBeGreaterThan(1);
    ingestAll(sub, take(b, ++sendUs));
    expect(levelsOf(sb)).toEqual(levelsOf(real)); // before: its chunk 0 kept out as an older set's
    expect([sb.instrSeq, sb.usable]).toEqual([real.instrSeq, true]);
  });
});
