/**
 * s-undo2: what is left when a revert (a bogus session undone, docs/wire-protocol.md §6.2) or an eviction (§6.9) takes
 * a stream: the event saying so, its retransmission request (§11.4), also one being replayed, and the evicted line.
 * Driven through ingest(), checkStale(nowMs) and checkRecovery(nowMs): no sockets.
 */
import { describe, expect, it } from "vitest";
import { MAX_FED_DATAGRAMS } from "../../src/subscriber/feed-subscriber.ts";
import type { SessionEvent } from "../../src/subscriber/index.ts";
import { DatagramAuth } from "../../src/wire/auth.ts";
import { packBookSnapshot } from "../../src/wire/encoder.ts";
import { levelsOf, TestBook } from "../wire/helpers.ts";
import { flagged } from "./delta-feed.ts";
import { inst, lastRecvMs, snap, STALE_MS } from "./eviction-rig.ts";
import { ingestAll, newSubscriber, packer, T0, take } from "./feed-harness.ts";

const retransmit = { host: "127.0.0.1", port: 9, timeoutMs: 3_600_000 };
const run = (channelId: number, sessionId: number, startUs = T0 + 1000 * sessionId) => packer({ sourceId: 1, channelId, sessionId, sessionStartUs: startUs });

describe("a stream a revert takes from the table", () => {
  it("is reported: 'session' reverted, removed, with the session its source went back to", () => {
    const sub = newSubscriber({ staleAfterMs: STALE_MS });
    const a = run(1, 1);
    ingestAll(sub, [...snap(a, 1), ...snap(a, -1)]); // session 1 confirmed
    const events: SessionEvent[] = [];
    sub.on("session", (e) => events.push(e));
    ingestAll(sub, snap(run(2, 99, T0 + 1e9), 2)); // bogus, on a channel of its own
    ingestAll(sub, [...snap(a, -1), ...snap(a, -1)]); // two of session 1: undone, channel 2's stream leaves
    expect(sub.streamInfo().map((s) => s.channelId)).toEqual([1]);
    // Before: only the 'new' event; the stream vanished unreported.
    expect(events).toEqual([
      { kind: "new", channelId: 2, sourceId: 1, sessionId: 99, previousSessionId: undefined },
      { kind: "reverted", channelId: 2, sourceId: 1, sessionId: 1, previousSessionId: 99, removed: true },
    ]);
  });
});

describe("a stream a revert moves back to its old session", () => {
  it("ends the retransmission request of the session undone: nothing held, nothing replayed at its timeout", () => {
    const sub = newSubscriber({ staleAfterMs: STALE_MS, retransmit });
    const h = run(1, 1); // channel 1's first run
    const k = run(1, 3); // its restart, starting later
    ingestAll(sub, [...snap(h, 1), ...snap(h, -1)]);
    ingestAll(sub, [...snap(k, 1), ...snap(k, -1), ...snap(k, -1)]); // confirmed, its line established
    snap(k, 1, true); // lost
    ingestAll(sub, snap(k, -1)); // the gap: asked for, this one held
    expect([sub.retransmitsPending, sub.heldDatagrams]).toEqual([1, 1]);
    sub.checkStale(lastRecvMs(sub) + 10 * STALE_MS); // session 3 over
    const j = run(2, 2); // a restart whose clock stepped back (starts between 1 and 3), confirmed: 3 left behind
    ingestAll(sub, [...snap(j, 2), ...snap(j, -1)]);
    ingestAll(sub, snap(run(3, 99, T0 + 1e9), -1)); // bogus
    const events: SessionEvent[] = [];
    sub.on("session", (e) => events.push(e));
    ingestAll(sub, [...snap(j, -1), ...snap(j, -1)]); // undone back to 2: channel 1 (on 3, later) back to its run 1
    expect(events.filter((e) => e.channelId === 1)).toEqual([{ kind: "reverted", channelId: 1, sourceId: 1, sessionId: 1, previousSessionId: 3 }]);
    // Before: [1, 1], session 3's request open, its held datagram replayed at the timeout (a fallback).
    expect([sub.retransmitsPending, sub.heldDatagrams]).toEqual([0, 0]);
    sub.checkRecovery(Number.MAX_SAFE_INTEGER);
    expect(sub.counters.retransmitFallbacks).toBe(0);
  });
});

