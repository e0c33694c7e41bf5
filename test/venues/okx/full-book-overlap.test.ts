/**
 * OKX full books (books5, bbo-tbt) during a planned reconnect's overlap: a book at or below the last seqId from a
 * socket that has not delivered that seqId only lags and is ignored; from a socket that has (the one of record, or
 * the other that repeated it; TCP is ordered) it is a maintenance reset and replaces the book, as it does outside an
 * overlap. Ignoring it left the book LIVE at its old levels. After a reset taken from one socket, the other's books are
 * of the run before it until its own reset (below its own last seqId) and are ignored (applied, the book stepped back
 * to a pre-reset book, LIVE). When the overlap ends, a book the socket carrying on has not delivered last is RESYNCING
 * until that socket's next book (it may be at levels the exchange left), unless that socket is behind in the same run
 * (a lower seqId and an earlier venue time, not marked behind a reset): LIVE, its trail ignored. In-process: replay mode, frames fed straight in, the two
 * sockets told apart as the planned reconnect does (generation, retiringGeneration, retiringWs, fromRetiring).
 */
import { describe, expect, test } from "vitest";
import { StatusReason } from "../../../src/core/types.ts";
import { Rng } from "../../../src/sim/rng.ts";
import type { PlannedReconnects } from "../../../src/venues/common/planned-reconnect.ts";
import type { OkxConnection } from "../../../src/venues/okx/connection.ts";
import { OkxScanner } from "../../../src/venues/okx/scanner.ts";
import { books5Adapter } from "./helpers.ts";

class Sink {
  seq = -1;
  bid = -1;
  invalid = 0;
  onBookUpdate(_i: number, u: { venueSeq: number; bidCount: number; bidPx: Float64Array }): void {
    this.seq = u.venueSeq;
    this.bid = u.bidCount > 0 ? u.bidPx[0]! : -1;
  }
  onBookInvalid(): void {
    this.invalid++;
  }
  onInstrumentChanged(): void {}
}

/**
 * The rig of the first two tests: books5's one book in replay mode at seqId 100 (bid 100.1) on the connection's
 * socket, then a planned reconnect's swap: the replacement is the connection's socket, the old one still delivers.
 * `feed` gives a full book at `seq` with bid `bid` on the connection's socket, or (old = true) the old one.
 */
async function seqOverlapRig() {
  const adapter = await books5Adapter();
  const sink = new Sink();
  adapter.startReplay(sink as never);
  const conn = (adapter as unknown as { conns: OkxConnection[] }).conns[0]!;
  const feed = (seq: number, bid: string, old = false) => {
    conn.fromRetiring = old;
    try {
      conn.onFrameAt(`{"arg":{"channel":"books5","instId":"BTC-USDT"},"data":[{"asks":[["200.1","1","0","1"]],"bids":[["${bid}","1","0","1"]],"instId":"BTC-USDT","seqId":${seq}}]}`, 1);
    } finally {
      conn.fromRetiring = false;
    }
  };
  feed(100, "100.1");
  conn.retiringWs = {} as WebSocket;
  conn.retiringGeneration = conn.generation;
  conn.generation = ++conn.genSeq;
  return { adapter, sink, conn, feed };
}

test("okx books5 in an overlap: the other socket's lower seqId is ignored, the same socket's is a reset", async () => {
  const { adapter, sink, conn, feed } = await seqOverlapRig();
  feed(101, "100.2", true); // the old socket, ahead
  feed(100, "100.1"); // the replacement, lagging: ignored
  expect([adapter.stats().duplicates, sink.seq]).toEqual([1, 101]);
  feed(7, "99.5", true); // the old socket after a maintenance reset
  // Old: ignored as the lagging socket's (duplicates 2); the book stayed at seqId 101, bid 100.2, LIVE.
  expect([adapter.stats().duplicates, adapter.stats().maintenanceResets, sink.seq, sink.invalid]).toEqual([1, 1, 7, 0]);
  expect(adapter.topicInfo(0)).toMatchObject({ seqId: 7, state: "live" });
  feed(8, "99.6"); // the replacement, past it now: takes over
  feed(8, "99.6", true); // the old one at the same seqId: ignored
  expect([adapter.stats().duplicates, sink.seq]).toEqual([2, 8]);
  conn.retiringWs = null;
});

test("okx books5 in an overlap: seqId 0 is a seqId like the others (the other socket's is ignored, the same socket's is a reset)", async () => {
  const { adapter, sink, conn, feed } = await seqOverlapRig();
  feed(101, "100.2", true); // the old socket, ahead
  // The replacement, not at the book, at seqId 0: ignored as lagging, as 100 would be. Before s-seqnone 0 skipped the
  // rule ("no seqId") and replaced the book: LIVE at a book the old socket had left.
  feed(0, "99.0");
  expect([adapter.stats().duplicates, adapter.stats().maintenanceResets, sink.seq]).toEqual([1, 0, 101]);
  feed(0, "99.5", true); // the old socket, at the book, goes to 0: a maintenance reset
  expect([adapter.stats().maintenanceResets, sink.seq]).toEqual([1, 0]);
  expect(adapter.topicInfo(0)).toMatchObject({ seqId: 0, state: "live" });
  conn.retiringWs = null;
});

// The same through a capture that records the sockets (ws:sockets, ws:swap, ws:old, ws:retired: venue.ts), fed as
// replay feeds it: the overlap and each frame's socket are the live run's. Without the events, replay applied the
// lagging replacement's lower book as a reset (the book stepped back to 100).
test("okx books5 replayed with the recorded sockets: the lagging replacement's lower book is ignored, as live", async () => {
  const adapter = await books5Adapter();
  const sink = new Sink();
  adapter.startReplay(sink as never);
  const seqs: number[] = [];
  const event = (url: string) => expect(adapter.ingestConnectionEvent("spot", "conn0.spot", url, 1)).toBe(true);
  const feed = (seq: number, bid: string) => {
    adapter.ingestFrame("spot", "conn0.spot", `{"arg":{"channel":"books5","instId":"BTC-USDT"},"data":[{"asks":[["200.1","1","0","1"]],"bids":[["${bid}","1","0","1"]],"instId":"BTC-USDT","seqId":${seq}}]}`, 1);
    seqs.push(sink.seq);
  };
  event("ws:open");
  event("ws:sockets");
  feed(100, "100.1");
  event("ws:swap");
  event("ws:old");
  feed(101, "100.2"); // the old socket, ahead
  feed(100, "100.1"); // the replacement, lagging: ignored
  event("ws:old");
  feed(102, "100.3"); // the old socket
  event("ws:retired"); // the replacement's last book (100) is not the book: RESYNCING until its next (onOverlapOver)
  expect(adapter.topicInfo(0)).toMatchObject({ state: "resyncing" });
  feed(102, "100.3"); // the replacement, caught up: LIVE again
  feed(103, "100.4");
  expect(seqs).toEqual([100, 101, 101, 102, 102, 103]);
  expect([adapter.stats().duplicates, adapter.stats().maintenanceResets, sink.invalid, adapter.stats().overlapEndHolds]).toEqual([1, 0, 1, 1]);
  expect(adapter.topicInfo(0)).toMatchObject({ state: "live", seqId: 103 });
  await adapter.stop();
});

// Replay ends the overlap as live does (ws:retired, ws:back, with the old socket's generation): a carrier behind by
// the venue's times keeps the book LIVE there too, its trail ignored. Before, the book went RESYNCING at each end.
test("okx books5 replayed with the recorded sockets: a carrier behind at ws:retired or ws:back keeps the book LIVE, as live", async () => {
  for (const end of ["ws:retired", "ws:back"] as const) {
    const adapter = await books5Adapter();
    const sink = new Sink();
    adapter.startReplay(sink as never);
    const event = (url: string) => expect(adapter.ingestConnectionEvent("spot", "conn0.spot", url, 1)).toBe(true);
    const feed = (seq: number, old = false) => {
      if (old) event("ws:old");
      adapter.ingestFrame("spot", "conn0.spot", `{"arg":{"channel":"books5","instId":"BTC-USDT"},"data":[{"asks":[["200.1","1","0","1"]],"bids":[["${(100 + seq / 10).toFixed(1)}","1","0","1"]],"instId":"BTC-USDT","ts":"${1700000000000 + seq}","seqId":${seq}}]}`, 1);
    };
    event("ws:open");
    event("ws:sockets");
    feed(100);
    event("ws:swap");
    feed(100); // the replacement's subscribe book
    const ahead = end === "ws:retired"; // the old socket ahead (closed), or the replacement (failed)
    feed(101, ahead);
    feed(102, ahead);
    event(end);
    expect([adapter.topicInfo(0).state, sink.invalid, sink.seq], end).toEqual(["live", 0, 102]);
    feed(101); // the carrier's trail: ignored
    feed(102);
    feed(103);
    expect([adapter.topicInfo(0).state, sink.seq, adapter.stats().maintenanceResets, adapter.stats().overlapEndHolds], end).toEqual(["live", 103, 0, 0]);
    await adapter.stop();
  }
});

