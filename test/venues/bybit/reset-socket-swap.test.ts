/**
 * The socket of record (TopicState.seqSocket) across a planned reconnect's end (docs/venues/bybit.md, "Sequencing"):
 * - a replacement that only repeated the book's u (a quiet book: its subscribe snapshot equal to the old socket's
 *   last) has delivered that u too: once the old socket is closed, its older frame is a venue reset, not a trail;
 * - gone back to the old socket (goBack gives the same socket a new generation): the book's u was delivered by that
 *   socket, so its older frame is still a reset;
 * - both sockets delivered the u (one repeating the other's): the one that carries on is the socket of record, whichever
 *   repeated it last (TopicState.seqAlsoSocket).
 * Old code: both ignored (olderSnapshots / duplicates), the book LIVE at its pre-reset levels until it went stale.
 * In-process: the adapter in replay mode, frames fed straight in, the sockets told apart as the planned reconnect does;
 * the last block the same through replay's own path, the capture's socket events (ws:swap, ws:old, and the overlap's
 * end: ws:retired, a ws:state after a lost ws:retired, ws:back), as ConnectionLifecycle.replaySocketEvent reads them.
 * One block runs a live adapter on fake sockets, records its capture and replays it, the books compared after every
 * step (replayed-rig.ts liveAndReplayedBybit): a resync's in-flight frames live ignored while unsubscribing.
 */
import { afterEach, describe, expect, test, vi } from "vitest";
import { liveAndReplayedBybit, replayedBybit } from "./replayed-rig.ts";
import { FakeWs } from "../common/fake-ws.ts";
import { BookState, StatusReason } from "../../../src/core/types.ts";
import { Rng } from "../../../src/sim/rng.ts";
import { BybitScanner } from "../../../src/venues/bybit/scanner.ts";
import { SOCKET_BACK_URL, SOCKET_OLD_FRAME_URL, SOCKET_RETIRED_URL, SOCKET_SWAP_URL, SOCKETS_RECORDED_URL, SOCKETS_STATE_URL } from "../../../src/venues/venue.ts";
import type { PlannedReconnects } from "../../../src/venues/common/planned-reconnect.ts";

async function replayed(depth: number) {
  const { adapter, sink, conn, feed } = await replayedBybit(depth);
  const planned = (adapter as unknown as { lifecycle: { planned: PlannedReconnects } }).lifecycle.planned;
  const oldSocket = { readyState: 1, onmessage: null, close() {} } as unknown as WebSocket;
  /** A planned reconnect's swap: the replacement is the connection's socket, the old one still delivers. */
  const overlap = () => {
    conn.retiringWs = oldSocket;
    conn.retiringGeneration = conn.generation;
    conn.generation = ++conn.genSeq;
    for (const t of conn.topics) t.onRetiring = true;
  };
  /** The old socket closed: the replacement carries on alone. */
  const oldClosed = () => planned.onRetiringClosed(conn, "test");
  /** The replacement failed: the old socket is the connection's again (a new generation, as the lifecycle does). */
  const goBack = () => planned.goBack(conn, "test");
  return { adapter, sink, conn, feed, overlap, oldClosed, goBack };
}

