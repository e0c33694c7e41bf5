/**
 * The socket of record (TopicState.seqSocket) of a flat channel (`book.X.100ms`) after a planned reconnect's overlap,
 * when the socket that carries on reached the book's change_id only by a change the other socket had delivered first
 * (a duplicate there). Before 2026-12-06 only an equal snapshot or whole book recorded such a repeat, so the socket
 * that carried on was not of record: until it delivered a change newer than the book (minutes, for a quiet option),
 * a venue reset on it whose snapshot was lost (a change below the book) was taken for the dead socket's trail, a
 * duplicate, and so was every change after it: the book LIVE with its old levels until the channel went stale.
 * In-process: the adapter's frames fed straight in, as live (not replaying), the overlap's sockets told apart as the
 * planned reconnect does; the last block draws overlaps at random against a model of what each socket delivered.
 */
import { describe, expect, test } from "vitest";
import type { BookUpdate } from "../../../src/core/book-update.ts";
import { silentLogger } from "../../../src/core/log.ts";
import { BookState, StatusReason, type MarketName } from "../../../src/core/types.ts";
import { DeribitAdapter } from "../../../src/venues/deribit/adapter.ts";
import type { VenueConnection } from "../../../src/venues/common/connection.ts";
import type { PlannedReconnects } from "../../../src/venues/common/planned-reconnect.ts";
import type { BookSink } from "../../../src/venues/venue.ts";
import { Rng } from "../../../src/sim/rng.ts";

const CHANNEL = "book.BTC-27MAR26-70000-C.100ms";
const CONN = "conn0.option";
const frame = (data: string) => `{"jsonrpc":"2.0","method":"subscription","params":{"channel":"${CHANNEL}","data":{"timestamp":1,"instrument_name":"BTC-27MAR26-70000-C",${data}}}}`;
const snapshot = (id: number, bid: string) => frame(`"type":"snapshot","change_id":${id},"bids":[["new",${bid},10]],"asks":[["new",0.2,10]]`);
const change = (id: number, prev: number, bid: string) => frame(`"type":"change","change_id":${id},"prev_change_id":${prev},"bids":[["new",${bid},10]],"asks":[]`);

async function overlapRig() {
  const adapter = new DeribitAdapter(
    { venue: "deribit", wsUrl: "ws://127.0.0.1:1/ws/api/v2", restUrl: "http://127.0.0.1:1", instrumentCachePath: "", markets: [{ market: "option", depth: 0, symbols: ["BTC-27MAR26-70000-C"] }], overrides: new Map([["option:BTC-27MAR26-70000-C", { tickSize: "0.0005", lotSize: "0.1" }]]) },
    [{ market: "option" as MarketName, symbol: "BTC-27MAR26-70000-C", depth: 0 }],
    { log: silentLogger },
  );
  await adapter.loadInstruments();
  const invalid: { state: BookState; reason: StatusReason }[] = [];
  const sink: BookSink = {
    onBookUpdate: (_i: number, _u: BookUpdate) => undefined,
    onBookInvalid: (_i: number, state: BookState, reason: StatusReason) => void invalid.push({ state, reason }),
    onInstrumentChanged: () => undefined,
  };
  adapter.startReplay(sink);
  const a = adapter as unknown as { books: { replaying: boolean }; conns: VenueConnection[]; snapshotDue: Uint8Array; lifecycle: { planned: PlannedReconnects } };
  a.books.replaying = false; // as live: the sockets can be told apart
  const conn = a.conns[0]!;
  adapter.ingestFrame("option", CONN, snapshot(100, "0.1"), 1); // on the old socket, before the overlap
  // The swap: the replacement is the connection's socket and has asked for the channel; the old one still open
  // (CLOSED to stop(): nothing to wait for).
  conn.retiringWs = { readyState: WebSocket.CLOSED, addEventListener() {}, close() {} } as unknown as WebSocket;
  conn.retiringGeneration = conn.generation;
  conn.generation = ++conn.genSeq;
  for (const t of conn.topics) t.onRetiring = true; // the old socket serves the channel
  a.snapshotDue[0] = 1;
  const fromOld = (f: string) => {
    conn.fromRetiring = true;
    try {
      adapter.ingestFrame("option", CONN, f, 1);
    } finally {
      conn.fromRetiring = false;
    }
  };
  const stop = async () => {
    a.books.replaying = true;
    await adapter.stop();
  };
  return { adapter, conn, planned: a.lifecycle.planned, invalid, fromOld, stop };
}