// A capture file's head (app/capture-sockets.ts) can come between a ws:old and its frame: the writer cuts a block at
// its file's UTC boundary by receive time, and the frame, the first of its event-loop turn, is stamped a microsecond
// after the ws:old recorded before it (core/clock.ts turnReceiptUs is read at the turn's first frame). Replayed in a
// row, the head repeats the overlap replay knows and must leave the ws:old's frame the old socket's.
test("okx books5 replayed: a file head between a ws:old and its frame leaves that frame the old socket's", async () => {
  const adapter = await books5Adapter();
  const sink = new Sink();
  adapter.startReplay(sink as never);
  const event = (url: string) => expect(adapter.ingestConnectionEvent("spot", "conn0.spot", url, 1)).toBe(true);
  const feed = (seq: number, bid: string) =>
    adapter.ingestFrame("spot", "conn0.spot", `{"arg":{"channel":"books5","instId":"BTC-USDT"},"data":[{"asks":[["200.1","1","0","1"]],"bids":[["${bid}","1","0","1"]],"instId":"BTC-USDT","ts":"1700000000000","seqId":${seq}}]}`, 1);
  event("ws:open");
  event("ws:sockets");
  feed(100, "100.1");
  event("ws:swap");
  event("ws:old");
  feed(101, "100.2"); // the old socket, ahead: the book's socket of record
  event("ws:old"); // the last record of one file …
  event("ws:overlap"); // … the next file's head …
  feed(7, "99.5"); // … and the old socket's frame: a maintenance reset on the book's socket, as live applied it
  // Before: the head cleared the pending ws:old, the frame was taken for the replacement's and ignored as lagging
  // (duplicates 1, the book LIVE at 101 with the pre-reset levels).
  expect([adapter.stats().duplicates, adapter.stats().maintenanceResets, sink.seq]).toEqual([0, 1, 7]);
  await adapter.stop();
});

/**
 * The rig of the socket-of-record tests below: books5's one book in replay mode, its frames read by the TypeScript
 * side reader (a WebAssembly one per adapter costs ~10 ms to instantiate; these frames are short), the planned
 * reconnect's swap, the old socket's close and the go-back done as the lifecycle does them.
 */
async function overlapRig() {
  const adapter = await books5Adapter();
  const sink = new Sink();
  adapter.startReplay(sink as never);
  const conn = (adapter as unknown as { conns: OkxConnection[] }).conns[0]!;
  Object.assign(conn, { scanner: new OkxScanner(false) });
  const planned = (adapter as unknown as { lifecycle: { planned: PlannedReconnects } }).lifecycle.planned;
  const px = (seq: number) => (100 + seq / 10).toFixed(1);
  /**
   * A full book at `seq` (bid 100 + seq / 10) on the connection's socket, or (old = true) the overlap's old one; its
   * venue time `tsMs` (by default none: the seqId rules decide, as they did for books in one millisecond before
   * 2026-12-07, which are now held while two sockets' books interleave).
   */
  const feed = (seq: number, old = false, tsMs = 0) => {
    conn.fromRetiring = old;
    const ts = tsMs > 0 ? `"ts":"${tsMs}",` : "";
    try {
      conn.onFrameAt(`{"arg":{"channel":"books5","instId":"BTC-USDT"},"data":[{"asks":[["300.1","1","0","1"]],"bids":[["${px(seq)}","1","0","1"]],"instId":"BTC-USDT",${ts}"seqId":${seq}}]}`, 1);
    } finally {
      conn.fromRetiring = false;
    }
  };
  /** A planned reconnect's swap: the replacement is the connection's socket, the old one still delivers. */
  const overlap = () => {
    conn.retiringWs = { readyState: 1, onmessage: null, close() {} } as unknown as WebSocket;
    conn.retiringGeneration = conn.generation;
    conn.generation = ++conn.genSeq;
    for (const t of conn.topics) t.onRetiring = true;
  };
  const oldClosed = () => planned.onRetiringClosed(conn, "test");
  const goBack = () => planned.goBack(conn, "test");
  /** The seqId whose levels the book shows (its bid's mantissa, tick 0.1, is 1000 + seqId). */
  const shown = () => sink.bid - 1000;
  return { adapter, sink, conn, feed, overlap, oldClosed, goBack, shown };
}