describe("bybit: the socket of record after a planned reconnect", () => {
  test("level 1: the replacement repeated the book's u; the old socket closed; its older snapshot is a reset", async () => {
    const { adapter, sink, feed, overlap, oldClosed } = await replayed(1);
    feed("snapshot", 500, "100.5");
    overlap();
    feed("snapshot", 500, "100.5"); // the replacement's subscribe snapshot: the same u, a quiet book
    oldClosed();
    feed("snapshot", 7, "99.5"); // after a reset whose u = 1 was lost
    // Old: ignored as another socket's (olderSnapshots 1), the book LIVE at bid 100.5 until it went stale.
    expect(adapter.stats()).toMatchObject({ repeatedSnapshots: 1, olderSnapshots: 0, venueResets: 1 });
    expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastU: 7 });
    expect(sink.bids[0]).toEqual(new Map([[995, 1000]]));
  });

  test("level 1: the replacement reached the u first and the old socket re-pushed it after; the old socket closed; a reset on the replacement", async () => {
    const { adapter, sink, feed, overlap, oldClosed } = await replayed(1);
    feed("snapshot", 500, "100.5");
    overlap();
    feed("snapshot", 500, "100.5"); // the replacement's subscribe snapshot
    feed("snapshot", 500, "100.5", true); // the old socket's 3 s re-push, after it
    oldClosed();
    feed("snapshot", 7, "99.5"); // on the replacement, after a reset whose u = 1 was lost
    // Old: the re-push made the old socket the one of record for good; the reset was ignored (olderSnapshots 1), the
    // book LIVE at bid 100.5 until it went stale.
    expect(adapter.stats()).toMatchObject({ repeatedSnapshots: 2, olderSnapshots: 0, venueResets: 1 });
    expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastU: 7 });
    expect(sink.bids[0]).toEqual(new Map([[995, 1000]]));
  });

  test("level 1: the replacement repeated the old socket's u; the replacement failed; a reset on the old socket", async () => {
    const { adapter, sink, feed, overlap, goBack } = await replayed(1);
    feed("snapshot", 500, "100.5"); // on the old socket, before the overlap
    overlap();
    feed("snapshot", 500, "100.5"); // the replacement's subscribe snapshot: the same u
    goBack();
    feed("snapshot", 7, "99.5"); // on the old socket, after a reset whose u = 1 was lost
    // Old: the failed replacement stayed the one of record; the reset was ignored, the book LIVE at bid 100.5.
    expect(adapter.stats()).toMatchObject({ olderSnapshots: 0, venueResets: 1 });
    expect(sink.bids[0]).toEqual(new Map([[995, 1000]]));
  });

  test("depth 50: the same for a delta repeating the book's u (the reset's older delta resyncs)", async () => {
    const { adapter, sink, feed, overlap, oldClosed } = await replayed(50);
    feed("snapshot", 500, "100.5");
    feed("delta", 501, "100.6");
    overlap();
    feed("snapshot", 499, "100.4"); // the replacement's subscribe snapshot, trailing: ignored
    feed("delta", 500, "100.5");
    feed("delta", 501, "100.6"); // the replacement reaches the book's u
    oldClosed();
    feed("delta", 3, "99.5");
    expect(adapter.topicInfo(0).state).toBe("resyncing");
    expect(sink.invalid.map((e) => e.reason)).toEqual([StatusReason.VENUE_RESET]);
    expect(adapter.stats()).toMatchObject({ olderSnapshots: 1, duplicates: 2, venueResets: 1 });
  });

  test("gone back to the old socket: the book's u came on it, so its older frame is still a reset", async () => {
    const { adapter, sink, feed, overlap, goBack } = await replayed(50);
    feed("snapshot", 500, "100.5");
    overlap();
    feed("delta", 501, "100.6", true); // the old socket delivers the book's u
    goBack(); // the replacement failed: the old socket again, under a new generation
    feed("delta", 4, "99.5"); // the old socket goes back: a reset whose u = 1 was lost
    // Old: taken for another socket's trailing frame (duplicates 1), the book LIVE at u 501 until it went stale.
    expect(sink.invalid.map((e) => e.reason)).toEqual([StatusReason.VENUE_RESET]);
    expect(adapter.stats()).toMatchObject({ duplicates: 0, venueResets: 1 });
  });

  test("gone back, the replacement having led: the old socket's older frames still only trail", async () => {
    const { adapter, sink, feed, overlap, goBack } = await replayed(50);
    feed("snapshot", 500, "100.5");
    overlap();
    feed("snapshot", 502, "100.7"); // the replacement, ahead of the old socket
    goBack();
    feed("delta", 501, "100.6"); // the old socket catching up: ignored
    feed("delta", 502, "100.7");
    feed("delta", 503, "100.8");
    expect(sink.invalid).toEqual([]);
    expect(adapter.stats()).toMatchObject({ duplicates: 2, venueResets: 0 });
    expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastU: 503 });
  });
});

describe("bybit replay: the socket of record at a recorded overlap's end (level 1)", () => {
  /** Old socket: u 500; the replacement's subscribe snapshot repeats it; the old socket re-pushes it after (of record). */
  async function bothReached() {
    const rig = await replayedBybit(1);
    const { ingest, socketEvent } = rig;
    socketEvent(SOCKETS_RECORDED_URL);
    ingest("snapshot", 500, "100.5");
    socketEvent(SOCKET_SWAP_URL);
    ingest("snapshot", 500, "100.5"); // the replacement's
    socketEvent(SOCKET_OLD_FRAME_URL);
    ingest("snapshot", 500, "100.5"); // the old socket's 3 s re-push: it is of record again
    return rig;
  }

  for (const [end, url] of [
    ["ws:retired", SOCKET_RETIRED_URL],
    ["a ws:state after a lost ws:retired", SOCKETS_STATE_URL],
  ] as const) {
    test(`${end}: the replacement reached the u, so its older snapshot is a reset`, async () => {
      const { adapter, sink, ingest, socketEvent } = await bothReached();
      socketEvent(url);
      ingest("snapshot", 7, "99.5"); // on the replacement, after a reset whose u = 1 was lost
      // Without seqReached there: the old socket stayed of record, the reset ignored (olderSnapshots 1), bid 100.5.
      expect(adapter.stats()).toMatchObject({ repeatedSnapshots: 2, olderSnapshots: 0, venueResets: 1 });
      expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastU: 7 });
      expect(sink.bids[0]).toEqual(new Map([[995, 1000]]));
    });
  }

  test("ws:back: the old socket reached the u before the replacement repeated it, so its older snapshot is a reset", async () => {
    const { adapter, sink, ingest, socketEvent } = await replayedBybit(1);
    socketEvent(SOCKETS_RECORDED_URL);
    ingest("snapshot", 500, "100.5"); // the old socket's
    socketEvent(SOCKET_SWAP_URL);
    ingest("snapshot", 500, "100.5"); // the replacement's: of record
    socketEvent(SOCKET_BACK_URL); // the replacement failed
    ingest("snapshot", 7, "99.5"); // on the old socket, after a reset whose u = 1 was lost
    // Without seqReached there: the failed replacement stayed of record, the reset ignored, bid 100.5.
    expect(adapter.stats()).toMatchObject({ olderSnapshots: 0, venueResets: 1 });
    expect(sink.bids[0]).toEqual(new Map([[995, 1000]]));
  });

  test("ws:retired with the replacement behind: the old socket's u was never the replacement's, its older snapshot trails", async () => {
    const { adapter, sink, ingest, socketEvent } = await replayedBybit(1);
    socketEvent(SOCKETS_RECORDED_URL);
    ingest("snapshot", 500, "100.5");
    socketEvent(SOCKET_SWAP_URL);
    socketEvent(SOCKET_OLD_FRAME_URL);
    ingest("snapshot", 501, "100.6"); // the old socket moves on; the replacement has delivered nothing yet
    socketEvent(SOCKET_RETIRED_URL);
    ingest("snapshot", 500, "100.5"); // the replacement's subscribe snapshot, behind: no reset, ignored
    expect(adapter.stats()).toMatchObject({ olderSnapshots: 1, venueResets: 0 });
    expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastU: 501 });
    expect(sink.bids[0]).toEqual(new Map([[1006, 1000]]));
  });
});