describe("deribit: the socket that carries on after an overlap reached the book's change_id by a trailing change", () => {
  test("the replacement trailed the old socket by one change; the old socket closed; a venue reset on the replacement resyncs the book", async () => {
    const { adapter, conn, planned, invalid, fromOld, stop } = await overlapRig();
    try {
      fromOld(change(101, 100, "0.105")); // the old socket leads
      adapter.ingestFrame("option", CONN, snapshot(100, "0.1"), 1); // the replacement's snapshot, behind: ignored
      adapter.ingestFrame("option", CONN, change(101, 100, "0.105"), 1); // the replacement reaches 101 (a duplicate)
      expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastChangeId: 101 });
      planned.onRetiringClosed(conn, "test"); // the old socket closed: the replacement carries on
      adapter.ingestFrame("option", CONN, change(6, 5, "0.09"), 1); // the venue's ids went back, its snapshot lost
      // Before: a duplicate (the replacement not of record), the book LIVE at change_id 101 with its old levels.
      expect(invalid).toEqual([{ state: BookState.RESYNCING, reason: StatusReason.VENUE_RESET }]);
      expect(adapter.stats()).toMatchObject({ venueResets: 1, duplicates: 1 });
    } finally {
      await stop();
    }
  });

  test("the old socket trailed the replacement by one change; gone back to it, a venue reset on it resyncs the book", async () => {
    const { adapter, conn, planned, invalid, fromOld, stop } = await overlapRig();
    try {
      adapter.ingestFrame("option", CONN, snapshot(100, "0.1"), 1); // the replacement's: the same id
      adapter.ingestFrame("option", CONN, change(101, 100, "0.105"), 1); // the replacement leads
      fromOld(change(101, 100, "0.105")); // the old socket reaches 101 (a duplicate)
      planned.goBack(conn, "test"); // the replacement failed: the old socket again
      adapter.ingestFrame("option", CONN, change(6, 5, "0.09"), 1); // the venue's ids went back, its snapshot lost
      expect(invalid).toEqual([{ state: BookState.RESYNCING, reason: StatusReason.VENUE_RESET }]);
    } finally {
      await stop();
    }
  });

  test("during the overlap, both sockets having delivered the book's change_id, a change below it on either is a venue reset", async () => {
    // The replacement repeating the change_id must not take the old socket's record away: its lower change (TCP is
    // ordered, so no trail) is still a reset.
    const { adapter, invalid, fromOld, stop } = await overlapRig();
    try {
      fromOld(change(101, 100, "0.105")); // the old socket leads
      adapter.ingestFrame("option", CONN, snapshot(100, "0.1"), 1); // the replacement's snapshot, behind: ignored
      adapter.ingestFrame("option", CONN, change(101, 100, "0.105"), 1); // the replacement reaches 101 (a duplicate)
      fromOld(change(6, 5, "0.09")); // the venue's ids went back on the old socket, its snapshot lost
      expect(invalid).toEqual([{ state: BookState.RESYNCING, reason: StatusReason.VENUE_RESET }]);
    } finally {
      await stop();
    }
  });

  test("during the overlap, the replacement's snapshot equal to the book: a change below it on the old socket is a venue reset", async () => {
    // Before 2026-12-06 the equal snapshot made the replacement the socket of record and the old one's lower change a
    // trail (a duplicate), and every change after it too, the book LIVE with its old levels while the overlap lasted.
    const { adapter, invalid, fromOld, stop } = await overlapRig();
    try {
      adapter.ingestFrame("option", CONN, snapshot(100, "0.1"), 1); // the replacement's: the same id
      fromOld(change(6, 5, "0.09")); // the venue's ids went back on the old socket, its snapshot lost
      expect(invalid).toEqual([{ state: BookState.RESYNCING, reason: StatusReason.VENUE_RESET }]);
    } finally {
      await stop();
    }
  });

  test("a change below the book from the socket that only trails stays a duplicate while the overlap lasts", async () => {
    // The other side of the rule: the old socket delivering the book's change_id again does not make an older change
    // on the replacement, behind it, a venue reset.
    const { adapter, invalid, fromOld, stop } = await overlapRig();
    try {
      fromOld(change(101, 100, "0.105"));
      fromOld(change(102, 101, "0.11")); // the old socket leads by two
      adapter.ingestFrame("option", CONN, snapshot(100, "0.1"), 1); // the replacement's snapshot, behind: ignored
      adapter.ingestFrame("option", CONN, change(101, 100, "0.105"), 1); // behind: a duplicate
      adapter.ingestFrame("option", CONN, change(102, 101, "0.11"), 1); // caught up: a duplicate
      fromOld(change(103, 102, "0.12"));
      expect(invalid).toEqual([]);
      expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastChangeId: 103 });
      expect(adapter.stats()).toMatchObject({ venueResets: 0, duplicates: 2, olderSnapshots: 1 });
    } finally {
      await stop();
    }
  });
});