describe("okx books5: during an overlap, a lower book from either socket that delivered the book's seqId is a reset", () => {
  // Before 2026-12-06 only the socket that delivered the last seqId counted, and a book at that seqId from the other
  // socket was ignored without a trace: once both had delivered it, a lower book on the one not of record (TCP is
  // ordered: no trailing copy there) was ignored as the lagging socket's, and so was every book after it until its
  // seqIds passed the old ones or the other socket delivered the reset, the book LIVE at its pre-reset levels.
  test("the replacement leads; the old socket reaches its seqId, then goes lower: a maintenance reset, applied", async () => {
    const { adapter, sink, feed, overlap, shown } = await overlapRig();
    feed(100); // on the old socket, before the overlap
    overlap();
    feed(101); // the replacement, ahead
    feed(101, true); // the old socket reaches it: a copy, ignored
    feed(7, true); // the old socket after a maintenance reset
    // Before: ignored as the lagging socket's (duplicates 2), the book LIVE at 101's levels.
    expect([adapter.stats().duplicates, adapter.stats().maintenanceResets, sink.seq, shown(), sink.invalid]).toEqual([1, 1, 7, 7, 0]);
    expect(adapter.topicInfo(0)).toMatchObject({ seqId: 7, state: "live" });
  });

  test("the replacement's subscribe book repeats the book's seqId; its lower book is a reset", async () => {
    const { adapter, sink, feed, overlap, shown } = await overlapRig();
    feed(100);
    overlap();
    feed(100); // the replacement's first book, at the book's seqId: ignored
    feed(7); // the replacement after a maintenance reset
    // Before: ignored (duplicates 2), the book LIVE at 100.
    expect([adapter.stats().duplicates, adapter.stats().maintenanceResets, sink.seq, shown()]).toEqual([1, 1, 7, 7]);
    feed(7, true); // the old socket's copy of it: ignored
    expect([adapter.stats().duplicates, sink.seq, shown()]).toEqual([2, 7, 7]);
  });

  test("a reset taken from the old socket, then the lagging replacement's pre-reset books (higher seqIds): ignored until its own reset", async () => {
    const { adapter, sink, feed, overlap, goBack, shown } = await overlapRig();
    feed(500);
    overlap();
    feed(502, true); // the old socket, ahead
    feed(3, true); // the old socket after a maintenance reset: applied (it delivered 502)
    feed(501); // the replacement, lagging: its pre-reset book, a higher seqId
    feed(502); // and its next
    // Before: both applied, the book LIVE at 502's pre-reset levels (and after a go-back held until the old socket's next).
    expect([sink.seq, shown(), adapter.stats().duplicates, adapter.topicInfo(0).state]).toEqual([3, 3, 2, "live"]);
    feed(3); // its reset: a copy of the book's
    feed(4); // then ahead of the old socket: taken
    expect([sink.seq, shown(), adapter.stats().duplicates]).toEqual([4, 4, 3]);
    goBack(); // the replacement failed; the old socket carries on, not at the book's seqId: held until its next
    expect([adapter.topicInfo(0).state, sink.invalid, adapter.stats().overlapEndHolds]).toEqual(["resyncing", 1, 1]);
    feed(4);
    expect([adapter.topicInfo(0).state, shown()]).toEqual(["live", 4]);
  });

  test("the old socket behind a reset the replacement delivered, gone back to: held, its pre-reset books ignored until its reset", async () => {
    const { adapter, sink, feed, overlap, goBack, shown } = await overlapRig();
    feed(500);
    overlap();
    feed(500); // the replacement's subscribe book: a copy
    feed(3); // the replacement after a maintenance reset: applied (it delivered 500)
    goBack(); // the replacement failed; the old socket, still before the reset, carries on
    expect([adapter.topicInfo(0).state, sink.invalid]).toEqual(["resyncing", 1]);
    feed(501); // its pre-reset book. Before: taken (the held book's next, whatever its seqId), LIVE at 501
    expect([adapter.topicInfo(0).state, shown(), adapter.stats().duplicates]).toEqual(["resyncing", 3, 2]);
    feed(3); // its reset
    expect([adapter.topicInfo(0).state, shown()]).toEqual(["live", 3]);
  });

  test("the replacement's first book after the old socket's reset, above the book: ignored; the old socket closed, the book is resubscribed", async () => {
    const { adapter, sink, feed, overlap, oldClosed, shown } = await overlapRig();
    feed(500);
    overlap();
    feed(502, true);
    feed(3, true); // a maintenance reset on the old socket: applied
    feed(501); // the replacement's first book: from before the reset (subscribed before it), or ahead in the new run?
    // Before: applied, the book LIVE at 501's pre-reset levels.
    expect([sink.seq, shown(), adapter.stats().duplicates, adapter.topicInfo(0).state]).toEqual([3, 3, 1, "live"]);
    oldClosed(); // nothing tells the replacement's next books apart now: resubscribed (its answer is of the venue's run)
    expect([adapter.topicInfo(0).state, adapter.topicInfo(0).resyncs, adapter.stats().overlapEndHolds]).toEqual(["resyncing", 1, 1]);
  });

  // Guards of the rule above (these pass on the code before it too): a socket already in the reset's run is not held off.
  test("a socket that passed the reset before the book took it, or whose position the book reaches, is taken as usual", async () => {
    const { adapter, sink, feed, overlap, shown } = await overlapRig();
    feed(500);
    overlap();
    feed(501); // the replacement, ahead: taken
    feed(4, true); // the old socket after a reset: below its own 500, but it never delivered 501: ignored as a trail
    feed(3); // the replacement's reset: taken (it delivered 501); the old socket passed it already: not behind it
    feed(5, true); // so its next book is of the new run, ahead: taken
    expect([sink.seq, shown(), adapter.stats().maintenanceResets]).toEqual([5, 5, 1]);
    const b = await overlapRig();
    b.feed(500);
    b.overlap();
    b.feed(4); // the replacement's first book, below the book: a trail (it is of the new run: nothing tells)
    b.feed(3, true); // the old socket's reset: taken; the replacement may be behind it (its 4 a pre-reset trail)
    b.feed(5); // ignored: may be before the reset
    b.feed(4, true);
    b.feed(5, true); // the book reaches the replacement's 5: that was of the new run
    b.feed(6); // taken
    expect([b.sink.seq, b.shown(), b.adapter.stats().duplicates]).toEqual([6, 6, 2]);
  });

  test("a socket that saw a reset alone before the overlap is still marked behind the next one the book takes from the other", async () => {
    const { adapter, sink, feed, overlap, shown } = await overlapRig();
    feed(500);
    feed(3); // a maintenance reset on the one socket, before any overlap: applied
    feed(4);
    overlap();
    feed(4); // the replacement's subscribe book: a copy
    feed(1); // the replacement after a second reset: taken (it delivered 4)
    feed(5, true); // the old socket, behind that reset: a pre-reset book
    // Before: the old socket's drop to 3 (long before) was kept as its having passed this reset: not marked, its 5
    // applied, the book LIVE at a run the venue had left.
    expect([sink.seq, shown(), adapter.stats().duplicates, adapter.topicInfo(0).state]).toEqual([1, 1, 2, "live"]);
    feed(1, true); // its reset: a copy
    feed(2, true); // then ahead: taken
    expect([sink.seq, shown()]).toEqual([2, 2]);
  });

  test("two resets in one overlap: the socket behind both is ignored through the run between them, and resubscribed if it carries on", async () => {
    const { adapter, sink, feed, overlap, shown } = await overlapRig();
    feed(500);
    overlap();
    feed(500); // the replacement's subscribe book: a copy
    feed(502, true);
    feed(3, true); // a reset on the old socket: taken, the replacement marked
    feed(501); // the replacement's pre-reset book: ignored
    feed(4, true);
    feed(1, true); // a second reset on the old socket: taken
    feed(3); // the replacement's first reset: of the run between the two
    feed(4);
    // Before: its drop to 3 ended the mark, 3 and 4 applied, the book LIVE at the run the second reset left.
    expect([sink.seq, shown(), adapter.stats().duplicates, adapter.topicInfo(0).state]).toEqual([1, 1, 4, "live"]);
    feed(1); // its second reset: a copy
    feed(2); // then ahead: taken
    expect([sink.seq, shown()]).toEqual([2, 2]);
    // Still behind both at the overlap's end, its books past its first drop could not be placed: resubscribed.
    const b = await overlapRig();
    b.feed(500);
    b.overlap();
    b.feed(500);
    b.feed(3, true);
    b.feed(1, true);
    b.feed(501);
    b.oldClosed();
    expect([b.adapter.topicInfo(0).state, b.adapter.topicInfo(0).resyncs, b.shown()]).toEqual(["resyncing", 1, 1]);
  });

  test("a resync during the overlap resubscribes on the replacement: the old socket, behind a reset, stays marked", async () => {
    const { adapter, sink, feed, overlap, shown } = await overlapRig();
    feed(500);
    overlap();
    feed(500); // the replacement's subscribe book: a copy
    feed(3); // the replacement after a maintenance reset: taken, the old socket marked
    adapter.requestResync(0, StatusReason.SEQUENCE_GAP); // resubscribed on the replacement; the old socket's stream goes on
    expect(adapter.topicInfo(0).state).toBe("resyncing");
    feed(501, true); // the old socket's pre-reset book
    // Before: the resubscribe ended the mark, and the book, not LIVE, took it: LIVE at 501 of the run the venue left.
    expect([adapter.topicInfo(0).state, shown()]).toEqual(["resyncing", 3]);
    feed(4); // the replacement's answer: taken
    feed(502, true);
    expect([adapter.topicInfo(0).state, sink.seq, shown()]).toEqual(["live", 4, 4]);
    feed(4, true); // the old socket's reset: a copy; the mark is over
    feed(5, true);
    expect([sink.seq, shown()]).toEqual([5, 5]);
  });

  // A subscribe written on a marked socket without a restart (a refused subscribe's retry; here its recorded ws:req,
  // which tells the adapter as live's send does) starts that socket's stream over: written after the reset came, its
  // answer is of the venue's run. Before, only a restart (or the connection's end, a closure) ended OKX's mark: the
  // answer and every book after it not below the socket's last pre-reset seqId were ignored (no sign of life), the
  // book not LIVE until the stale rule resubscribed it (120 s).
  test("a replacement marked behind a reset while its resubscribe was out, refused as the old socket closed, retried: the retry ends the mark", async () => {
    const T = 1700000000000;
    for (const timed of [false, true]) {
      const { adapter, conn, feed, overlap, shown } = await overlapRig();
      Object.assign(conn, { socketsRecorded: true });
      const ts = (ms: number) => (timed ? T + ms : 0);
      const record = (url: string) => expect(adapter.ingestConnectionEvent("spot", conn.name, url, 1), url).toBe(true);
      feed(500, false, ts(0));
      overlap();
      feed(501, false, ts(1)); // the replacement, ahead: taken
      adapter.requestResync(0, StatusReason.SEQUENCE_GAP); // resubscribed on the replacement
      record('ws:req ["u3","unsubscribe",["books5:BTC-USDT"]]');
      record('ws:req ["s4","subscribe",["books5:BTC-USDT"]]');
      feed(502, true, ts(2)); // the old socket's book, taken meanwhile
      feed(3, true, ts(3)); // its maintenance reset: taken, the replacement (its answer maybe from before it) marked
      // The resubscribe refused for a reason that may pass while the old socket closes (no going back): sent again later.
      conn.onFrameAt('{"event":"error","code":"60012","msg":"Invalid request","id":"s4"}', 1);
      record("ws:retired");
      expect([adapter.topicInfo(0).state, conn.retiringGeneration], `timed ${timed}`).toEqual(["resyncing", -1]);
      record('ws:req ["s5","subscribe",["books5:BTC-USDT"]]'); // the retry, written after the reset came
      conn.onFrameAt('{"event":"subscribe","arg":{"channel":"books5","instId":"BTC-USDT"},"connId":"a1","id":"s5"}', 1); // accepted
      const ignored = adapter.stats().duplicates;
      feed(600, false, ts(5000)); // its answer: the venue's run has passed the replacement's old seqIds meanwhile
      feed(601, false, ts(5001));
      // Before: both ignored (duplicates + 2), the book not LIVE until the stale rule resubscribed it.
      expect([adapter.topicInfo(0).state, shown(), adapter.stats().duplicates - ignored], `timed ${timed}`).toEqual(["live", 601, 0]);
      await adapter.stop();
    }
  });

  test("a busy book whose carrier is a push behind (lower seqId, earlier venue time) stays LIVE at the overlap's end", async () => {
    const { adapter, sink, feed, overlap, oldClosed, shown } = await overlapRig();
    const t0 = 1700000000000;
    feed(500, false, t0);
    overlap();
    feed(500, false, t0); // the replacement's subscribe book: a copy
    feed(501, true, t0 + 100); // the old socket's next pushes, before the replacement's
    feed(502, true, t0 + 200);
    oldClosed(); // the normal end: the replacement carries on, two pushes behind
    // Before: RESYNCING (sequence_gap) until the replacement's 501, a status flap per busy book per planned reconnect.
    // Its last book (500) is earlier in the same run than the shown 502: a maintenance reset's books come later.
    expect([adapter.topicInfo(0).state, sink.invalid, adapter.stats().overlapEndHolds, shown()]).toEqual(["live", 0, 0, 502]);
    feed(501, false, t0 + 100); // its trail: ignored (taken as a reset, the book stepped back to 501)
    expect([shown(), adapter.stats().maintenanceResets]).toEqual([502, 0]);
    feed(502, false, t0 + 200);
    feed(503, false, t0 + 300);
    feed(3, false, t0 + 400); // a maintenance reset after it (a later venue time): applied
    expect([adapter.topicInfo(0).state, shown(), adapter.stats().maintenanceResets]).toEqual(["live", 3, 1]);
    // Gone back instead: the old socket a push behind the replacement.
    const b = await overlapRig();
    b.feed(500, false, t0);
    b.overlap();
    b.feed(501, false, t0 + 100); // the replacement, ahead
    b.goBack();
    expect([b.adapter.topicInfo(0).state, b.sink.invalid, b.shown()]).toEqual(["live", 0, 501]);
    // A lower book later than the one shown, from a socket that had not delivered the book's seqId: the venue's newer
    // book (a reset), applied. Before 2026-12-07 ignored as its trail (seqIds alone cannot tell), the book LIVE at 502
    // the venue had left, then held at the overlap's end.
    const c = await overlapRig();
    c.feed(500, false, t0);
    c.overlap();
    c.feed(502, true, t0 + 200); // the old socket, ahead
    c.feed(3, false, t0 + 300); // the replacement after a reset it delivered first
    expect([c.adapter.topicInfo(0).state, c.shown(), c.adapter.stats().maintenanceResets]).toEqual(["live", 3, 1]);
    c.feed(503, true, t0 + 250); // the old socket's pre-reset book, earlier: ignored
    c.oldClosed();
    expect([c.adapter.topicInfo(0).state, c.sink.invalid, c.shown()]).toEqual(["live", 0, 3]);
  });

  // The old socket closed before the replacement's first book: that book (its subscribe book) may be older than the one
  // shown. Before 2026-12-07 taken whatever (the one socket now), the book LIVE at 500 after 502 had been shown.
  test("a replacement that delivered nothing when the overlap ends: its books earlier than the one shown are ignored", async () => {
    const { adapter, sink, feed, overlap, oldClosed, shown } = await overlapRig();
    const t0 = 1700000000000;
    feed(500, false, t0);
    overlap();
    feed(501, true, t0 + 100);
    feed(502, true, t0 + 200);
    oldClosed();
    expect([adapter.topicInfo(0).state, sink.invalid, shown()]).toEqual(["live", 0, 502]);
    feed(500, false, t0); // its subscribe book, from before the old socket's last
    expect([adapter.topicInfo(0).state, shown(), adapter.stats().maintenanceResets]).toEqual(["live", 502, 0]);
    feed(503, false, t0 + 300);
    expect([adapter.topicInfo(0).state, shown()]).toEqual(["live", 503]);
  });

  // A carrier still behind a reset the book took, its last book earlier than the one shown: its books are ordered by the
  // venue's time, the earlier ones ignored whatever their seqIds. Before 2026-12-07 held at the overlap's end (a flap),
  // then LIVE at its reset's book 4, earlier than the 600 shown (a book the venue had left).
  test("a carrier behind a reset the book took, earlier than the book shown, keeps it LIVE; its earlier books are ignored", async () => {
    const { adapter, sink, feed, overlap, goBack, shown } = await overlapRig();
    const t0 = 1700000000000;
    feed(500, false, t0);
    overlap();
    feed(500, false, t0); // the replacement's subscribe book: a copy
    feed(501, true, t0 + 100); // the old socket: taken
    feed(501, false, t0 + 100); // the replacement's copy
    feed(3, false, t0 + 300); // the replacement's maintenance reset: taken, the old socket behind it
    feed(600, false, t0 + 400); // the reset's run, past the old socket's 501
    goBack(); // the replacement failed: the old socket (last 501, earlier) carries on, still before the reset
    expect([adapter.topicInfo(0).state, sink.invalid, shown()]).toEqual(["live", 0, 600]);
    const duplicates = adapter.stats().duplicates;
    feed(700, false, t0 + 200); // its pre-reset book: ignored
    feed(4, false, t0 + 350); // its reset, still earlier than 600: ignored
    expect([adapter.topicInfo(0).state, shown(), adapter.stats().duplicates - duplicates]).toEqual(["live", 600, 2]);
    feed(601, false, t0 + 450); // past the book shown: taken
    expect([adapter.topicInfo(0).state, shown(), sink.invalid]).toEqual(["live", 601, 0]);
  });

  // A marked socket's drop to a reset the book has not seen, later than the book shown: the venue's newest book, taken.
  // Before 2026-12-07 its mark ended and it was ignored as a trail (it had not reached the book's seqId), the book LIVE at
  // 11 of a run the venue had left, then held at the go-back (before s-okxjoin2, kept LIVE there: its slot held the
  // older time of its earlier book).
  test("a marked socket's drop to a reset later than the book shown is taken; the go-back keeps the book LIVE", async () => {
    const { adapter, sink, feed, overlap, goBack, shown } = await overlapRig();
    const t0 = 1700000000000;
    feed(500, false, t0);
    overlap();
    feed(500, false, t0); // the replacement's subscribe book: a copy
    feed(501, true, t0 + 100); // the old socket: taken
    feed(501, false, t0 + 100); // the replacement's copy
    feed(10, false, t0 + 300); // the replacement after a maintenance reset: taken, the old socket marked
    feed(11, false, t0 + 400);
    feed(502, true, t0 + 200); // the old socket's pre-reset book: ignored
    feed(1, true, t0 + 600); // its drop, to a second reset the book has not seen, later than 11: taken
    expect([adapter.topicInfo(0).state, shown(), adapter.stats().maintenanceResets]).toEqual(["live", 1, 2]);
    feed(12, false, t0 + 500); // the replacement, behind that reset now: ignored
    goBack(); // the replacement failed: the old socket (last 1, the book shown) carries on
    expect([adapter.topicInfo(0).state, sink.invalid, shown()]).toEqual(["live", 0, 1]);
    feed(2, false, t0 + 700);
    expect([adapter.topicInfo(0).state, shown()]).toEqual(["live", 2]);
  });

  test("a socket kept as having reached a seqId is forgotten once the book moves: a reset renumbering back to it is not the other socket's", async () => {
    const { adapter, sink, feed, overlap, shown } = await overlapRig();
    feed(100);
    overlap();
    feed(101, true); // the old socket
    feed(101); // the replacement reaches it too: of record, the old socket kept as having reached 101
    feed(5); // the replacement after a reset, on to seqId 101 of the new run
    feed(101);
    feed(6, true); // the old socket, still in the reset's run behind the replacement: a trail
    // Had the old socket stayed kept as having reached 101 (of the pre-reset run), this book would be a reset, the
    // book stepped back to 6.
    expect([adapter.stats().duplicates, adapter.stats().maintenanceResets, sink.seq, shown()]).toEqual([2, 1, 101, 101]);
  });

  // seqId 0 (a maintenance reset may go to it) is a seqId like the others here too (s-seqzero2).
  test("a reset to seqId 0 from the old socket: the marked replacement's first book above it is ignored, as above 3", async () => {
    const { adapter, sink, feed, overlap, shown } = await overlapRig();
    feed(500);
    overlap();
    feed(502, true);
    feed(0, true); // a maintenance reset to 0 on the old socket: applied, the replacement marked behind it
    feed(501); // the replacement's first book: maybe from before the reset
    // Before: the book's 0 passed to the mark as "not LIVE": 501 taken, the book LIVE at a pre-reset book.
    expect([sink.seq, shown(), adapter.stats().duplicates, adapter.topicInfo(0).state]).toEqual([0, 0, 1, "live"]);
  });

  // A resync keeps a mark on the old socket (the resubscribe goes on the replacement) while the book, not LIVE, has no
  // seqId to compare that socket's first book with: the reset's, kept on the mark, stands in for it.
  test("a resync during the overlap, the old socket marked having delivered nothing: its first book above the reset is ignored", async () => {
    for (const reset of [0, 3]) {
      const { adapter, sink, feed, overlap, shown } = await overlapRig();
      overlap(); // the book's first books come on the replacement; the old socket has delivered none of it
      feed(500);
      feed(reset); // a maintenance reset on the replacement: applied, the old socket (nothing delivered) marked
      adapter.requestResync(0, StatusReason.SEQUENCE_GAP); // resubscribed on the replacement; the old socket's mark stays
      feed(501, true); // the old socket's first book: maybe from before the reset
      // Before: taken as the book's first, LIVE at 501 of the run the venue left (the old socket's mark cleared).
      expect([adapter.topicInfo(0).state, shown()], `reset ${reset}`).toEqual(["resyncing", reset]);
      feed(reset + 1); // the replacement's answer: of the new run, taken
      expect([adapter.topicInfo(0).state, sink.seq, shown()], `reset ${reset}`).toEqual(["live", reset + 1, reset + 1]);
    }
  });

  test("the replacement repeats the book's seqId 0, then fails: the old socket that delivered 0 carries on, LIVE", async () => {
    const { adapter, sink, feed, overlap, goBack, shown } = await overlapRig();
    feed(500);
    feed(0); // a maintenance reset to 0 on the one socket: applied
    overlap();
    feed(0); // the replacement's subscribe book repeats it: of record, the old socket kept as having reached 0
    goBack(); // the old socket carries on, its last book the book
    // Before: a socket kept at seqId 0 was not counted as having reached it: held RESYNCING until its next book.
    expect([adapter.topicInfo(0).state, sink.invalid, adapter.stats().overlapEndHolds, shown()]).toEqual(["live", 0, 0, 0]);
  });
});