describe("bybit: a socket kept as having reached the u is forgotten once a snapshot sets the book anew", () => {
  test("the old socket reached u 500 before a venue reset; the replacement's new sequence reaches 500 again; gone back, the old socket's older snapshot only trails", async () => {
    const { adapter, sink, feed, overlap, goBack } = await replayed(50);
    feed("snapshot", 500, "100.5"); // on the old socket, before the overlap
    overlap();
    feed("snapshot", 500, "100.5"); // the replacement's subscribe snapshot: the same u (the old socket kept as there too)
    feed("snapshot", 1, "99.0"); // on the replacement: a venue reset
    feed("snapshot", 500, "99.8"); // the replacement: the new sequence's u 500, a state the old socket never delivered
    goBack(); // the replacement failed: the old socket again
    feed("snapshot", 300, "99.3", false); // the old socket, behind in the new sequence
    // Before: the old socket's u 500 of the old sequence counted as having reached the book's (seqAlsoSocket kept across
    // the reset's snapshots), the old socket became the one of record at the go-back, and its trailing snapshot was taken
    // for a venue reset: the book replaced by an older state, LIVE (bid 99.3).
    expect(adapter.stats()).toMatchObject({ venueResets: 1, olderSnapshots: 1 });
    expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastU: 500 });
    expect(sink.bids[0]).toEqual(new Map([[998, 1000]]));
  });
});

describe("bybit: during an overlap, a lower frame from either socket that delivered the book's u is a venue reset", () => {
  // Before 2026-12-06 only the socket of record (the last to deliver or repeat the u) counted: once the replacement
  // repeated the old socket's u, a lower frame on the old socket (TCP is ordered: no trailing copy there) was taken for
  // a trail, ignored, and so was every frame after it, the book LIVE at its old levels until the overlap ended.
  test("depth 50: the replacement's snapshot repeats the book's u; the old socket's lower delta resyncs the book", async () => {
    const { adapter, sink, feed, overlap } = await replayed(50);
    feed("snapshot", 500, "100.5"); // on the old socket, before the overlap
    feed("delta", 501, "100.6");
    overlap();
    feed("snapshot", 501, "100.6"); // the replacement's subscribe snapshot: the book's u
    feed("delta", 3, "99.5", true); // the old socket: the venue reset, its u = 1 snapshot lost
    // Before: a duplicate (the old socket no longer of record), the book LIVE at u 501.
    expect(sink.invalid.map((e) => e.reason)).toEqual([StatusReason.VENUE_RESET]);
    expect(adapter.stats()).toMatchObject({ venueResets: 1, duplicates: 0 });
  });

  test("level 1: the old socket re-pushes the replacement's u; the replacement's lower snapshot replaces the book", async () => {
    const { adapter, sink, feed, overlap } = await replayed(1);
    feed("snapshot", 500, "100.5");
    overlap();
    feed("snapshot", 501, "100.6"); // the replacement leads
    feed("snapshot", 501, "100.6", true); // the old socket's snapshot reaches it (the record moves there)
    feed("snapshot", 7, "99.5"); // the replacement: the venue reset, its u = 1 lost
    // Before: ignored (olderSnapshots 1), the book LIVE at bid 100.6.
    expect(adapter.stats()).toMatchObject({ venueResets: 1, olderSnapshots: 0 });
    expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastU: 7 });
    expect(sink.bids[0]).toEqual(new Map([[995, 1000]]));
  });
});