describe("deribit: a venue reset on a socket still trailing the book (its own ids went back)", () => {
  // Before 2026-12-07 a lower change on a socket that had not delivered the book's change_id was always its trail (a
  // duplicate), though TCP is ordered and that socket had delivered higher ids itself: the venue's reset on the socket
  // that carried on, its snapshot lost, was ignored and so was every change after it until its ids passed the book's,
  // the book LIVE at its old levels (until stale: 10 min for an option).
  test("the replacement trailing when the old socket closed: the book resyncs at the close; a reset between its own last id and the book's is never taken for its trail", async () => {
    // Until s-deritrail the book stayed LIVE on the trailing replacement: a venue reset whose new ids fell between the
    // replacement's own last id (101) and the book's (103), its snapshot lost, was its trail (duplicates), its run
    // reached 103 (a "repeat") and went on from it, applied on the pre-reset levels, the book LIVE.
    const { adapter, conn, planned, invalid, fromOld, stop } = await overlapRig();
    try {
      fromOld(change(101, 100, "0.105"));
      fromOld(change(102, 101, "0.11"));
      fromOld(change(103, 102, "0.12")); // the old socket leads by three
      adapter.ingestFrame("option", CONN, snapshot(100, "0.1"), 1); // the replacement's snapshot, behind: ignored
      adapter.ingestFrame("option", CONN, change(101, 100, "0.105"), 1); // its trail: a duplicate
      planned.onRetiringClosed(conn, "test"); // the old socket closed: the replacement carries on, behind the book
      expect(invalid).toEqual([{ state: BookState.RESYNCING, reason: StatusReason.DISCONNECTED }]);
      adapter.ingestFrame("option", CONN, change(102, 1, "0.3"), 1); // the venue's new run (its snapshot at 1 lost)
      adapter.ingestFrame("option", CONN, change(103, 102, "0.31"), 1);
      adapter.ingestFrame("option", CONN, change(104, 103, "0.32"), 1);
      expect(adapter.topicInfo(0).state).not.toBe("live");
      expect(invalid).toHaveLength(1);
    } finally {
      await stop();
    }
  });

  test("gone back to the old socket while it trailed the replacement: a change below its own last id resyncs the book", async () => {
    const { adapter, conn, planned, invalid, fromOld, stop } = await overlapRig();
    try {
      adapter.ingestFrame("option", CONN, snapshot(101, "0.105"), 1); // the replacement's, ahead: applied
      adapter.ingestFrame("option", CONN, change(102, 101, "0.11"), 1); // the replacement leads
      fromOld(change(101, 100, "0.105")); // the old socket's trail: a duplicate
      planned.goBack(conn, "test"); // the replacement failed: the old socket again, under a new generation
      adapter.ingestFrame("option", CONN, change(6, 5, "0.09"), 1); // below its own 101: a reset
      expect(invalid).toEqual([{ state: BookState.RESYNCING, reason: StatusReason.VENUE_RESET }]);
    } finally {
      await stop();
    }
  });

  test("replay of a capture that records the sockets: gone back to the old socket while it trailed, a change below its own last id resyncs the book", async () => {
    // The recorded ws:back renames the old socket's kept last id as the live go-back does (seqSocketRenamed).
    const { adapter, invalid, stop } = await overlapRig();
    try {
      const a = adapter as unknown as { books: { replaying: boolean } };
      a.books.replaying = true;
      const ev = (url: string) => adapter.ingestConnectionEvent("option", CONN, url, 1);
      ev("ws:state"); // the sockets recorded from here (a file's head: one socket, the one the book's frames came on)
      ev("ws:swap");
      adapter.ingestFrame("option", CONN, snapshot(101, "0.105"), 1); // the replacement's, ahead: applied
      adapter.ingestFrame("option", CONN, change(102, 101, "0.11"), 1);
      ev("ws:old");
      adapter.ingestFrame("option", CONN, change(101, 100, "0.105"), 1); // the old socket's trail: a duplicate
      ev("ws:back");
      adapter.ingestFrame("option", CONN, change(6, 5, "0.09"), 1); // below its own 101: a reset
      expect(invalid).toEqual([{ state: BookState.RESYNCING, reason: StatusReason.VENUE_RESET }]);
    } finally {
      await stop();
    }
  });

  test("replay's ws:back with the book RESYNCING after a reset on the replacement: the old socket's resubscribe answer is taken, as live", async () => {
    // OKX's old-socket mark held such a book RESYNCING in replay only (live's go-back redoes the resync: restartWanted).
    // Deribit's marks (snapshotDue, the socket of record) judge only a LIVE book: any snapshot sets a book not LIVE.
    const { adapter, invalid, stop } = await overlapRig();
    try {
      const a = adapter as unknown as { books: { replaying: boolean } };
      a.books.replaying = true;
      const ev = (url: string) => adapter.ingestConnectionEvent("option", CONN, url, 1);
      ev("ws:state");
      ev("ws:swap");
      adapter.ingestFrame("option", CONN, snapshot(101, "0.105"), 1); // the replacement's, ahead: applied
      adapter.ingestFrame("option", CONN, change(6, 5, "0.09"), 1); // its ids went back: a reset, resynced there
      expect(invalid).toEqual([{ state: BookState.RESYNCING, reason: StatusReason.VENUE_RESET }]);
      ev("ws:old");
      adapter.ingestFrame("option", CONN, change(102, 101, "0.11"), 1); // the old socket, before the reset: ignored
      ev("ws:back"); // the replacement failed: live redoes the resync on the old socket
      adapter.ingestFrame("option", CONN, snapshot(8, "0.095"), 1); // its answer
      adapter.ingestFrame("option", CONN, change(9, 8, "0.1"), 1);
      expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastChangeId: 9 });
    } finally {
      await stop();
    }
  });

  test("the socket of record overtaken by the other one keeps its own last id: a change below it is a reset", async () => {
    const { adapter, invalid, fromOld, stop } = await overlapRig();
    try {
      adapter.ingestFrame("option", CONN, snapshot(100, "0.1"), 1); // the replacement's: the same id, it is of record
      fromOld(change(101, 100, "0.105")); // the old socket moves the book on: the replacement stays known at 100
      adapter.ingestFrame("option", CONN, change(6, 5, "0.09"), 1); // below the replacement's own 100
      expect(invalid).toEqual([{ state: BookState.RESYNCING, reason: StatusReason.VENUE_RESET }]);
    } finally {
      await stop();
    }
  });
});