// bbo-tbt pushes several books a millisecond (the simulator stamps them alike): two sockets' books in the book's
// millisecond cannot be ordered by the venue's time, nor by seqIds across a maintenance reset in that millisecond.
describe("okx books5: where the venue's time cannot order two sockets' books", () => {
  const T = 1700000000000;

  test("the replacement's subscribe book below the book, in its millisecond: held RESYNCING until a later millisecond", async () => {
    const { adapter, sink, feed, overlap, shown } = await overlapRig();
    feed(504, false, T);
    feed(518, false, T + 100);
    overlap();
    feed(50, false, T + 100); // a maintenance reset after 518 in its millisecond, or a trail: nothing tells
    // Before: ignored as the lagging replacement's trail, the book LIVE at 518, which the venue had left.
    expect([adapter.topicInfo(0).state, adapter.stats().sameMsHolds, sink.invalid]).toEqual(["resyncing", 1, 1]);
    feed(532, true, T + 100); // the old socket, that millisecond still: cannot be placed, ignored
    expect([adapter.topicInfo(0).state, shown(), adapter.stats().duplicates]).toEqual(["resyncing", 518, 1]);
    feed(64, false, T + 200); // a later millisecond: later than any book either socket delivered
    expect([adapter.topicInfo(0).state, shown(), adapter.stats().sameMsHolds]).toEqual(["live", 64, 1]);
  });

  test("a higher seqId in the book's millisecond from the socket not at the book: held (a reset the book stepped up across)", async () => {
    const { adapter, feed, overlap, shown } = await overlapRig();
    feed(652, false, T);
    overlap();
    feed(660, false, T + 100); // the replacement's subscribe book: after a reset 680 -> 660 the book never saw
    feed(666, true, T + 100); // the old socket's, before that reset. Before: taken (higher), LIVE at 666
    expect([adapter.topicInfo(0).state, shown(), adapter.stats().sameMsHolds]).toEqual(["resyncing", 660, 1]);
  });

  test("a resync during the overlap: the old socket's book in the shown one's millisecond is not taken", async () => {
    const { adapter, feed, overlap, shown } = await overlapRig();
    feed(498, false, T);
    overlap();
    feed(500, false, T + 100); // the replacement's subscribe book: later, taken
    adapter.requestResync(0, StatusReason.SEQUENCE_GAP); // resubscribed on the replacement; the old socket goes on
    feed(499, true, T + 100); // in 500's millisecond: before it, or after a reset. Before: taken, LIVE at 499
    expect([adapter.topicInfo(0).state, shown()]).toEqual(["resyncing", 500]);
    feed(501, false, T + 200); // the replacement's answer: taken
    expect([adapter.topicInfo(0).state, shown()]).toEqual(["live", 501]);
  });

  test("the book's seqId again from the other socket with other levels and a later time: a reset onto it, not a copy", async () => {
    const { adapter, conn, feed, overlap, shown } = await overlapRig();
    feed(7, false, T);
    overlap();
    feed(8, true, T + 100); // the old socket: the book
    feed(8, false, T + 200); // the replacement's subscribe book, stamped when sent: its copy (same levels), ignored
    expect([shown(), adapter.stats().duplicates]).toEqual([8, 1]);
    // The old socket after a maintenance reset numbering 8 again (bid 150.5). Before: ignored as a copy, LIVE at 8.
    conn.fromRetiring = true;
    conn.onFrameAt(`{"arg":{"channel":"books5","instId":"BTC-USDT"},"data":[{"asks":[["300.1","1","0","1"]],"bids":[["150.5","1","0","1"]],"instId":"BTC-USDT","ts":"${T + 300}","seqId":8}]}`, 1);
    conn.fromRetiring = false;
    expect([adapter.topicInfo(0).state, shown(), adapter.stats().maintenanceResets]).toEqual(["live", 505, 1]);
    feed(9, false, T + 250); // the replacement's run before the reset: earlier, ignored
    expect([adapter.topicInfo(0).state, shown()]).toEqual(["live", 505]);
  });

  test("the book's seqId again with levels a key folded alike (a tick lower, 17 more lots): another book, not a copy", async () => {
    const { adapter, sink, conn, feed, overlap } = await overlapRig();
    const book = (old: boolean, bid: string, qty: string, tsMs: number) => {
      conn.fromRetiring = old;
      conn.onFrameAt(`{"arg":{"channel":"books5","instId":"BTC-USDT"},"data":[{"asks":[["300.1","1","0","1"]],"bids":[["${bid}","${qty}","0","1"]],"instId":"BTC-USDT","ts":"${tsMs}","seqId":8}]}`, 1);
      conn.fromRetiring = false;
    };
    feed(7, false, T);
    overlap();
    book(true, "100.8", "1", T + 100); // the old socket: the book
    // After a maintenance reset numbering 8 again: 100.7 for 1.0017 (lot 0.0001). Before: its key equal to the book's
    // (1007 * 17 + 10017 = 1008 * 17 + 10000), ignored as the copy, LIVE at 100.8 for 1.
    book(false, "100.7", "1.0017", T + 200);
    expect([adapter.topicInfo(0).state, sink.bid, adapter.stats().maintenanceResets]).toEqual(["live", 1007, 1]);
  });

  // OKX's ts is the book's generation time; nothing says it never goes back (a maintenance reset served elsewhere).
  test("the socket at the book goes on in its order: its reset stamped before the book shown is a reset, not a trail", async () => {
    const { adapter, feed, overlap, shown } = await overlapRig();
    feed(499, false, T);
    overlap();
    feed(500, true, T + 100); // the old socket: the book
    feed(3, true, T + 50); // its maintenance reset, the venue's clock behind. Before: ignored as earlier, LIVE at 500
    expect([adapter.topicInfo(0).state, shown(), adapter.stats().maintenanceResets]).toEqual(["live", 3, 1]);
    feed(4, true, T + 60);
    expect([adapter.topicInfo(0).state, shown()]).toEqual(["live", 4]);
  });

  test("the socket at the book's reset stamped back: the other socket's pre-reset books, stamped later, stay ignored until its reset", async () => {
    const { adapter, feed, overlap, shown } = await overlapRig();
    feed(498, false, T);
    overlap();
    feed(500, true, T + 100); // the old socket: the book
    feed(499, false, T + 50); // the replacement, behind: its trail, ignored
    feed(3, true, T + 20); // the old socket's maintenance reset, the venue's clock gone back: taken (its order)
    expect([adapter.topicInfo(0).state, shown(), adapter.stats().maintenanceResets]).toEqual(["live", 3, 1]);
    // The replacement's books of the run before, stamped after the reset. Before: taken as later, LIVE at 500.
    feed(500, false, T + 100);
    feed(501, false, T + 150);
    expect([adapter.topicInfo(0).state, shown()]).toEqual(["live", 3]);
    feed(3, false, T + 20); // its reset: the mark ends (a copy of the book)
    feed(4, false, T + 30);
    expect([adapter.topicInfo(0).state, shown()]).toEqual(["live", 4]);
  });

  test("a reset stamped back numbering above the marked socket's last: its later-stamped pre-reset books stay ignored", async () => {
    const { adapter, feed, overlap, shown } = await overlapRig();
    feed(553, false, T + 500);
    overlap();
    feed(560, true, T + 600); // the old socket: the book (known before the reset to come)
    feed(679, false, T + 1700); // the replacement, ahead: taken
    feed(673, false, T + 1566); // its maintenance reset, stamped back: taken, the old socket marked behind it
    // The old socket's books of the run before, stamped after the reset; the new run numbers above them. Before: the
    // first taken as later (main), or the mark ended as if the book had reached its position, the next taken.
    feed(567, true, T + 1600);
    feed(588, true, T + 1650);
    expect([adapter.topicInfo(0).state, shown()]).toEqual(["live", 673]);
    feed(687, false, T + 1666); // the replacement goes on: taken
    feed(602, true, T + 1700); // the old socket's still: ignored (its reset, not below its last, ends nothing)
    expect([adapter.topicInfo(0).state, shown()]).toEqual(["live", 687]);
  });

  test("a socket not at the book drops below its own last in seqId and time: a reset stamped back, taken", async () => {
    const { adapter, feed, overlap, shown } = await overlapRig();
    feed(498, false, T);
    overlap();
    feed(500, true, T + 100); // the old socket: the book
    feed(499, false, T + 50); // the replacement: its trail, ignored
    // Its own stream is in order: below its own last in both, it passed a reset stamped back. Before: ignored as
    // earlier than the book shown, LIVE at 500 the venue had left.
    feed(3, false, T + 20);
    expect([adapter.topicInfo(0).state, shown(), adapter.stats().maintenanceResets]).toEqual(["live", 3, 1]);
    feed(501, true, T + 150); // the old socket, behind the reset: its pre-reset book, stamped later, ignored
    expect([adapter.topicInfo(0).state, shown()]).toEqual(["live", 3]);
    feed(3, true, T + 20); // its reset: the mark ends
    feed(4, true, T + 30);
    expect([adapter.topicInfo(0).state, shown()]).toEqual(["live", 4]);
  });

  test("the overlap ends with a socket marked behind a reset stamped back, not known before it: resubscribed", async () => {
    const { adapter, feed, overlap, oldClosed } = await overlapRig();
    feed(498, false, T);
    overlap();
    feed(500, true, T + 100); // the old socket: the book
    feed(480, false, T + 10); // the replacement: a trail of the run, or of the next after a reset stamped back
    feed(3, true, T + 50); // the old socket's reset, stamped back: the replacement marked behind it, not known so
    // Its last book earlier than the one shown vouches for nothing across a clock gone back. Before: LIVE, its books
    // ordered by a time that cannot place them.
    oldClosed();
    expect([adapter.topicInfo(0).state, adapter.stats().overlapEndHolds]).toEqual(["resyncing", 1]);
  });

  test("the overlap ends with the carrier marked behind a reset stamped back, known before it: resubscribed too", async () => {
    const { adapter, feed, overlap, goBack, shown } = await overlapRig();
    feed(553, false, T + 500);
    overlap();
    feed(560, true, T + 600); // the old socket: the book (known before the reset to come)
    feed(679, false, T + 1700); // the replacement, ahead: taken
    feed(673, false, T + 1566); // its maintenance reset, stamped back: taken, the old socket marked behind it
    // The old socket carries on alone, still marked. Its pushes need not carry every seqId (its last pre-reset book,
    // say 670, then the new run above it: no drop), and the time has gone back: nothing tells its pre-reset books from
    // the run the venue is in. Before: kept LIVE, every later book of it ignored (670, 680, 690, ...), LIVE at 673
    // while the venue moved on, until the stale rule (120 s).
    goBack();
    expect([adapter.topicInfo(0).state, adapter.stats().overlapEndHolds]).toEqual(["resyncing", 1]);
    feed(700, false, T + 1900); // the resubscribe's answer: of the run the venue is in, taken (the mark is gone)
    expect([adapter.topicInfo(0).state, shown()]).toEqual(["live", 700]);
  });

  test("replay's ws:back with the book RESYNCING, the old socket marked behind a reset stamped back: its resubscribe's answer taken, as live", async () => {
    const { adapter, conn, feed, overlap, shown } = await overlapRig();
    Object.assign(conn, { socketsRecorded: true });
    feed(553, false, T + 500);
    overlap();
    feed(560, true, T + 600); // the old socket: the book (known before the reset to come)
    feed(679, false, T + 1700); // the replacement, ahead: taken
    feed(673, false, T + 1566); // its maintenance reset, stamped back: taken, the old socket marked behind it
    adapter.requestResync(0, StatusReason.SEQUENCE_GAP); // resubscribed on the replacement; the old socket stays marked
    feed(565, true, T + 650); // the old socket's pre-reset book: ignored
    expect([adapter.topicInfo(0).state, shown()]).toEqual(["resyncing", 673]);
    // The replacement failed: live's goBack redoes the resync on the old socket (restartWanted), which ends the mark;
    // its books up to the unsubscribe's ack are dropped, the subscribe's answer is of the venue's run, taken.
    expect(adapter.ingestConnectionEvent("spot", conn.name, "ws:back", 1)).toBe(true);
    // That answer. Before, in replay only (its requests restart nothing): ignored under the mark (not below the old
    // socket's last, the time gone back), the book RESYNCING where live's was LIVE, every later book there ignored too.
    feed(700, false, T + 1900);
    expect([adapter.topicInfo(0).state, shown()]).toEqual(["live", 700]);
  });

  test("the overlap's end held with the carrier's last book in the book's millisecond: its next one there is not taken", async () => {
    const { adapter, feed, overlap, goBack, shown } = await overlapRig();
    feed(560, false, T);
    overlap();
    feed(602, true, T + 100); // the old socket
    feed(602, false, T + 100); // the replacement: a copy (it has reached 602 too)
    feed(616, false, T + 100);
    feed(623, false, T + 100);
    goBack(); // the old socket carries on, its last book 602 in 623's millisecond: not placed, held
    expect([adapter.topicInfo(0).state, adapter.stats().overlapEndHolds]).toEqual(["resyncing", 1]);
    feed(616, false, T + 100); // its next, before 623. Before: taken (the held book's next, whatever), LIVE at 616
    expect([adapter.topicInfo(0).state, shown()]).toEqual(["resyncing", 623]);
    feed(630, false, T + 200);
    expect([adapter.topicInfo(0).state, shown()]).toEqual(["live", 630]);
  });
});

