/**
 * Which older frames are a venue reset (docs/venues/bybit.md, "Sequencing"): a frame below the live book's u from
 * the socket that delivered that u (TCP is ordered) — a snapshot replaces the book, a delta resyncs it; from the
 * other socket of a planned reconnect's overlap it may only trail and is ignored. In-process: the adapter in replay
 * mode, frames fed straight in, the overlap's two sockets told apart as the planned reconnect does (generation,
 * retiringGeneration, fromRetiring).
 */
import { describe, expect, test } from "vitest";
import { replayedBybit } from "./replayed-rig.ts";
import { StatusReason } from "../../../src/core/types.ts";

async function replayed(depth: number) {
  const { adapter, sink, conn, feed } = await replayedBybit(depth);
  /** A planned reconnect's swap: the replacement is the connection's socket, the old one still delivers. */
  const overlap = () => {
    conn.retiringGeneration = conn.generation;
    conn.generation = ++conn.genSeq;
  };
  return { adapter, sink, feed, overlap };
}

describe("bybit: an older frame on the same socket is a venue reset", () => {
  test("level 1: a snapshot below the live u replaces the book at once (counted as a reset, not ignored)", async () => {
    const { adapter, sink, feed } = await replayed(1);
    feed("snapshot", 500, "100.5");
    feed("snapshot", 500, "100.5"); // the 3 s re-push
    feed("snapshot", 7, "99.5"); // after a reset whose u = 1 was lost
    // Old: ignored (olderSnapshots 1): the book stayed LIVE at bid 100.5 until it went stale.
    expect(adapter.stats()).toMatchObject({ repeatedSnapshots: 1, olderSnapshots: 0, venueResets: 1, snapshots: 2 });
    expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastU: 7 });
    expect(sink.bids[0]).toEqual(new Map([[995, 1000]]));
    expect(sink.invalid).toEqual([]);
    feed("snapshot", 8, "99.6"); // and on from there
    expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastU: 8 });
  });

  test("depth 50: a delta below the live u resyncs the book (VENUE_RESET), counted once with the resync's snapshot", async () => {
    const { adapter, sink, feed } = await replayed(50);
    feed("snapshot", 500, "100.5");
    feed("delta", 501, "100.5");
    feed("delta", 501, "100.5"); // the same u again: a repeat, ignored
    expect(adapter.stats()).toMatchObject({ duplicates: 1, venueResets: 0 });
    feed("delta", 3, "99.5"); // after a reset whose u = 1 snapshot was lost
    // Old: ignored as a duplicate; the book stayed LIVE at u 501 until it went stale.
    expect(adapter.topicInfo(0).state).toBe("resyncing");
    expect(sink.invalid.map((e) => e.reason)).toEqual([StatusReason.VENUE_RESET]);
    feed("delta", 4, "99.5"); // ignored until the resync's snapshot
    feed("snapshot", 9, "99.5");
    expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastU: 9 });
    expect(adapter.stats()).toMatchObject({ venueResets: 1, duplicates: 1, ignoredBeforeSnapshot: 1 });
  });
});

describe("bybit: an older frame from the other socket of a planned reconnect only trails", () => {
  test("the replacement's older snapshot and deltas are ignored; the old socket's continue the book", async () => {
    const { adapter, sink, feed, overlap } = await replayed(50);
    feed("snapshot", 500, "100.5");
    feed("delta", 501, "100.6");
    overlap();
    feed("delta", 502, "100.7", true); // the old socket, still delivering
    feed("snapshot", 499, "100.4"); // the replacement's subscribe snapshot, trailing
    feed("delta", 500, "100.5"); // and its deltas, still below the book's u
    feed("delta", 502, "100.7");
    expect(adapter.stats()).toMatchObject({ olderSnapshots: 1, duplicates: 2, venueResets: 0, snapshots: 1 });
    feed("delta", 503, "100.8"); // the replacement catches up and takes over
    feed("delta", 502, "100.7", true); // the old socket, behind the replacement now: it trails
    feed("delta", 503, "100.8", true); // and reaches the book's u (a repeat: from now on a lower u on it is a reset)
    feed("delta", 504, "100.9", true);
    feed("delta", 504, "100.9");
    expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastU: 504 });
    expect(adapter.stats()).toMatchObject({ olderSnapshots: 1, duplicates: 5, venueResets: 0, gaps: 0 });
    expect(sink.invalid).toEqual([]);
    expect(sink.bids[0]!.get(1009)).toBe(1000);
  });

  test("the same socket going back during the overlap is still a reset", async () => {
    const { adapter, sink, feed, overlap } = await replayed(1);
    feed("snapshot", 500, "100.5");
    overlap();
    feed("snapshot", 501, "100.6", true); // the old socket delivers u 501
    feed("snapshot", 500, "100.5"); // the replacement's trails: ignored
    feed("snapshot", 5, "99.5", true); // the old socket restarts below its own u: a reset
    expect(adapter.stats()).toMatchObject({ olderSnapshots: 1, venueResets: 1 });
    expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastU: 5 });
    expect(sink.bids[0]).toEqual(new Map([[995, 1000]]));
  });
});