describe("deribit: a replacement that joined the book's chain stays joined while its own changes link (s-derijoin)", () => {
  // Until s-derijoin the replacement counted as caught up only while at the book's change_id at that instant: one that
  // joined and was a change behind when the old socket went had its book resynced (a planned reconnect taking a book
  // out of LIVE), and the old socket was kept to the ack deadline unless every book was caught up at the same round.
  const awaitingJoin = (adapter: DeribitAdapter, conn: VenueConnection) => (adapter as unknown as { awaitingJoin(c: VenueConnection): boolean }).awaitingJoin(conn);

  test("joined by its snapshot, a change behind when the old socket closes: the book stays LIVE and goes on from the replacement", async () => {
    const { adapter, conn, planned, invalid, fromOld, stop } = await overlapRig();
    try {
      adapter.ingestFrame("option", CONN, snapshot(100, "0.1"), 1); // the replacement's: the book's id, joined
      fromOld(change(101, 100, "0.105")); // the old socket leads by one
      expect(awaitingJoin(adapter, conn), "the old socket not needed for a joined replacement").toBe(false);
      planned.onRetiringClosed(conn, "test");
      expect(invalid).toEqual([]);
      adapter.ingestFrame("option", CONN, change(101, 100, "0.105"), 1); // its trail: a duplicate
      adapter.ingestFrame("option", CONN, change(102, 101, "0.11"), 1);
      expect(invalid).toEqual([]);
      expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastChangeId: 102 });
      adapter.ingestFrame("option", CONN, change(6, 5, "0.09"), 1); // of record now: a lower change is a reset
      expect(invalid).toEqual([{ state: BookState.RESYNCING, reason: StatusReason.VENUE_RESET }]);
    } finally {
      await stop();
    }
  });

  test("joined by a change it trailed with, then behind by two: LIVE at the close; not joined by a snapshot below the book", async () => {
    const { adapter, conn, planned, invalid, fromOld, stop } = await overlapRig();
    try {
      fromOld(change(101, 100, "0.105"));
      adapter.ingestFrame("option", CONN, snapshot(100, "0.1"), 1); // behind: not joined (a reset's looks the same)
      expect(awaitingJoin(adapter, conn)).toBe(true);
      adapter.ingestFrame("option", CONN, change(101, 100, "0.105"), 1); // the book's id: joined
      fromOld(change(102, 101, "0.11"));
      fromOld(change(103, 102, "0.12"));
      expect(awaitingJoin(adapter, conn)).toBe(false);
      planned.onRetiringClosed(conn, "test");
      expect(invalid).toEqual([]);
      adapter.ingestFrame("option", CONN, change(102, 101, "0.11"), 1);
      adapter.ingestFrame("option", CONN, change(103, 102, "0.12"), 1);
      adapter.ingestFrame("option", CONN, change(104, 103, "0.13"), 1);
      expect(invalid).toEqual([]);
      expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastChangeId: 104 });
    } finally {
      await stop();
    }
  });

  test("a reset on the joined replacement whose ids fall between its own last and the book's is a break, during the overlap or after it", async () => {
    for (const closed of [false, true]) {
      for (const [cid, prev] of [
        [102, 1], // inside the trail, its prev from the new run
        [103, 7], // at the book's id: no repeat, it does not link to the replacement's own 101
      ] as const) {
        const { adapter, conn, planned, invalid, fromOld, stop } = await overlapRig();
        try {
          adapter.ingestFrame("option", CONN, snapshot(100, "0.1"), 1); // joined
          adapter.ingestFrame("option", CONN, change(101, 100, "0.105"), 1);
          fromOld(change(101, 100, "0.105"));
          fromOld(change(102, 101, "0.11"));
          fromOld(change(103, 102, "0.12")); // the replacement behind at its own 101
          if (closed) planned.onRetiringClosed(conn, "test");
          expect(invalid).toEqual([]);
          adapter.ingestFrame("option", CONN, change(cid, prev, "0.3"), 1); // the venue's new run, its snapshot lost
          adapter.ingestFrame("option", CONN, change(104, 103, "0.31"), 1);
          expect(invalid, `${cid}/${prev}, closed: ${closed}`).toEqual([{ state: BookState.RESYNCING, reason: StatusReason.SEQUENCE_GAP }]);
          expect(adapter.topicInfo(0).state).not.toBe("live");
        } finally {
          await stop();
        }
      }
    }
  });
});