describe("okx books5: a lower book during or after an overlap, randomized against a model of what each socket delivered", () => {
  test("during the overlap a lower book is a reset exactly when its socket had delivered the book's seqId; after it, always", async () => {
    // The model: both sockets carry the same run of seqIds, each a random increasing part of it (books5 is pushed
    // when it changed: a socket need not see every seqId), the old one from 500 (delivered before the swap), the
    // replacement from any seqId up to the last; their books interleave at random; the book is at the highest seqId
    // delivered. Then a book below it (after a maintenance reset) on either socket while the overlap lasts: applied
    // when that socket had delivered the book's seqId (TCP is ordered), else ignored as its trail. After the overlap
    // (the old socket closed, or gone back to) there is one socket, whose lower book is always applied
    // (docs/venues/okx.md, "Full books": a lagging book and a reset look alike there, and the step back is the safe side);
    // a book that socket had not delivered last was made RESYNCING when the overlap ended (the test below).
    const rng = new Rng(20261206);
    const counts = { resets: 0, trails: 0, during: 0, after: 0 };
    for (let round = 0; round < 200; round++) {
      const { adapter, sink, conn, feed, overlap, oldClosed, goBack, shown } = await overlapRig();
      feed(500);
      overlap();
      const last = 500 + rng.int(1, 6);
      const part = (from: number) => {
        const seqs: number[] = [];
        for (let s = from; s <= last; s++) if (s === last || rng.next() < 0.7) seqs.push(s);
        return seqs;
      };
      const oldSeqs = part(501);
      const newSeqs = part(rng.int(500, last));
      const script: ("old" | "new")[] = [...oldSeqs.map(() => "old" as const), ...newSeqs.map(() => "new" as const)];
      for (let i = script.length - 1; i > 0; i--) {
        const j = rng.int(0, i);
        [script[i], script[j]] = [script[j]!, script[i]!];
      }
      const cut = rng.int(0, script.length);
      let pa = 500; // the highest seqId each socket delivered (-1: none)
      let pb = -1;
      let ia = 0;
      let ib = 0;
      for (const who of script.slice(0, cut)) {
        if (who === "old") feed((pa = oldSeqs[ia++]!), true);
        else feed((pb = newSeqs[ib++]!));
      }
      const book = Math.max(pa, pb);
      expect([sink.invalid, sink.seq, shown()]).toEqual([0, book, book]);
      let fromOld: boolean;
      let during: boolean;
      if (rng.next() < 0.5) {
        counts.during++;
        during = true;
        fromOld = rng.next() < 0.5;
      } else {
        counts.after++;
        during = false;
        fromOld = !(pb >= 0 && rng.next() < 0.5);
        if (fromOld) goBack();
        else oldClosed();
        expect(conn.retiringGeneration).toBe(-1);
      }
      const applies = !during || (fromOld ? pa : pb) === book;
      // After the overlap, a book the carrier had not delivered last is held (RESYNCING) until the carrier's next.
      const held = !during && (fromOld ? pa : pb) !== book;
      const where = `round ${round}: old ${pa}, replacement ${pb}, from the ${fromOld ? "old socket" : "replacement"} ${during ? "during" : "after"} the overlap`;
      expect([sink.invalid, adapter.topicInfo(0).state], where).toEqual(held ? [1, "resyncing"] : [0, "live"]);
      const before = adapter.stats();
      feed(3, fromOld && conn.retiringGeneration >= 0);
      const after = adapter.stats();
      if (during) counts[applies ? "resets" : "trails"]++;
      expect(sink.invalid, where).toBe(held ? 1 : 0);
      // A held book's next is no reset of a LIVE book (not counted), but applied all the same.
      expect([after.maintenanceResets - before.maintenanceResets, after.duplicates - before.duplicates], where).toEqual(applies ? [held ? 0 : 1, 0] : [0, 1]);
      expect([sink.seq, shown()], where).toEqual(applies ? [3, 3] : [book, book]);
      expect(adapter.topicInfo(0), where).toMatchObject({ state: "live", seqId: applies ? 3 : book });
    }
    expect(Math.min(counts.resets, counts.trails, counts.during, counts.after)).toBeGreaterThan(20);
  });
});