describe("bybit: a venue reset taken from one socket of an overlap; the other still delivers the sequence before it", () => {
  // Both sockets carry the venue's one stream, so the reset reaches each; the one behind still delivers frames of the
  // sequence before it (a higher u than the new sequence's) until its own u = 1. Before, such a frame was taken as
  // newer: a snapshot replaced the book with the state before the reset (LIVE), a delta was a gap (a needless resync).
  // Found by the simulator with venue resets during overlaps (socket delays by the proxy): depth 1, 11 resets
  // injected, 17 counted.
  test("level 1: the replacement delivered the reset; the old socket's next snapshot is of the old sequence: ignored", async () => {
    const { adapter, sink, feed, overlap, oldClosed } = await replayed(1);
    feed("snapshot", 500, "100.5"); // on the old socket, before the overlap
    overlap();
    feed("snapshot", 500, "100.5"); // the replacement's subscribe snapshot: the same u
    feed("snapshot", 1, "99.5"); // the replacement: the venue reset
    feed("snapshot", 501, "100.6", true); // the old socket, behind: the sequence before the reset
    // Before: applied (u 501 above the book's 1), the book LIVE at the state before the reset (bid 100.6).
    expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastU: 1 });
    expect(sink.bids[0]).toEqual(new Map([[995, 1000]]));
    oldClosed(); // the old socket closed before its own u = 1 came
    feed("snapshot", 2, "99.6"); // the replacement goes on
    // Before: ignored as a trail (below 501), the book LIVE at bid 100.6 until stale.
    expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastU: 2 });
    expect(sink.bids[0]).toEqual(new Map([[996, 1000]]));
    expect(adapter.stats()).toMatchObject({ venueResets: 1, olderSnapshots: 1 });

    // But a replacement that had delivered nothing yet when the old socket delivered the reset may have been
    // subscribed after it (its snapshot of the new sequence, no u = 1 to follow): taken as it comes, else the book
    // would have no socket once the old one closed.
    const second = await replayed(1);
    second.feed("snapshot", 500, "100.5");
    second.overlap();
    second.feed("snapshot", 1, "99.5", true); // the old socket: the venue reset
    second.feed("snapshot", 3, "99.7"); // the replacement's subscribe snapshot, of the new sequence
    second.oldClosed();
    second.feed("snapshot", 4, "99.8");
    expect(second.adapter.topicInfo(0)).toMatchObject({ state: "live", lastU: 4 });
    expect(second.sink.bids[0]).toEqual(new Map([[998, 1000]]));
  });

  test("depth 50: the old socket delivered the reset; the replacement's deltas before it are ignored until its own u = 1", async () => {
    const { adapter, sink, feed, overlap, oldClosed } = await replayed(50);
    feed("snapshot", 500, "100.5");
    overlap();
    feed("snapshot", 500, "100.5"); // the replacement's subscribe snapshot
    feed("snapshot", 1, "99.5", true); // the old socket: the venue reset
    feed("delta", 501, "100.6"); // the replacement, behind: the sequence before the reset
    // Before: a gap (501 after 1), the book RESYNCING / sequence_gap.
    expect(sink.invalid).toEqual([]);
    expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastU: 1 });
    feed("snapshot", 1, "99.5"); // the replacement's own u = 1: the same book
    feed("delta", 2, "99.6", true);
    oldClosed();
    feed("delta", 3, "99.7"); // the replacement carries on
    expect(sink.invalid).toEqual([]);
    expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastU: 3 });
    expect(sink.bids[0]).toEqual(new Map([[995, 1000], [996, 1000], [997, 1000]]));
    expect(adapter.stats()).toMatchObject({ venueResets: 1, duplicates: 1, gaps: 0 });
  });

  test("level 1, gone back: the failed replacement delivered the reset; the old socket's snapshot before it is ignored", async () => {
    const { adapter, sink, feed, overlap, goBack } = await replayed(1);
    feed("snapshot", 500, "100.5");
    overlap();
    feed("snapshot", 500, "100.5");
    feed("snapshot", 1, "99.5"); // the replacement: the venue reset
    goBack(); // the replacement failed: the old socket, under a new generation, still behind the reset
    feed("snapshot", 501, "100.6");
    // Before: applied, the book LIVE at bid 100.6 (the state before the reset).
    expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastU: 1 });
    expect(sink.bids[0]).toEqual(new Map([[995, 1000]]));
    feed("snapshot", 1, "99.5"); // its own u = 1: the same book
    feed("snapshot", 2, "99.6");
    expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastU: 2 });
    expect(sink.bids[0]).toEqual(new Map([[996, 1000]]));
    expect(adapter.stats()).toMatchObject({ venueResets: 1, olderSnapshots: 1 });
  });

  test("level 1: the replacement marked behind the old socket's reset carries on, is the old socket of a second overlap, and is gone back to: still behind", async () => {
    const { adapter, sink, feed, overlap, oldClosed, goBack } = await replayed(1);
    feed("snapshot", 500, "100.5");
    overlap();
    feed("snapshot", 501, "100.6"); // the replacement's subscribe snapshot: its stream has begun
    feed("snapshot", 1, "99.5", true); // the old socket: the venue reset; the replacement behind it
    oldClosed(); // the replacement carries on, still marked
    overlap(); // a second planned reconnect: the marked socket is its old one now
    feed("snapshot", 502, "100.7", true); // still behind: ignored
    goBack(); // its replacement failed: the marked socket again, under a new generation
    feed("snapshot", 503, "100.8"); // still the sequence before the reset
    // Before: the mark, kept as the replacement's (behindResetOld), was dropped at the go-back to it as an old socket's
    // that is not carried on; its snapshot, above the book's u, made the book the state before the reset (bid 100.8), LIVE.
    expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastU: 1 });
    expect(sink.bids[0]).toEqual(new Map([[995, 1000]]));
    feed("snapshot", 1, "99.5"); // its own u = 1 ends the mark
    feed("snapshot", 2, "99.6");
    expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastU: 2 });
    expect(adapter.stats()).toMatchObject({ olderSnapshots: 2, venueResets: 1 });
  });

  test("level 1: the book resynced during the overlap after the replacement's reset; the old socket's snapshot before it is ignored", async () => {
    const { adapter, sink, feed, overlap } = await replayed(1);
    feed("snapshot", 500, "100.5");
    overlap();
    feed("snapshot", 502, "100.7"); // the replacement, ahead
    feed("snapshot", 1, "99.5"); // the replacement: the venue reset; the old socket marked behind it
    adapter.requestResync(0, StatusReason.SEQUENCE_GAP); // resubscribed on the replacement: the old socket's stream goes on
    feed("snapshot", 503, "100.8", true); // the old socket, behind the reset
    // Before: taken (the mark ended with LIVE), the book LIVE at the state before the reset (bid 100.8), and the
    // replacement's answer below, of the new sequence, ignored as older (olderSnapshots).
    expect(adapter.topicInfo(0).state).toBe("resyncing");
    feed("snapshot", 5, "99.9"); // the replacement's answer
    expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastU: 5 });
    expect(sink.bids[0]).toEqual(new Map([[999, 1000]]));
    expect(adapter.stats()).toMatchObject({ olderSnapshots: 1 });
  });

  // OKX's mark held a book RESYNCING at replay's ws:back (its go-back's redone resync, live only, ends it). Bybit's
  // mark, once the overlap is over, holds off only a LIVE book, so the old socket's answer after ws:back is taken in
  // replay as in live.
  for (const depth of [1, 50]) {
    test(`depth ${depth}, replay's ws:back with the book RESYNCING, the old socket marked behind a reset: its resubscribe's answer taken, as live`, async () => {
      const { adapter, sink, ingest, socketEvent } = await replayedBybit(depth);
      socketEvent(SOCKETS_RECORDED_URL);
      ingest("snapshot", 500, "100.5"); // the old socket's
      socketEvent(SOCKET_SWAP_URL);
      ingest("snapshot", 502, "100.7"); // the replacement's, ahead
      ingest("snapshot", 1, "99.5"); // the replacement: the venue reset; the old socket marked behind it
      adapter.requestResync(0, StatusReason.SEQUENCE_GAP); // resubscribed on the replacement; the mark stays
      expect(adapter.topicInfo(0).state).toBe("resyncing");
      // The replacement failed: live redoes the resync on the old socket (restartWanted); its answer is of the new run.
      socketEvent(SOCKET_BACK_URL);
      ingest("snapshot", 40, "99.9");
      expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastU: 40 });
      expect(sink.bids[0]).toEqual(new Map([[999, 1000]]));
    });
  }
});