describe("a stream leaving the table while its held datagrams are replayed", () => {
  it("takes the rest of them with it: they do not make it again (a listener feeding ingest() evicts it)", () => {
    const sub = newSubscriber({ maxStreams: 2, staleAfterMs: STALE_MS, retransmit });
    const a = packer({ sourceId: 1, channelId: 1 });
    ingestAll(sub, [...snap(a, 1), ...snap(a, -1), ...snap(a, -1)]); // its line established
    snap(a, 1, true); // lost
    ingestAll(sub, [...snap(a, 2), ...snap(a, 3)]); // the gap: asked for, both held
    ingestAll(sub, snap(packer({ sourceId: 2, channelId: 2 }), 4));
    sub.checkStale(lastRecvMs(sub) + 10 * STALE_MS); // both silent, channel 1's longest
    let fed = false;
    sub.on("gap", () => {
      if (fed) return;
      fed = true; // the first held datagram replayed (the gap, the old way): a new stream takes channel 1's place
      sub.ingest(snap(packer({ sourceId: 3, channelId: 3 }), 5)[0]!, T0 + 50);
    });
    sub.checkRecovery(Number.MAX_SAFE_INTEGER); // the request times out: its held datagrams replayed
    expect(fed).toBe(true);
    // Before: the second held one made channel 1 again (book 3), channel 2's stream evicted for it.
    expect(sub.streamInfo().map((s) => s.sourceId).sort((x, y) => x - y)).toEqual([2, 3]);
    expect([sub.book(3), sub.counters.streamsEvicted, sub.heldDatagrams]).toEqual([undefined, 1, 0]);
  });
});

describe("a stream leaving the table while a held datagram of it waits to fill its gap", () => {
  it("takes that one with it too: a listener of the fill before it feeding ingest() a new stream evicts it", () => {
    const sub = newSubscriber({ maxStreams: 2, staleAfterMs: STALE_MS, retransmit });
    const a = packer({ sourceId: 1, channelId: 1 });
    ingestAll(sub, [...snap(a, 1), ...snap(a, -1), ...snap(a, -1)]); // its line established
    const [d1, d2, d3, d4] = [11, 12, 13, 14].map((id) => snap(a, id)[0]!);
    ingestAll(sub, [d4!, d3!, d2!]); // a gap asked for, the later ones held, reordered into it
    ingestAll(sub, snap(packer({ sourceId: 2, channelId: 2 }), 2));
    sub.checkStale(lastRecvMs(sub) + 10 * STALE_MS); // both silent, channel 1's longest
    sub.on("update", (e) => {
      // d2's fill: a new stream takes channel 1's place (processed right after d2), d3 queued to fill next.
      if (e.book.instrumentId === 12) sub.ingest(snap(packer({ sourceId: 3, channelId: 3 }), 3)[0]!, T0 + 50);
    });
    sub.ingest(flagged(d1!), T0 + 50); // the answer: d2 fills next
    // Before: d3 was still applied, making channel 1 again (book 13), channel 2 evicted for it.
    expect([sub.book(13) !== undefined, sub.counters.streamsEvicted, sub.heldDatagrams, sub.retransmitsPending]).toEqual([false, 1, 0, 0]);
    expect(sub.streamInfo().map((s) => s.sourceId).sort((x, y) => x - y)).toEqual([2, 3]);
  });
});