describe("okx books5: after an overlap the book is LIVE only at the last book of the socket that carries on", () => {
  /** seqIds from `a` to `b`, both included. */
  const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, k) => a + k);

  test("randomized, with a maintenance reset during the overlap in half the rounds", async () => {
    // The model: the venue's books in order, 500 (delivered before the swap) on to `top`, then in half the rounds a
    // maintenance reset's run from seqId 3 (below 500: the bid tells each book apart). Each socket delivers them in
    // that order, a random part (books5 is pushed on change), the old one after 500, the replacement from any book
    // on (its subscribe book); their books interleave at random and the overlap ends at a random point, the old socket
    // closed or gone back to. The seqIds cannot tell during the overlap whether a lower book is a reset or a trail: so
    // when it ends, the book may be LIVE only at the last book the carrier delivered (the old socket's, the replacement
    // having delivered none). Before 2026-12-06 it stayed LIVE at pre-reset levels the carrier had left (until the
    // carrier's next push; on a quiet instrument, a long time): after a reset taken from one socket, the other's
    // pre-reset book applied (higher seqId), or the carrier's reset ignored as its trail. Once a reset's book was shown,
    // the book is never LIVE at a pre-reset one again (before: the other socket's pre-reset books applied until it
    // delivered the reset), during the overlap nor after it, the carrier's remaining books fed (unless it was
    // resubscribed). Then the carrier's next book makes it LIVE there.
    const rng = new Rng(20261207);
    // In half the rounds the old socket saw a reset alone before the overlap (900, then 500): a drop that says nothing
    // of the resets to come (before, it exempted that socket from the mark). Its own Rng: the rounds' draws stay as they were.
    const alone = new Rng(20261208);
    const counts = { held: 0, kept: 0, resets: 0, behind: 0, resubscribed: 0, ignoredBehind: 0 };
    for (let round = 0; round < 200; round++) {
      const { adapter, sink, feed, overlap, oldClosed, goBack, shown } = await overlapRig();
      const run = range(500, 500 + rng.int(1, 5));
      const reset = rng.next() < 0.5;
      if (reset) run.push(...range(3, 3 + rng.int(0, 3)));
      const part = (from: number) => run.slice(from).filter(() => rng.next() < 0.7);
      const oldSeqs = part(1);
      const newSeqs = part(rng.int(0, run.length - 1));
      const script: ("old" | "new")[] = [...oldSeqs.map(() => "old" as const), ...newSeqs.map(() => "new" as const)];
      for (let i = script.length - 1; i > 0; i--) {
        const j = rng.int(0, i);
        [script[i], script[j]] = [script[j]!, script[i]!];
      }
      const tsOf = (seq: number) => 1700000000000 + 100 * run.indexOf(seq); // the venue's time: later along the run
      if (alone.next() < 0.5) feed(900, false, tsOf(500) - 100);
      feed(500, false, tsOf(500));
      overlap();
      let pa = 500; // the last book each socket delivered (-1: none)
      let pb = -1;
      let ia = 0;
      let ib = 0;
      // Once a reset's book was shown, the book is never LIVE at a pre-reset one (seqId 500 on) again: the socket still
      // behind the reset is ignored until it delivers the reset itself. Before, its pre-reset book (a higher seqId) was
      // applied, LIVE.
      let resetShown = false;
      const neverBack = (where: string) => {
        const live = adapter.topicInfo(0).state === "live";
        if (live && shown() < 500) resetShown = true;
        if (live && resetShown) expect(shown(), `${where}: LIVE at a pre-reset book after the reset`).toBeLessThan(500);
      };
      for (const who of script.slice(0, rng.int(0, script.length))) {
        if (who === "old") feed((pa = oldSeqs[ia++]!), true, tsOf(pa));
        else feed((pb = newSeqs[ib++]!), false, tsOf(pb));
        neverBack(`round ${round}: run ${run}, old ${oldSeqs}, replacement ${newSeqs}, after ${who} ${who === "old" ? pa : pb}`);
      }
      const shownBefore = shown();
      const fromOld = pb < 0 || rng.next() < 0.5;
      if (fromOld) goBack();
      else oldClosed();
      const carried = fromOld ? pa : pb;
      const where = `round ${round}: run ${run}, old ${pa} of ${oldSeqs}, replacement ${pb} of ${newSeqs}, book ${shownBefore}, carried on by the ${fromOld ? "old socket" : "replacement"}`;
      const live = adapter.topicInfo(0).state === "live";
      // The carrier a push behind: its last book earlier in the run, with a lower seqId (not across a reset).
      const behind = run.indexOf(carried) < run.indexOf(shownBefore);
      expect(shown(), where).toBe(shownBefore);
      if (live) expect(shownBefore === carried || behind, where).toBe(true);
      // Not held without cause: no reset, the book is the carrier's last (seqIds name one book each); or it is behind.
      if ((!reset && shownBefore === carried) || behind) expect(live, where).toBe(true);
      expect(sink.invalid, where).toBe(live ? 0 : 1);
      counts[live ? "kept" : "held"]++;
      if (reset && shownBefore !== carried) counts.resets++;
      if (behind) counts.behind++;
      neverBack(`${where}, overlap over`);
      // Then the carrier's books still to come, in the run's order, on the one socket now (not when it was resubscribed
      // instead: live, the rest of its old subscription's stream is not taken). A pre-reset book of a socket still
      // behind the reset shown is ignored (held, or LIVE at the reset's run) until it delivers the reset. Otherwise the
      // book shows the latest of the run seen (a book behind it is the carrier's trail, ignored; the held book takes
      // the first whatever), LIVE; a maintenance reset is counted only where a LIVE book passes into the reset's run.
      // Before, taken as resets, the carrier's trail stepped the book back, each counted as a reset.
      const resubscribed = adapter.topicInfo(0).resyncs !== 0;
      const rest = resubscribed ? [] : fromOld ? oldSeqs.slice(ia) : newSeqs.slice(ib);
      if (resubscribed) counts.resubscribed++;
      const before = adapter.stats().maintenanceResets;
      let resets = 0;
      for (const seq of rest) {
        const wasLive = adapter.topicInfo(0).state === "live";
        const ignored = resetShown && seq >= 500;
        const latest = ignored ? shown() : !wasLive || run.indexOf(seq) > run.indexOf(shown()) ? seq : shown();
        if (!ignored && wasLive && latest === seq && seq < shown()) resets++;
        if (ignored) counts.ignoredBehind++;
        feed(seq, false, tsOf(seq));
        const state = ignored && !wasLive ? "resyncing" : "live";
        expect([adapter.topicInfo(0).state, shown()], `${where}, then ${seq}`).toEqual([state, latest]);
        neverBack(`${where}, then ${seq}`);
      }
      expect(adapter.stats().maintenanceResets - before, where).toBe(resets);
      const next = run[run.length - 1]! + 1; // the venue's next book, on the one socket now
      feed(next, false, 1700000000000 + 100 * run.length);
      expect([adapter.topicInfo(0).state, shown()], where).toEqual(["live", next]);
    }
    // Every book here has its own venue time: since 2026-12-07 they order the books, and no overlap's end holds one.
    expect([counts.held, Math.min(counts.kept, counts.resets, counts.behind) > 10]).toEqual([0, true]);
    // Rounds where the carrier's pre-reset books came after the reset was shown (ignored); none resubscribed (the times
    // tell the carrier's books apart: before 2026-12-07 a carrier not known to be before the reset was).
    expect([counts.ignoredBehind > 0, counts.resubscribed]).toEqual([true, 0]);
  });

  test("randomized, two maintenance resets during the overlap: LIVE never at a run the book has left", async () => {
    // The model: runs 500…, then 10…, then 1… (two resets; the seqIds tell the runs apart), each socket delivering a
    // random part in order, interleaved at random, the overlap ending at a random point (old socket closed, or gone
    // back to), the carrier's remaining books fed after. While LIVE, the run the book shows never goes back. Before,
    // the socket behind both resets ended its mark at its first drop, its books of the run between them applied. The
    // venue's times go later along the runs: at the overlap's end the book stays LIVE only at the carrier's last book or
    // one later in its run (a marked socket's ignored books record their time too).
    const rng = new Rng(20261209);
    const runOf = (seq: number) => (seq >= 500 ? 0 : seq >= 10 ? 1 : 2);
    let between = 0; // books of the run between the resets fed after the last run was shown (the case of the rule)
    let vouched = 0; // overlaps that ended with the carrier behind in the book's run
    for (let round = 0; round < 150; round++) {
      const { adapter, feed, overlap, oldClosed, goBack, shown } = await overlapRig();
      const run = [...range(500, 500 + rng.int(1, 3)), ...range(10, 10 + rng.int(0, 3)), ...range(1, 1 + rng.int(0, 3))];
      const part = (from: number) => run.slice(from).filter(() => rng.next() < 0.7);
      const oldSeqs = part(1);
      const newSeqs = part(rng.int(0, run.length - 1));
      const script: ("old" | "new")[] = [...oldSeqs.map(() => "old" as const), ...newSeqs.map(() => "new" as const)];
      for (let i = script.length - 1; i > 0; i--) {
        const j = rng.int(0, i);
        [script[i], script[j]] = [script[j]!, script[i]!];
      }
      const tsOf = (seq: number) => 1700000000000 + 100 * run.indexOf(seq); // the venue's time: later along the runs
      feed(500, false, tsOf(500));
      overlap();
      let shownRun = 0;
      const noStepBack = (where: string) => {
        if (adapter.topicInfo(0).state !== "live") return;
        expect(runOf(shown()), `${where}: LIVE at ${shown()}, a run the book had left`).toBeGreaterThanOrEqual(shownRun);
        shownRun = runOf(shown());
      };
      let ia = 0;
      let ib = 0;
      let pa = 500;
      let pb = -1;
      let where = `round ${round}: run ${run}, old ${oldSeqs}, replacement ${newSeqs}, fed`;
      for (const who of script.slice(0, rng.int(0, script.length))) {
        const seq = who === "old" ? (pa = oldSeqs[ia++]!) : (pb = newSeqs[ib++]!);
        if (shownRun === 2 && runOf(seq) === 1) between++;
        feed(seq, who === "old", tsOf(seq));
        where += ` ${who[0]}${seq}`;
        noStepBack(`${where}, ${who} ${seq}`);
      }
      const shownBefore = shown();
      const fromOld = pb < 0 || rng.next() < 0.5;
      if (fromOld) goBack();
      else oldClosed();
      noStepBack(`${where}, overlap over`);
      // LIVE at the overlap's end only at the carrier's last book or one later in its run (the venue's times vouch).
      const carried = fromOld ? pa : pb;
      const behind = run.indexOf(carried) < run.indexOf(shownBefore);
      if (adapter.topicInfo(0).state === "live") expect(carried === shownBefore || behind, `${where}, overlap over, carrier at ${carried}`).toBe(true);
      if (behind) vouched++;
      const rest = adapter.topicInfo(0).resyncs !== 0 ? [] : fromOld ? oldSeqs.slice(ia) : newSeqs.slice(ib);
      for (const seq of rest) {
        if (shownRun === 2 && runOf(seq) === 1) between++;
        feed(seq, false, tsOf(seq));
        noStepBack(`${where}, then ${seq}`);
      }
    }
    expect([between, vouched].every((n) => n > 5)).toBe(true);
  });
});