describe("bybit: a snapshot at the live book's own u is the venue's book at that u", () => {
  // Bybit: "on any new snapshot, reset the local book" and "if there is a problem on Bybit's end, a snapshot will be
  // re-sent, which is guaranteed to contain the latest data" (§4.2). Its u is not documented; level 1's 3 s re-push
  // carries the last u. Before, any snapshot at the live u was dropped as a re-push: one that corrected the book left
  // it LIVE and different from the venue's until a later snapshot happened to replace it. Now it is handed on as a
  // replace (update.replace: the book becomes exactly its levels, the difference published as a delta), so a true
  // re-push changes nothing and a correction takes effect.
  test.each([200, 1])("depth %i: a differing snapshot at the live u replaces the book; the book stays LIVE", async (depth) => {
    const { adapter, sink, feed } = await replayed(depth);
    feed("snapshot", 500, "100.5");
    feed(depth === 1 ? "snapshot" : "delta", 501, "100.6"); // bids 100.5 and 100.6 at depth 200, 100.6 alone at level 1
    if (depth === 1) feed("snapshot", 501, "100.6"); // a re-push: the same book
    expect(sink.bids[0]).toEqual(new Map(depth === 1 ? [[1006, 1000]] : [[1005, 1000], [1006, 1000]]));
    feed("snapshot", 501, "100.4"); // the venue re-sends its book at u 501: bid 100.4 alone
    // Old: ignored (the sink kept 100.5 and 100.6, LIVE).
    expect(sink.bids[0]).toEqual(new Map([[1004, 1000]]));
    expect(sink.invalid).toEqual([]);
    expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastU: 501 });
    expect(adapter.stats()).toMatchObject({ repeatedSnapshots: depth === 1 ? 2 : 1, olderSnapshots: 0, venueResets: 0, gaps: 0 });
    feed("delta", 502, "100.3"); // and on from there (at level 1 a delta never comes; a snapshot would)
    if (depth !== 1) expect(sink.bids[0]).toEqual(new Map([[1003, 1000], [1004, 1000]]));
  });

  test("as a replace, which the app applies as the difference (nothing changed: nothing but the event)", async () => {
    const { adapter, sink, feed } = await replayed(1);
    const kinds: string[] = [];
    const onBookUpdate = sink.onBookUpdate.bind(sink);
    sink.onBookUpdate = (index, u) => {
      kinds.push(u.replace ? "replace" : u.isSnapshot ? "snapshot" : "delta");
      onBookUpdate(index, u);
    };
    feed("snapshot", 500, "100.5");
    feed("snapshot", 500, "100.5");
    feed("snapshot", 501, "100.6");
    expect(kinds).toEqual(["snapshot", "replace", "snapshot"]);
    expect(adapter.stats()).toMatchObject({ repeatedSnapshots: 1, snapshots: 2 });
  });

  test.each([1, 200])("depth %i, u = 1 (after a venue reset): a re-push is a replace as at any u; a differing one still replaces the book", async (depth) => {
    // Before: `u !== 1` kept every snapshot at u = 1 out of the repeat rule, so each level-1 re-push after a venue reset
    // took the full-snapshot path (both levels published again as a snapshot) instead of an empty delta.
    const { adapter, sink, feed } = await replayed(depth);
    const kinds: string[] = [];
    const onBookUpdate = sink.onBookUpdate.bind(sink);
    sink.onBookUpdate = (index, u) => {
      kinds.push(u.replace ? "replace" : u.isSnapshot ? "snapshot" : "delta");
      onBookUpdate(index, u);
    };
    feed("snapshot", 500, "100.5");
    feed("snapshot", 1, "99.5"); // the venue reset: u restarts at 1
    feed("snapshot", 1, "99.5"); // level 1's 3 s re-push of it
    feed("snapshot", 1, "99.5");
    expect(kinds).toEqual(["snapshot", "snapshot", "replace", "replace"]);
    expect(adapter.stats()).toMatchObject({ snapshots: 2, repeatedSnapshots: 2, venueResets: 1 });
    feed("snapshot", 1, "99.4"); // the venue re-sends its book at u 1, different: it must still replace the book
    expect(kinds.at(-1)).toBe("replace");
    expect(sink.bids[0]).toEqual(new Map([[994, 1000]]));
    expect(sink.invalid).toEqual([]);
    expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastU: 1 });
    expect(adapter.stats()).toMatchObject({ snapshots: 2, repeatedSnapshots: 3, venueResets: 1, olderSnapshots: 0 });
    feed("snapshot", 2, "99.6"); // and on from there
    expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastU: 2 });
    expect(sink.bids[0]).toEqual(new Map([[996, 1000]]));
  });
});