describe("deribit: a trailing socket's change exactly at the book's change_id must link to its own last id (s-derijoin2)", () => {
  // Until s-derijoin2 such a change was a repeat whatever its prev_change_id: the trailing socket of record from then
  // on and, the replacement, joined the book's chain, so a venue reset run landing exactly on the book's id (its
  // snapshot lost) was taken for the book's and its next change applied on the pre-reset levels.
  const awaitingJoin = (adapter: DeribitAdapter, conn: VenueConnection) => (adapter as unknown as { awaitingJoin(c: VenueConnection): boolean }).awaitingJoin(conn);

  test("the replacement trailing at its own last id: a change at the book's id not linking to it is a break", async () => {
    const { adapter, invalid, fromOld, stop } = await overlapRig();
    try {
      fromOld(change(101, 100, "0.105"));
      fromOld(change(102, 101, "0.11"));
      fromOld(change(103, 102, "0.12"));
      adapter.ingestFrame("option", CONN, snapshot(100, "0.1"), 1); // the replacement's, behind: its own last 100
      adapter.ingestFrame("option", CONN, change(103, 7, "0.3"), 1); // the venue's new run at the book's id exactly
      expect(invalid).toEqual([{ state: BookState.RESYNCING, reason: StatusReason.SEQUENCE_GAP }]);
      expect(adapter.stats()).toMatchObject({ gaps: 1 });
    } finally {
      await stop();
    }
  });

  test("the old socket trailing the replacement: a change at the book's id not linking to its own last id is a break", async () => {
    const { adapter, invalid, fromOld, stop } = await overlapRig();
    try {
      adapter.ingestFrame("option", CONN, snapshot(102, "0.11"), 1); // the replacement's, ahead: the old one known at 100
      fromOld(change(102, 7, "0.3")); // the venue's new run on the old socket at the book's id exactly
      expect(invalid).toEqual([{ state: BookState.RESYNCING, reason: StatusReason.SEQUENCE_GAP }]);
    } finally {
      await stop();
    }
  });

  test("a trailing socket's change linking to the book's id while its own last is lower is a break, not applied", async () => {
    // It skipped the book's id on its own chain: another run (a reset, its snapshot lost) whose prev lands on the
    // book's id. Before s-rd3k it was applied from any socket, the book LIVE on the pre-reset levels.
    const { adapter, invalid, fromOld, stop } = await overlapRig();
    try {
      fromOld(change(101, 100, "0.105"));
      fromOld(change(102, 101, "0.11"));
      adapter.ingestFrame("option", CONN, snapshot(100, "0.1"), 1); // the replacement's, behind: its own last 100
      adapter.ingestFrame("option", CONN, change(103, 102, "0.3"), 1); // never delivered 101 or 102 itself
      expect(invalid).toEqual([{ state: BookState.RESYNCING, reason: StatusReason.SEQUENCE_GAP }]);
      expect(adapter.stats()).toMatchObject({ gaps: 1 });
    } finally {
      await stop();
    }
  });

  test("the replacement not yet joined, trailing from its own snapshot: a change not linking to its own last id is a break", async () => {
    // Otherwise the other run's changes carry it up to the book's id, linked there to its own last, and it joins: the
    // book LIVE at the old socket's close, fed by another run. Before s-rd3k an unjoined trail's links were not checked.
    const { adapter, conn, planned, invalid, fromOld, stop } = await overlapRig();
    try {
      fromOld(change(101, 100, "0.105"));
      fromOld(change(102, 101, "0.11"));
      adapter.ingestFrame("option", CONN, snapshot(100, "0.1"), 1); // the replacement's, behind: its own last 100
      adapter.ingestFrame("option", CONN, change(101, 7, "0.3"), 1); // the venue's new run, between its last and the book's
      adapter.ingestFrame("option", CONN, change(102, 101, "0.31"), 1);
      planned.onRetiringClosed(conn, "test");
      expect(invalid[0]).toEqual({ state: BookState.RESYNCING, reason: StatusReason.SEQUENCE_GAP });
    } finally {
      await stop();
    }
  });

  test("the replacement's first frame for the book a change at the book's id (no snapshot of its own): not a join", async () => {
    // Its subscribe's snapshot comes first on Deribit; without it nothing on that socket chains to the book.
    const { adapter, conn, planned, invalid, fromOld, stop } = await overlapRig();
    try {
      fromOld(change(101, 100, "0.105"));
      adapter.ingestFrame("option", CONN, change(101, 100, "0.105"), 1);
      expect(awaitingJoin(adapter, conn)).toBe(true);
      expect(invalid).toEqual([]);
      planned.onRetiringClosed(conn, "test");
      expect(invalid).toEqual([{ state: BookState.RESYNCING, reason: StatusReason.DISCONNECTED }]);
    } finally {
      await stop();
    }
  });

  test("the replacement's first frame for the book a change below it (no snapshot of its own): no own last, no join by its changes", async () => {
    // A first change below the book set the replacement's own last id until 2026-12-07, so a run of the venue's (a
    // reset, its snapshot lost) linked from it up to the book's id joined: LIVE at the old socket's close, fed by it.
    const { adapter, conn, planned, invalid, fromOld, stop } = await overlapRig();
    try {
      fromOld(change(101, 100, "0.105"));
      fromOld(change(102, 101, "0.11"));
      adapter.ingestFrame("option", CONN, change(101, 7, "0.3"), 1); // the venue's new run, below the book
      adapter.ingestFrame("option", CONN, change(102, 101, "0.31"), 1); // linked to it, at the book's id
      expect(awaitingJoin(adapter, conn), "nothing chains the replacement to the book").toBe(true);
      planned.onRetiringClosed(conn, "test");
      adapter.ingestFrame("option", CONN, change(103, 102, "0.32"), 1);
      expect(invalid[0]).toEqual({ state: BookState.RESYNCING, reason: StatusReason.DISCONNECTED });
      expect(adapter.topicInfo(0).state).not.toBe("live");
    } finally {
      await stop();
    }
  });

  test("linked to its own last id it is the repeat it was: joined, LIVE at the close", async () => {
    const { adapter, conn, planned, invalid, fromOld, stop } = await overlapRig();
    try {
      fromOld(change(101, 100, "0.105"));
      adapter.ingestFrame("option", CONN, snapshot(100, "0.1"), 1);
      adapter.ingestFrame("option", CONN, change(101, 100, "0.105"), 1);
      expect(awaitingJoin(adapter, conn)).toBe(false);
      planned.onRetiringClosed(conn, "test");
      adapter.ingestFrame("option", CONN, change(102, 101, "0.11"), 1);
      expect(invalid).toEqual([]);
      expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastChangeId: 102 });
    } finally {
      await stop();
    }
  });
});