describe("okx books5: randomized against the venue's books, two sockets, resets and overlaps", () => {
  /**
   * The model: the venue emits books in order (book k at venue time t0 + 100 k ms: later along the books; seqIds
   * rising, now and then a maintenance reset to a lower one, half the time only a little lower, so the new run soon
   * numbers the old one's seqIds again). The connection's socket delivers an in-order part of them (books5 is sampled:
   * any part), never ahead of the venue. A planned reconnect's overlap starts (the replacement's first book is the
   * venue's book at the swap or a later one), both sockets deliver, the old one may be cut (delivers no more), and the
   * overlap ends (the old socket closed, or gone back to); then maybe another. The latest book known is the latest
   * (highest k) any socket has delivered: after every event a LIVE book shows exactly that one. Nothing here makes a
   * book differ from the venue's (no gap, no lost book): a RESYNCING status is a flap, and there must be none.
   * Before 2026-12-07 (seqIds alone deciding during an overlap) 133 of the 300 rounds failed: 101 LIVE at a book the
   * venue had left (e.g. the replacement's subscribe book after a reset ignored as a trail), 32 RESYNCING first.
   * OKX_FULL_BOOK_SEED=n (and _ROUNDS) replays from round seed n.
   */
  /**
   * `sameMsShare`: the share of books stamped in the millisecond of the book before (bbo-tbt pushes several a ms; the
   * simulator stamps them alike), drawn from their own Rng (the other draws stay as they were). Then the venue's time
   * cannot order two sockets' books in one millisecond: RESYNCING there is the safe side (counted, `flaps`), LIVE at a
   * book the venue had left never.
   */
  const runModel = async (sameMsShare: number) => {
    const seed0 = Number(process.env.OKX_FULL_BOOK_SEED ?? 20261210);
    const rounds = Number(process.env.OKX_FULL_BOOK_ROUNDS ?? 300);
    const counts = { overlaps: 0, resets: 0, back: 0, closed: 0, ignored: 0, flaps: 0, sameMs: 0 };
    for (let round = 0; round < rounds; round++) {
      const seed = seed0 + round;
      const rng = new Rng(seed);
      const msRng = new Rng(seed + 7919);
      const { adapter, sink, conn, overlap, oldClosed, goBack, shown } = await overlapRig();
      const t0 = 1700000000000;
      // The seqId of each venue book. The r-th run's seqIds are r modulo 7: a seqId names one book (a reset that
      // numbers a book's seqId again, and its copy, stamped later, look alike: not modelled).
      const venue: number[] = [];
      // Each venue book's time (ms): later along the books, or (sameMsShare) the one before's.
      const tsMs: number[] = [];
      let run = 0;
      const emit = () => {
        const prev = venue[venue.length - 1];
        const prevTs = tsMs[tsMs.length - 1];
        const same = prevTs !== undefined && msRng.next() < sameMsShare;
        if (same) counts.sameMs++;
        tsMs.push(prevTs === undefined ? t0 : same ? prevTs : prevTs + 100);
        if (prev === undefined) venue.push(504);
        else if (prev > 7 && rng.next() < 0.12) {
          counts.resets++;
          run = (run + 1) % 7;
          const below = rng.next() < 0.5 ? rng.int(1, Math.min(60, prev - 1)) : Math.max(1, prev - rng.int(1, 20));
          const seq = below - ((((below - run) % 7) + 7) % 7);
          venue.push(seq > 0 ? seq : seq + 7);
        } else venue.push(prev + 7 * rng.int(1, 2));
      };
      const log: string[] = [];
      const feed = (k: number, old: boolean) => {
        log.push(`${old ? "o" : "c"}${k}:${venue[k]}`);
        conn.fromRetiring = old;
        try {
          conn.onFrameAt(`{"arg":{"channel":"books5","instId":"BTC-USDT"},"data":[{"asks":[["300.1","1","0","1"]],"bids":[["${(100 + k / 10).toFixed(1)}","1","0","1"]],"instId":"BTC-USDT","ts":"${tsMs[k]}","seqId":${venue[k]}}]}`, 1);
        } finally {
          conn.fromRetiring = false;
        }
      };
      // Each socket: its last book delivered (-1: none), the first it may deliver (a subscribe book), cut (no more).
      let cur = { last: -1, from: 0, cut: false };
      let old: typeof cur | null = null;
      let latest = -1;
      const deliver = (s: typeof cur, isOld: boolean) => {
        const lo = Math.max(s.last + 1, s.from);
        if (s.cut || lo > venue.length - 1) return;
        const k = rng.next() < 0.6 ? lo : rng.int(lo, venue.length - 1);
        s.last = k;
        if (k < latest) counts.ignored++;
        latest = Math.max(latest, k);
        feed(k, isOld);
      };
      const check = () => {
        const state = adapter.topicInfo(0).state;
        if (state === "live" ? shown() === latest && (sameMsShare > 0 || sink.invalid === 0) : sameMsShare > 0 && state === "resyncing") return;
        expect.fail(`seed ${seed}: ${state} at book ${shown()} (RESYNCING ${sink.invalid} times), the latest book delivered ${latest}; venue seqIds ${venue.join(",")}; times ${tsMs.map((t) => t - t0).join(",")}; delivered (c: the connection's socket, o: the old one; book:seqId) ${log.join(" ")}`);
      };
      emit();
      emit();
      deliver(cur, false);
      check();
      for (let step = 0; step < 60; step++) {
        const r = rng.next();
        if (r < 0.35) emit();
        else if (r < 0.6) deliver(cur, false);
        else if (r < 0.85) {
          if (old) deliver(old, true);
        } else if (r < 0.9) {
          if (old) old.cut = true;
        } else if (!old) {
          counts.overlaps++;
          log.push("swap");
          overlap();
          old = cur;
          cur = { last: -1, from: venue.length - 1, cut: false };
        } else {
          const back = rng.next() < 0.5;
          counts[back ? "back" : "closed"]++;
          log.push(back ? "back" : "closed");
          if (back) {
            goBack();
            cur = old;
            cur.cut = false;
          } else oldClosed();
          old = null;
        }
        check();
      }
      counts.flaps += sink.invalid;
    }
    expect(Math.min(counts.overlaps, counts.resets, counts.back, counts.closed, counts.ignored)).toBeGreaterThan(200);
    return counts;
  };

  test("LIVE only at the latest book any socket delivered; never RESYNCING", async () => {
    expect((await runModel(0)).sameMs).toBe(0);
  });

  test("every second book in the millisecond of the one before: LIVE only at the latest book delivered", async () => {
    const counts = await runModel(0.5);
    // Held where undecidable (289 flaps in 977 overlaps with seed 20261210), never LIVE at a book the venue had left.
    expect([counts.sameMs > 1000, counts.flaps > 0]).toEqual([true, true]);
  });
});