describe("an evicted stream's line", () => {
  it("stays remembered when a bogus session makes the stream again and is undone: late copies stay duplicates", () => {
    const sub = newSubscriber({ maxStreams: 2, staleAfterMs: STALE_MS });
    const a = run(1, 1);
    const first = snap(a, 1);
    const second = snap(a, -1);
    ingestAll(sub, [...first, ...second]); // session 1 confirmed
    ingestAll(sub, snap(packer({ sourceId: 2, channelId: 2 }), 2));
    sub.checkStale(lastRecvMs(sub) + 10 * STALE_MS);
    ingestAll(sub, snap(packer({ sourceId: 3, channelId: 3 }), 3)); // channel 1's stream evicted, book 1 with it
    ingestAll(sub, snap(run(1, 99, T0 + 1e9), -1)); // bogus: channel 1's stream again (source 2's evicted for it)
    expect(sub.streamInfo().map((s) => s.sessionId).sort((x, y) => x - y)).toEqual([11, 99]);
    const duplicates = sub.counters.duplicates;
    // Late copies of session 1's heartbeat and snapshot (two datagrams: a copy of one counts once): undo 99, the
    // stream leaves.
    ingestAll(sub, [second[0]!, first[0]!]);
    expect(sub.counters.sessionsReverted).toBe(1);
    // Before: the line was forgotten when 99 made the stream; the copy then made it again, book 1 usable with it.
    expect([sub.book(1), sub.streamInfo().map((s) => s.sourceId), sub.counters.duplicates - duplicates]).toEqual([undefined, [3], 1]);
  });
});

describe("a source's remembered live stream", () => {
  it("is let go when that stream leaves the table (the source holds no evicted stream)", () => {
    const sub = newSubscriber({ maxStreams: 1, staleAfterMs: STALE_MS });
    const live = run(1, 2);
    ingestAll(sub, [...snap(live, 1), ...snap(live, -1)]); // session 2 confirmed
    ingestAll(sub, snap(run(1, 1), -1)); // an older session's: dropped, its source's live stream looked up
    const source = (): { alive: unknown } => (sub as unknown as { streamTable: { sources: Map<number, { alive: unknown }> } }).streamTable.sources.get(1)!;
    expect(source().alive).toBeDefined();
    sub.checkStale(lastRecvMs(sub) + 10 * STALE_MS);
    ingestAll(sub, snap(packer({ sourceId: 2, channelId: 2 }), 2)); // evicts it
    expect(sub.counters.streamsEvicted).toBe(1);
    expect(source().alive).toBeUndefined(); // before: the evicted stream, held by its remembered source
  });
});

describe("a revert's 'session' events", () => {
  it("come once the source, its streams and its books are back: a listener sees no book left on the session undone", () => {
    const sub = newSubscriber({ staleAfterMs: STALE_MS });
    const a = run(1, 1);
    ingestAll(sub, [...snap(a, 1), ...snap(a, -1)]); // session 1 confirmed, book 1 usable
    ingestAll(sub, snap(run(2, 99, T0 + 1e9), 1)); // bogus, on a channel of its own: book 1 superseded, loaded on 99
    expect([sub.book(1)!.sessionId, sub.book(1)!.usable]).toEqual([99, true]);
    const seen: unknown[] = [];
    sub.on("session", (e) => {
      const book = sub.book(1)!;
      seen.push([e.kind, e.channelId, e.removed ?? false, book.sessionId, book.usable, sub.streamInfo().map((s) => [s.channelId, s.sessionId])]);
    });
    ingestAll(sub, [...snap(a, -1), ...snap(a, -1)]); // two of session 1: 99 undone
    // Before: told mid-revert, book 1 still on 99 and usable with what the bogus session brought.
    expect(seen).toEqual([["reverted", 2, true, 1, false, [[1, 1]]]]);
  });
});

describe("a datagram a listener feeds to ingest() while another is processed", () => {
  it("is processed after it: the one under way keeps its own messages, the fed one's books stay its stream's", () => {
    const sub = newSubscriber({ staleAfterMs: STALE_MS });
    const x = packer({ sourceId: 1, channelId: 1 });
    ingestAll(sub, [...snap(x, 1), ...snap(x, -1), ...snap(x, -1)]);
    snap(x, 1, true); // lost
    let fed = false;
    sub.on("gap", () => {
      if (!fed) sub.ingest(snap(packer({ sourceId: 2, channelId: 2 }), 7)[0]!, T0 + 60); // before x's messages are read
      fed = true;
    });
    ingestAll(sub, snap(x, 3)); // the gap: its snapshot loads book 3
    // Before: the fed datagram overwrote the one under way: book 3 never loaded, book 7's snapshot applied again as
    // channel 1's, moving it to source 1 (superseded).
    expect([fed, sub.book(3)?.valid, sub.book(7)?.sourceId, sub.counters.superseded]).toEqual([true, true, 2, 0]);
  });
});