describe("bybit: a book resyncing during a planned reconnect's overlap", () => {
  // The resync restarts the topic on the replacement only; the old socket streams on, trailing the replacement by the
  // frames its own server has not sent yet. Its snapshot below the u the book had (from the replacement) is one of
  // those, not a reset whose u = 1 was lost: a LIVE book ignores it (olderSnapshots), and so must one resyncing.
  test("level 1: the old socket's trailing snapshot below the book's last u does not make it LIVE (nor count a reset)", async () => {
    const { adapter, sink, feed, overlap } = await replayed(1);
    feed("snapshot", 500, "100.0");
    overlap();
    feed("snapshot", 505, "100.5"); // the replacement, ahead: the book at u 505
    feed("snapshot", 503, "100.3", true); // the old socket trails: ignored while LIVE
    expect(adapter.stats()).toMatchObject({ olderSnapshots: 1, venueResets: 0 });
    adapter.requestResync(0, StatusReason.CROSSED_BOOK); // e.g. the app found it crossed
    expect(adapter.topicInfo(0).state).toBe("resyncing");
    feed("snapshot", 504, "100.4", true); // still trailing: the venue's book of before u 505
    // Before: taken as a venue reset (u below the book's last, 505), the book LIVE at u 504, older than what it showed.
    expect(adapter.topicInfo(0).state).toBe("resyncing");
    expect(adapter.stats()).toMatchObject({ olderSnapshots: 2, venueResets: 0, snapshots: 2 });
    feed("snapshot", 506, "100.6", true); // the old socket past the book's u: the venue's book now
    expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastU: 506 });
    expect(sink.bids[0]).toEqual(new Map([[1006, 1000]]));
  });

  test.each([false, true])("the old socket going back below its own last u is still a reset, LIVE or not (the replacement repeating it: %s)", async (repeated) => {
    const { adapter, sink, feed, overlap } = await replayed(1);
    feed("snapshot", 500, "100.0");
    overlap();
    feed("snapshot", 505, "100.5", true); // the old socket delivers the book's u
    if (repeated) feed("snapshot", 505, "100.5"); // the replacement repeats it: of record now, the old socket still there
    adapter.requestResync(0, StatusReason.CROSSED_BOOK);
    feed("snapshot", 7, "99.5", true); // and restarts below it: its u = 1 lost
    expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastU: 7 });
    expect(adapter.stats()).toMatchObject({ venueResets: 1 });
    expect(sink.bids[0]).toEqual(new Map([[995, 1000]]));
  });

  test("the replacement going back below the u it gave the book is a reset, taken (not held for the old socket)", async () => {
    const { adapter, sink, feed, overlap } = await replayed(1);
    feed("snapshot", 500, "100.0");
    overlap();
    feed("snapshot", 505, "100.5"); // the replacement delivers the book's u
    adapter.requestResync(0, StatusReason.CROSSED_BOOK);
    feed("snapshot", 7, "99.5"); // its answer, of a reset whose u = 1 was lost
    expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastU: 7 });
    expect(adapter.stats()).toMatchObject({ venueResets: 1, olderSnapshots: 0 });
    expect(sink.bids[0]).toEqual(new Map([[995, 1000]]));
  });
});