/** liveAndReplayedBybit on FakeWs sockets; `same(what)` checks replay's book equals live's after the records so far, and returns it. */
async function fakeSocketRig(depth: number) {
  FakeWs.made = [];
  vi.stubGlobal("WebSocket", FakeWs);
  const rig = await liveAndReplayedBybit(depth, () => FakeWs.made);
  const same = (what: string) => {
    const b = rig.books();
    expect(b.replay, what).toEqual(b.live);
    return b.live;
  };
  /** The first socket opened and acked: its snapshot at u 500 makes both books LIVE. */
  const liveAt500 = () => {
    FakeWs.made[0]!.onopen!(); // the first socket: its subscribe
    rig.ack(0);
    rig.deliver(0, rig.frame("snapshot", 500, "100.5"));
    expect(same("first snapshot")).toMatchObject({ state: "live", lastU: 500 });
  };
  return { ...rig, same, liveAt500 };
}

describe("bybit: live's go-back redoes a resync on the old socket; replay of its capture decides every frame as live", () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  // Live's goBack restarts a book asked to resync during the overlap (restartWanted) on the old socket: unsubscribe,
  // ack, subscribe. The old socket's frames in flight until then are ignored (the topic unsubscribing), among them its
  // frames of the sequence before a reset the replacement delivered. Replay sends no request: before, it took the
  // first of them after ws:back (the mark holds off only a LIVE book once the overlap is over), the book LIVE at the
  // state before the reset where live's was RESYNCING, then a venue reset more than live counted at the answer.
  for (const depth of [1, 50]) {
    test(`depth ${depth}: the old socket's frame of the sequence before the reset, in flight at the go-back's unsubscribe, is ignored in replay as live`, async () => {
      const rig = await fakeSocketRig(depth);
      const { live, replay, frame, deliver, ack, same } = rig;
      rig.liveAt500();
      rig.replanned(); // a planned reconnect: the replacement opens, the swap subscribes the book on it
      FakeWs.made[1]!.onopen!();
      deliver(1, frame("snapshot", 502, "100.7")); // the replacement, ahead (its ack not in yet: the overlap lasts)
      deliver(1, frame("snapshot", 1, "99.5")); // the replacement: the venue reset; the old socket behind it
      expect(same("the reset on the replacement")).toMatchObject({ state: "live", lastU: 1 });
      deliver(1, frame("snapshot", 2, "9x.5")); // unreadable price: the book resyncs (restartWanted)
      expect(same("the resync")).toMatchObject({ state: "resyncing" });
      deliver(0, frame(depth === 1 ? "snapshot" : "delta", 503, "100.8")); // the old socket, behind the reset: ignored
      expect(same("the old socket's frame during the overlap")).toMatchObject({ state: "resyncing" });
      FakeWs.made[1]!.onclose!({ code: 1006, reason: "" }); // the replacement fails: gone back to the old socket
      expect(FakeWs.made[0]!.sent.at(-1)).toContain('"unsubscribe"'); // the resync redone there
      expect(same("ws:back")).toMatchObject({ state: "resyncing" });
      deliver(0, frame("snapshot", 504, "100.9")); // in flight before the unsubscribe's ack: the sequence before the reset
      // Before: replay LIVE at bid 100.9, u 504 (the state before the reset); live RESYNCING.
      expect(same("the old socket's snapshot in flight")).toMatchObject({ state: "resyncing" });
      deliver(0, frame("snapshot", 1, "99.5")); // its own u = 1, still in flight: live ignores it too
      expect(same("its own u = 1 in flight")).toMatchObject({ state: "resyncing" });
      ack(0); // unsubscribed: the subscribe goes
      expect(FakeWs.made[0]!.sent.at(-1)).toContain('"subscribe"');
      ack(0);
      deliver(0, frame("snapshot", 40, "99.9")); // the resubscribe's answer, of the new sequence
      expect(same("the answer")).toMatchObject({ state: "live", lastU: 40, bids: new Map([[999, 1000]]) });
      expect(replay.stats()).toMatchObject({ venueResets: live.stats().venueResets, ignoredWhileUnsubscribed: live.stats().ignoredWhileUnsubscribed });
      await rig.stop();
    });
  }

  // A resubscribe on the replacement during the overlap starts its stream of the book over: its answer may be of the
  // run after a reset the old socket delivers, with no u = 1 to follow (as a replacement that had delivered nothing
  // yet: otherBehindReset; Deribit's onSubscribeWritten and OKX's clear do the same). Before, the replacement stayed (or was)
  // marked behind that reset by its frames before the resubscribe, every frame of its new stream ignored, the book LIVE
  // at the old socket's last state (frozen once the old socket closed) until stale. Now a subscribe written on a socket
  // ends its mark and what it had delivered (onSubscribeWritten; replay: the recorded ws:req).
  for (const resetFirst of [false, true]) {
    test(`level 1: the book resubscribed on the replacement during the overlap, the old socket's reset ${resetFirst ? "before the resync" : "once the subscribe is out"}: its answer is taken`, async () => {
      const rig = await fakeSocketRig(1);
      const { live, replay, frame, deliver, ack, same } = rig;
      rig.liveAt500();
      rig.replanned();
      FakeWs.made[1]!.onopen!(); // the swap subscribes the book on the replacement
      deliver(1, frame("snapshot", 501, "100.6")); // the replacement's stream of the book has begun
      ack(1);
      // The old socket's reset: taken, the replacement marked behind it (its stream had begun).
      if (resetFirst) deliver(0, frame("snapshot", 1, "99.5"));
      live.requestResync(0, StatusReason.CROSSED_BOOK); // resubscribed on the replacement
      expect(FakeWs.made[1]!.sent.at(-1)).toContain('"unsubscribe"');
      ack(1); // unsubscribed: the resubscribe goes
      expect(FakeWs.made[1]!.sent.at(-1)).toContain('"subscribe"');
      // The old socket goes on (its reset, or its next book of the run after it): the book LIVE by it.
      deliver(0, frame("snapshot", resetFirst ? 2 : 1, "99.6"));
      expect(same("the old socket's book")).toMatchObject({ state: "live", lastU: resetFirst ? 2 : 1, bids: new Map([[996, 1000]]) });
      ack(1);
      deliver(1, frame("snapshot", 5, "99.9")); // the resubscribe's answer, of the run after the reset
      // Before: ignored as the replacement's run before the reset (olderSnapshots), the book LIVE at bid 99.6.
      expect(same("the answer")).toMatchObject({ state: "live", lastU: 5, bids: new Map([[999, 1000]]) });
      deliver(1, frame("snapshot", 6, "100.0"));
      expect(same("the replacement goes on")).toMatchObject({ state: "live", lastU: 6, bids: new Map([[1000, 1000]]) });
      expect(live.stats()).toMatchObject({ venueResets: 1, olderSnapshots: 0 });
      expect(replay.stats()).toMatchObject({ venueResets: 1, olderSnapshots: 0 });
      await rig.stop();
    });
  }

  test("replay: a resync's recorded unsubscribe holds the book until its recorded subscribe, or a ws:state after its ack if that was lost", async () => {
    const { adapter, conn, ingest, socketEvent } = await replayedBybit(1);
    const topic = "orderbook.1.BTCUSDT";
    socketEvent(SOCKETS_RECORDED_URL);
    ingest("snapshot", 500, "100.5");
    adapter.requestResync(0, StatusReason.SEQUENCE_GAP);
    /** The venue's answer to request `id`, as recorded. */
    const answer = (id: string, op: string) => adapter.ingestFrame("linear", conn.name, JSON.stringify({ success: true, ret_msg: "", conn_id: "c", req_id: id, op }), 1);
    socketEvent(`ws:req ${JSON.stringify(["u1", "unsubscribe", [topic]])}`);
    ingest("snapshot", 501, "100.6"); // in flight before the unsubscribe's ack: ignored, as live
    expect(adapter.topicInfo(0).state).toBe("resyncing");
    answer("u1", "unsubscribe");
    socketEvent(`ws:req ${JSON.stringify(["s2", "subscribe", [topic]])}`);
    answer("s2", "subscribe");
    ingest("snapshot", 502, "100.7"); // the answer
    expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastU: 502 });
    adapter.requestResync(0, StatusReason.SEQUENCE_GAP);
    socketEvent(`ws:req ${JSON.stringify(["u3", "unsubscribe", [topic]])}`);
    answer("u3", "unsubscribe"); // answered: a ws:state now ends the hold (one still out it does not: next test)
    socketEvent(SOCKETS_STATE_URL); // the subscribe's record lost (a block the disk could not take)
    ingest("snapshot", 503, "100.8");
    // Without the ws:state's release: held until the connection's next close, the book RESYNCING throughout.
    expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastU: 503 });
    expect(adapter.stats()).toMatchObject({ ignoredWhileUnsubscribed: 1 });
  });

  test("replay: a ws:state ends a hold whose unsubscribe is unanswered past the ack deadline (live would have closed the socket: its answer lost), not one within it", async () => {
    let nowMs = 1_000_000;
    const { adapter, ingest, socketEvent } = await replayedBybit(1, { now: () => nowMs });
    const topic = "orderbook.1.BTCUSDT";
    socketEvent(SOCKETS_RECORDED_URL);
    ingest("snapshot", 500, "100.5");
    adapter.requestResync(0, StatusReason.SEQUENCE_GAP);
    socketEvent(`ws:req ${JSON.stringify(["u1", "unsubscribe", [topic]])}`);
    nowMs += 9_000;
    socketEvent(SOCKETS_STATE_URL); // within the 10 s deadline: live's unsubscribe may still be out
    ingest("snapshot", 501, "100.6");
    expect(adapter.topicInfo(0).state).toBe("resyncing");
    nowMs += 2_000;
    socketEvent(SOCKETS_STATE_URL); // past it: the ack and the subscribe lost with a block
    ingest("snapshot", 502, "100.7");
    expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastU: 502 });
  });

  test("depth 1: the minute's ws:state while a resync's unsubscribe is out holds the book still: its in-flight snapshot is ignored in replay as live", async () => {
    // Live writes ws:state every minute with one socket, whatever its requests. Until 2026-12-07 it ended replay's hold
    // (for a subscribe record lost with a block): the snapshot in flight before the ack made the book LIVE in replay alone.
    const rig = await fakeSocketRig(1);
    const { live, replay, frame, deliver, ack, same } = rig;
    rig.liveAt500();
    deliver(0, frame("snapshot", 501, "9x.5")); // unreadable price: the book resyncs (unsubscribe out)
    expect(FakeWs.made[0]!.sent.at(-1)).toContain('"unsubscribe"');
    rig.conn.socketsDeclaredMs = -Infinity; // the minute is up: the next housekeeping round says ws:state
    (live as unknown as { lifecycle: { onHousekeeping(): void } }).lifecycle.onHousekeeping();
    expect(rig.records.at(-1)).toMatchObject({ url: "ws:state" });
    deliver(0, frame("snapshot", 502, "100.7")); // in flight before the unsubscribe's ack
    // Before: replay LIVE at u 502; live RESYNCING.
    expect(same("the snapshot in flight after ws:state")).toMatchObject({ state: "resyncing" });
    ack(0);
    ack(0);
    deliver(0, frame("snapshot", 503, "100.8")); // the resubscribe's answer
    expect(same("the answer")).toMatchObject({ state: "live", lastU: 503 });
    expect(replay.stats()).toMatchObject({ ignoredWhileUnsubscribed: live.stats().ignoredWhileUnsubscribed });
    await rig.stop();
  });

  // The same without a go-back: the old socket delivered the reset, the replacement (its stream begun) is marked behind
  // it and carries on once the old socket is closed; a resync there unsubscribes it, and its frames in flight, of the
  // sequence before the reset, are ignored live (unsubscribing). Before, replay took the first: LIVE at that state.
  test("level 1: the replacement behind the old socket's reset carries on; a resync's in-flight snapshot before the reset is ignored in replay as live", async () => {
    const rig = await fakeSocketRig(1);
    const { live, replay, frame, deliver, ack, same } = rig;
    rig.liveAt500();
    rig.replanned();
    FakeWs.made[1]!.onopen!();
    deliver(1, frame("snapshot", 501, "100.6")); // the replacement's subscribe snapshot: its stream has begun
    deliver(0, frame("snapshot", 1, "99.5")); // the old socket: the venue reset; the replacement behind it
    ack(1); // the replacement carries the book: the old socket is closed (ws:retired), the mark stays on the replacement
    expect(same("the overlap over")).toMatchObject({ state: "live", lastU: 1, bids: new Map([[995, 1000]]) });
    deliver(1, frame("snapshot", 502, "100.7")); // still behind: ignored
    deliver(1, frame("snapshot", 2, "9x.5")); // unreadable price: the book resyncs (unsubscribe on the replacement)
    expect(FakeWs.made[1]!.sent.at(-1)).toContain('"unsubscribe"');
    expect(same("the resync")).toMatchObject({ state: "resyncing" });
    deliver(1, frame("snapshot", 503, "100.8")); // in flight before the unsubscribe's ack: the sequence before the reset
    // Before: replay LIVE at bid 100.8, u 503; live RESYNCING.
    expect(same("the snapshot in flight")).toMatchObject({ state: "resyncing" });
    ack(1);
    ack(1);
    deliver(1, frame("snapshot", 7, "99.9")); // the resubscribe's answer
    expect(same("the answer")).toMatchObject({ state: "live", lastU: 7, bids: new Map([[999, 1000]]) });
    expect(replay.stats()).toMatchObject({ venueResets: live.stats().venueResets, ignoredWhileUnsubscribed: live.stats().ignoredWhileUnsubscribed });
    await rig.stop();
  });
});