describe("a datagram a listener feeds to ingest() while a held one is replayed", () => {
  it("is live: its stream, stale, is heard again (its book usable)", () => {
    const sub = newSubscriber({ staleAfterMs: STALE_MS, retransmit });
    const x = packer({ sourceId: 1, channelId: 1 });
    const y = packer({ sourceId: 2, channelId: 2 });
    ingestAll(sub, [...snap(x, 1), ...snap(x, -1), ...snap(x, -1), ...snap(y, 7), ...snap(y, -1)]);
    snap(x, 1, true); // lost
    ingestAll(sub, snap(x, 3)); // the gap: asked for, held
    sub.checkStale(lastRecvMs(sub) + 10 * STALE_MS); // both stale
    expect(sub.book(7)!.usable).toBe(false);
    let fed = false;
    sub.on("gap", () => {
      if (!fed) sub.ingest(snap(y, 7)[0]!, T0 + 60); // y's publisher sends again
      fed = true;
    });
    sub.checkRecovery(Number.MAX_SAFE_INTEGER); // the request times out: the held one replayed, its gap told
    // Before: processed as a held datagram replayed (not heard): channel 2 stayed stale, book 7 not usable.
    expect([fed, sub.streamInfo().find((s) => s.channelId === 2)!.stale, sub.book(7)!.usable]).toEqual([true, false, true]);
  });
});

describe("checkRecovery() called from a listener while a datagram is processed", () => {
  it("runs after it: the held datagrams it replays do not overwrite the one under way", () => {
    const sub = newSubscriber({ staleAfterMs: STALE_MS, retransmit });
    const x = packer({ sourceId: 1, channelId: 1 });
    ingestAll(sub, [...snap(x, 1), ...snap(x, -1), ...snap(x, -1)]);
    snap(x, 1, true); // lost
    ingestAll(sub, snap(x, 5)); // the gap: asked for, held
    let called = false;
    sub.on("session", (e) => {
      if (e.kind === "new" && e.channelId === 2 && !called) sub.checkRecovery(Number.MAX_SAFE_INTEGER); // before y's messages
      called = true;
    });
    ingestAll(sub, snap(packer({ sourceId: 2, channelId: 2 }), 7)); // a new stream: its snapshot loads book 7
    // Before: x's held datagram replayed over y's under way: book 7 never loaded, book 5's snapshot applied as y's too.
    expect([called, sub.book(7)?.valid, sub.book(5)?.sourceId, sub.counters.superseded, sub.retransmitsPending]).toEqual([true, true, 1, 0, 0]);
  });
});

describe("datagrams listeners feed to ingest() one from each other's update", () => {
  it("are processed from one loop, in order: a long chain nests no deeper (no stack overflow), none lost", () => {
    const sub = newSubscriber({ staleAfterMs: STALE_MS, maxBooks: 1 << 16 });
    const x = packer({ sourceId: 1, channelId: 1 });
    ingestAll(sub, [...snap(x, 1), ...snap(x, -1)]);
    const chain = Array.from({ length: 20_000 }, (_, i) => snap(x, 2 + i)[0]!);
    const order: number[] = [];
    sub.on("update", (e) => {
      order.push(e.book.instrumentId);
      const next = e.book.instrumentId - 1; // book n's update feeds the datagram of book n + 1
      if (next < chain.length) sub.ingest(chain[next]!, T0 + 60);
    });
    sub.ingest(chain[0]!, T0 + 60);
    // Before: each fed datagram drained the rest itself, one call deeper each: the stack overflowed (an error, the
    // rest lost).
    expect([sub.counters.listenerErrors, order.length, order.every((id, i) => id === i + 2)]).toEqual([0, chain.length, true]);
  });
});