describe("deribit: a venue reset around an overlap, randomized against a model of what each socket delivered", () => {
  test("a change below a socket's own last id is a reset on either socket, during the overlap or after; its trail and lead never are", async () => {
    // The model: both sockets carry the same change stream, the replacement from its subscribe's snapshot on, in a
    // random interleaving; the book is at the highest id delivered. TCP is ordered, so a socket's ids only go up: a
    // change below the last id that socket delivered itself (reached the book or not) is the venue's ids going back;
    // its frames between its own last and the book are its trail (duplicates), and above the book they move it on.
    // Before 2026-12-07 a lower change on a socket that had not reached the book was taken for its trail.
    const rng = new Rng(20261207);
    let reached = 0;
    let behind = 0;
    let during = 0;
    let behindResynced = 0;
    let joinedBehind = 0;
    let betweenReset = 0;
    let atBook = 0;
    for (let round = 0; round < 300; round++) {
      const { adapter, conn, planned, invalid, fromOld, stop } = await overlapRig();
      try {
        const ids = [100];
        for (let k = 1; k < 10; k++) ids.push(ids[k - 1]! + rng.int(1, 3));
        const bids = ids.map((_, k) => `0.${String(1000 + k).slice(1)}`);
        const sb = rng.int(0, 6); // the replacement's snapshot: the book's state when it subscribed
        const script: ("old" | "new")[] = [];
        for (let k = 1; k < 8; k++) script.push("old");
        for (let k = sb; k < 8; k++) script.push("new"); // its snapshot first, then its changes
        for (let i = script.length - 1; i > 0; i--) {
          const j = rng.int(0, i);
          [script[i], script[j]] = [script[j]!, script[i]!];
        }
        const cut = rng.int(1, script.length); // the overlap ends after this many frames
        let pa = 0; // index of the last id each socket delivered (-1: none)
        let pb = -1;
        let joined = false; // the replacement delivered the book's id once (its changes link to its own since)
        const fromNew = (f: string) => adapter.ingestFrame("option", CONN, f, 1);
        let oldGoneBack = false; // the old socket is the connection's one again: its frames no longer the retiring one's
        const old = (f: string) => (oldGoneBack ? fromNew(f) : fromOld(f));
        const next = (who: "old" | "new") => {
          if (who === "old") {
            pa++;
            old(change(ids[pa]!, ids[pa - 1]!, bids[pa]!));
          } else if (pb < 0) {
            pb = sb;
            fromNew(snapshot(ids[pb]!, bids[pb]!));
          } else {
            pb++;
            fromNew(change(ids[pb]!, ids[pb - 1]!, bids[pb]!));
          }
          if (who === "new" && pb >= pa) joined = true;
        };
        for (const who of script.slice(0, cut)) next(who);
        const book = Math.max(pa, pb);
        expect(invalid).toEqual([]);
        expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastChangeId: ids[book] });
        if (rng.next() < 0.25) {
          // The venue's ids go back during the overlap, seen first on a socket that has delivered something.
          during++;
          if (pb >= 0 && pa !== pb && rng.next() < 0.5) {
            // The socket behind, its new run landing exactly on the book's id (its snapshot lost): a break, not its
            // repeat (before s-derijoin2 it was of record from then on, the replacement joined).
            atBook++;
            (pa < pb ? fromOld : fromNew)(change(ids[book]!, 1, "0.09"));
            expect(invalid).toEqual([{ state: BookState.RESYNCING, reason: StatusReason.SEQUENCE_GAP }]);
            continue;
          }
          if (pb >= 0 && rng.next() < 0.5) fromNew(change(6, 5, "0.09"));
          else fromOld(change(6, 5, "0.09"));
        } else {
          // The replacement carries on (the old socket closed), or, not yet having its snapshot, the old one (gone back to).
          const replacementOn = pb >= 0 && rng.next() < 0.5;
          if (replacementOn) planned.onRetiringClosed(conn, "test");
          else {
            planned.goBack(conn, "test");
            oldGoneBack = true;
          }
          if ((replacementOn ? pb : pa) === book) reached++;
          else behind++;
          if (replacementOn && pb !== book && !joined) {
            // The replacement carrying on behind the book, never at its id: it cannot be proven current, resynced at the close (s-deritrail).
            expect(invalid).toEqual([{ state: BookState.RESYNCING, reason: StatusReason.DISCONNECTED }]);
            behindResynced++;
            continue;
          }
          // One that joined the book's chain and trails it stays LIVE (s-derijoin; before, resynced here).
          if (replacementOn && pb !== book) joinedBehind++;
          // What it had in flight: its trail up to the book (duplicates), maybe new changes past it (applied).
          // Half the rounds, the venue's new run on the joined replacement, its ids between its own last and the book's.
          const between = replacementOn && pb < book && round % 2 === 0;
          const upTo = between ? rng.int(pb, book - 1) : rng.int(replacementOn ? pb : pa, ids.length - 1);
          while ((replacementOn ? pb : pa) < upTo) next(replacementOn ? "new" : "old");
          expect(invalid).toEqual([]);
          expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastChangeId: ids[Math.max(book, upTo)] });
          if (between) {
            // A break, not its trail (before s-derijoin the book was resynced at the close instead).
            betweenReset++;
            fromNew(change(ids[pb]! + 1, 1, "0.09"));
            expect(invalid).toEqual([{ state: BookState.RESYNCING, reason: StatusReason.SEQUENCE_GAP }]);
            continue;
          }
          (replacementOn ? fromNew : old)(change(6, 5, "0.09"));
        }
        expect(invalid).toEqual([{ state: BookState.RESYNCING, reason: StatusReason.VENUE_RESET }]);
      } finally {
        await stop();
      }
    }
    // Each branch drawn (the seed fixed: 151, 73, 6, 70, 17, 9 and 17 rounds).
    expect(Math.min(reached, during, behindResynced, behind - behindResynced, joinedBehind, betweenReset, atBook)).toBeGreaterThan(4);
  });
});