describe("bybit: a venue reset during or after an overlap, randomized against a model of what each socket delivered", () => {
  test("a frame below the book is a reset exactly when its socket had delivered the book's u", async () => {
    // The model: both sockets carry the same u stream (+1 each), the old one from u 500 (delivered before the swap), the
    // replacement from its subscribe snapshot at any u up to the last; their frames interleave at random; the book is
    // at the highest u delivered. Then a frame below it (a venue reset whose u = 1 was lost: a delta or a snapshot) on
    // either socket while the overlap lasts, or on the one carrying on after it (the old socket closed, or gone back
    // to): a reset when that socket had delivered the book's u (TCP is ordered), else that socket's trail.
    const rng = new Rng(20261206);
    const counts = { resets: 0, trails: 0, during: 0, after: 0 };
    for (let round = 0; round < 200; round++) {
      const depth = rng.next() < 0.5 ? 50 : 1;
      const { adapter, sink, conn, feed, overlap, oldClosed, goBack } = await replayed(depth);
      // Sides read in TypeScript: a WebAssembly side reader per adapter costs ~10 ms to instantiate, and the frames
      // here are short (the scanner would not hand them to it anyway).
      Object.assign(conn, { scanner: new BybitScanner(false) });
      const px = (u: number) => (100 + (u - 500) / 10).toFixed(1);
      // Level 1 sends only snapshots; deeper books a snapshot on subscribe, then deltas.
      const kind = (first: boolean) => (depth === 1 || first ? "snapshot" : "delta");
      feed("snapshot", 500, px(500));
      overlap();
      const last = 500 + rng.int(1, 6);
      const sb = rng.int(500, last); // the replacement's subscribe snapshot
      const script: ("old" | "new")[] = [];
      for (let u = 501; u <= last; u++) script.push("old");
      for (let u = sb; u <= last; u++) script.push("new");
      for (let i = script.length - 1; i > 0; i--) {
        const j = rng.int(0, i);
        [script[i], script[j]] = [script[j]!, script[i]!];
      }
      const cut = rng.int(0, script.length);
      let pa = 500; // the highest u each socket delivered (-1: none)
      let pb = -1;
      for (const who of script.slice(0, cut)) {
        if (who === "old") feed(kind(false), ++pa, px(pa), true);
        else {
          pb = pb < 0 ? sb : pb + 1;
          feed(kind(pb === sb), pb, px(pb));
        }
      }
      const book = Math.max(pa, pb);
      expect(sink.invalid).toEqual([]);
      expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastU: book });
      // During the overlap (on either socket), or after it on the one that carries on.
      let fromOld: boolean;
      if (rng.next() < 0.5) {
        counts.during++;
        fromOld = rng.next() < 0.5;
      } else {
        counts.after++;
        fromOld = !(pb >= 0 && rng.next() < 0.5);
        if (fromOld) goBack();
        else oldClosed();
        expect(conn.retiringGeneration).toBe(-1);
      }
      const reached = (fromOld ? pa : pb) === book;
      const asSnapshot = depth === 1 || rng.next() < 0.3;
      const before = adapter.stats();
      feed(asSnapshot ? "snapshot" : "delta", 3, "99.5", fromOld && conn.retiringGeneration >= 0);
      const after = adapter.stats();
      const where = `round ${round}: depth ${depth}, old ${pa}, replacement ${pb}, ${asSnapshot ? "snapshot" : "delta"} from the ${fromOld ? "old socket" : "replacement"}`;
      if (reached) {
        counts.resets++;
        expect(after.venueResets - before.venueResets, where).toBe(1);
        if (asSnapshot) {
          expect(sink.invalid, where).toEqual([]);
          expect(adapter.topicInfo(0), where).toMatchObject({ state: "live", lastU: 3 });
          expect(sink.bids[0], where).toEqual(new Map([[995, 1000]]));
        } else expect(sink.invalid, where).toEqual([{ index: 0, state: BookState.RESYNCING, reason: StatusReason.VENUE_RESET }]);
      } else {
        counts.trails++; // a lower frame from a socket still behind the book: its trail, indistinguishable
        expect(after.venueResets - before.venueResets, where).toBe(0);
        expect(sink.invalid, where).toEqual([]);
        expect(adapter.topicInfo(0), where).toMatchObject({ state: "live", lastU: book });
      }
    }
    expect(Math.min(counts.resets, counts.trails, counts.during, counts.after)).toBeGreaterThan(20);
  });
});