describe("a datagram a listener feeds to ingest() and then calls stop()", () => {
  it("leaves its books stale as that stop() left every other: no book usable on a stopped subscriber", () => {
    const sub = newSubscriber({ staleAfterMs: STALE_MS });
    const x = packer({ sourceId: 1, channelId: 1 });
    const y = packer({ sourceId: 2, channelId: 2 });
    ingestAll(sub, [...snap(y, 7), ...snap(y, -1), ...snap(x, 1), ...snap(x, -1)]);
    const y8 = snap(y, 8)[0]!;
    let fed = false;
    sub.on("update", (e) => {
      if (e.book.instrumentId !== 3 || fed) return;
      fed = true;
      sub.ingest(y8, T0 + 60); // queued behind the datagram under way
      void sub.stop();
    });
    ingestAll(sub, snap(x, 3));
    // Before: processed after the stop(), it restarted the subscriber: channel 2 heard, books 7 and 8 usable.
    expect([fed, sub.book(8)?.valid, sub.book(8)?.usable, sub.book(7)?.usable, sub.book(3)?.usable]).toEqual([true, true, false, false, false]);
  });
  it("fed after the stop() is processed as by a subscriber never started (its stream heard)", () => {
    const sub = newSubscriber({ staleAfterMs: STALE_MS });
    const x = packer({ sourceId: 1, channelId: 1 });
    const y = packer({ sourceId: 2, channelId: 2 });
    ingestAll(sub, [...snap(y, 7), ...snap(y, -1), ...snap(x, 1), ...snap(x, -1)]);
    const y8 = snap(y, 8)[0]!;
    let fed = false;
    sub.on("update", (e) => {
      if (e.book.instrumentId !== 3 || fed) return;
      fed = true;
      void sub.stop();
      sub.ingest(y8, T0 + 60);
    });
    ingestAll(sub, snap(x, 3));
    expect([fed, sub.book(8)?.usable, sub.book(7)?.usable, sub.book(3)?.usable]).toEqual([true, true, true, false]);
  });
});

describe("a datagram a 'stale' listener feeds to ingest() while stop() marks the streams stale", () => {
  const setup = () => {
    const sub = newSubscriber({ staleAfterMs: STALE_MS });
    const x = packer({ sourceId: 1, channelId: 1 });
    const y = packer({ sourceId: 2, channelId: 2 });
    ingestAll(sub, [...snap(y, 7), ...snap(y, -1), ...snap(x, 1), ...snap(x, -1)]);
    const y8 = snap(y, 8)[0]!;
    const shown: unknown[] = [];
    sub.on("update", (e) => shown.push([e.book.instrumentId, e.book.usable]));
    let fed = 0;
    sub.on("stale", (e) => {
      if (e.stopped && fed++ === 0) sub.ingest(y8, T0 + 60); // the first stream marked (channel 2): its next datagram
    });
    return { sub, x, shown, fed: () => fed };
  };
  const stopped = (sub: ReturnType<typeof newSubscriber>) => sub.streamInfo().map((s) => [s.channelId, s.stale]);

  it("is processed once stop() is done, its books stale: stop() called outside a datagram", () => {
    const { sub, shown, fed } = setup();
    void sub.stop();
    // Before: ingest() switched the stopped flag off and processed it live, over stop(): channel 2 heard again (not
    // stale on a stopped subscriber), book 8 shown usable.
    expect([fed(), stopped(sub), shown, sub.book(8)?.valid, sub.book(8)?.usable]).toEqual([2, [[2, true], [1, true]], [[8, false]], true, false]);
  });

  it("and so when a listener calls stop() while a datagram is processed: processed after it, its books stale", () => {
    const { sub, x, shown, fed } = setup();
    sub.on("update", (e) => {
      if (e.book.instrumentId === 3) void sub.stop();
    });
    ingestAll(sub, snap(x, 3));
    // Before: queued as fed after the stop(), it restarted the subscriber: channel 2 heard, book 8 usable.
    expect([fed(), stopped(sub), shown, sub.book(8)?.usable]).toEqual([2, [[2, true], [1, true]], [[3, true], [8, false]], false]);
  });
});

describe("datagrams a listener feeds to ingest() from one event", () => {
  it("wait at most MAX_FED_DATAGRAMS: the rest are dropped (fedOverCap), a loss: the stream's next datagram is a gap", () => {
    const sub = newSubscriber({ staleAfterMs: STALE_MS, maxBooks: 4096 });
    const x = packer({ sourceId: 1, channelId: 1 });
    const y = packer({ sourceId: 2, channelId: 2 });
    ingestAll(sub, [...snap(y, 7), ...snap(y, -1), ...snap(x, 1), ...snap(x, -1)]);
    // y's backlog: books 8.. one datagram each, then (lost past the cap) book 7 at a new level.
    const backlog = Array.from({ length: MAX_FED_DATAGRAMS }, (_, i) => snap(y, 8 + i)[0]!);
    const b7 = new TestBook({ ...inst, instrumentId: 7 });
    b7.load([[90, 2]], [[91, 3]], 2, T0);
    packBookSnapshot(y, b7, 0, true);
    backlog.push(...take(y, T0 + 1));
    let fed = false;
    sub.on("update", (e) => {
      if (e.book.instrumentId !== 3 || fed) return;
      fed = true;
      for (const d of backlog) sub.ingest(d, T0 + 60);
    });
    ingestAll(sub, snap(x, 3));
    expect([fed, sub.counters.fedOverCap, sub.book(8 + MAX_FED_DATAGRAMS - 1)?.usable, sub.book(7)!.usable]).toEqual([true, 1, true, true]);
    expect(levelsOf(sub.book(7)!).bids).toEqual([[100, 2]]); // book 7's refresh was the one dropped
    ingestAll(sub, snap(y, -1)); // y's next: the gap, book 7 invalid until its next snapshot (never usable at 100)
    expect([sub.counters.gaps, sub.book(7)!.usable]).toEqual([1, false]);
    // Before: every one queued (unbounded): fedOverCap undefined, book 7 at 90, no gap.
  });
});

describe("a datagram onSignedUnverified feeds to ingest()", () => {
  it("is processed after the signed one that told it: that one keeps its own messages", () => {
    const x = packer({ sourceId: 1, channelId: 1, auth: new DatagramAuth(new Uint8Array(32).fill(7)) });
    const y = packer({ sourceId: 2, channelId: 2 });
    const y7 = snap(y, 7)[0]!;
    let told = 0;
    const sub = newSubscriber({ staleAfterMs: STALE_MS, onSignedUnverified: () => (told++, sub.ingest(y7, T0 + 60)) });
    ingestAll(sub, snap(x, 3)); // signed, no key here: told, before its messages are read
    // Before: told outside the datagram under way, the fed one was processed at once over it: book 3 never loaded,
    // book 7's snapshot applied again as channel 1's (moved to source 1).
    expect([told, sub.book(3)?.valid, sub.book(7)?.sourceId, sub.counters.superseded]).toEqual([1, true, 2, 0]);
  });

  it("one that throws is reported as a listener's: the datagram is still applied, nothing escapes", () => {
    const x = packer({ sourceId: 1, channelId: 1, auth: new DatagramAuth(new Uint8Array(32).fill(7)) });
    const told = () => {
      throw new Error("told");
    };
    const sub = newSubscriber({ staleAfterMs: STALE_MS, onSignedUnverified: told });
    const errors: string[] = [];
    sub.on("error", (e) => errors.push(e.error.message));
    // Before: the throw escaped ingest() (from a socket's 'message' handler: an uncaught exception).
    expect(() => ingestAll(sub, snap(x, 3))).not.toThrow();
    expect([errors, sub.counters.listenerErrors, sub.book(3)?.valid]).toEqual([["told"], 1, true]);
  });
});
