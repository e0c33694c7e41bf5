/**
 * A grouped channel's book resyncing during a planned reconnect's overlap: the resync restarts the channel on the
 * replacement only, and the old socket's whole books go on, maybe behind the change_id the replacement gave the book.
 * Such a one is the old socket's trail (a LIVE book ignores it: onOlderSnapshot), not the venue's book now: before
 * 2026-12-07 the resyncing book took it, LIVE at an older state than it had shown. In-process: the adapter's frames
 * fed straight in, as live (not replaying), the overlap's sockets told apart as the planned reconnect does.
 */
import { describe, expect, test } from "vitest";
import type { BookUpdate } from "../../../src/core/book-update.ts";
import { silentLogger } from "../../../src/core/log.ts";
import { StatusReason, type MarketName } from "../../../src/core/types.ts";
import { DeribitAdapter } from "../../../src/venues/deribit/adapter.ts";
import type { VenueConnection } from "../../../src/venues/common/connection.ts";
import type { BookSink } from "../../../src/venues/venue.ts";

const CHANNEL = "book.BTC-PERPETUAL.none.10.100ms";
const CONN = "conn0.inverse";
const book = (id: number, bid: number) =>
  `{"jsonrpc":"2.0","method":"subscription","params":{"channel":"${CHANNEL}","data":{"timestamp":1,"instrument_name":"BTC-PERPETUAL","change_id":${id},"bids":[[${bid},10]],"asks":[[200,10]]}}}`;

async function rig() {
  /** The adapter's clock (ms): moved by the test alone. */
  const clock = { ms: 1_000 };
  const adapter = new DeribitAdapter(
    { venue: "deribit", wsUrl: "ws://127.0.0.1:1/ws/api/v2", restUrl: "http://127.0.0.1:1", instrumentCachePath: "", markets: [{ market: "inverse", depth: 10, symbols: ["BTC-PERPETUAL"] }], overrides: new Map([["inverse:BTC-PERPETUAL", { tickSize: "0.5", lotSize: "1" }]]) },
    [{ market: "inverse" as MarketName, symbol: "BTC-PERPETUAL", depth: 10 }],
    { log: silentLogger, now: () => clock.ms },
  );
  await adapter.loadInstruments();
  /** The change_id of each book handed to the sink. */
  const handedOn: number[] = [];
  const sink: BookSink = {
    onBookUpdate: (_i: number, u: BookUpdate) => void handedOn.push(u.venueSeq),
    onBookInvalid: () => undefined,
    onInstrumentChanged: () => undefined,
  };
  adapter.startReplay(sink);
  const a = adapter as unknown as { books: { replaying: boolean }; conns: VenueConnection[]; snapshotDue: Uint8Array };
  a.books.replaying = false; // as live: the sockets can be told apart (the resync writes nothing: no socket open)
  const conn = a.conns[0]!;
  const feed = (id: number, bid: number, old = false) => {
    conn.fromRetiring = old;
    try {
      adapter.ingestFrame("inverse", CONN, book(id, bid), 1);
    } finally {
      conn.fromRetiring = false;
    }
  };
  const overlap = () => {
    conn.retiringWs = {} as WebSocket;
    conn.retiringGeneration = conn.generation;
    conn.generation = ++conn.genSeq;
    a.snapshotDue[0] = 1;
  };
  const stop = async () => {
    a.books.replaying = true;
    conn.retiringWs = null;
    conn.retiringGeneration = -1;
    await adapter.stop();
  };
  return { adapter, handedOn, feed, overlap, stop, clock };
}

describe("deribit: a grouped book resyncing during a planned reconnect's overlap", () => {
  test("the old socket's whole book below the change_id the replacement gave the book does not make it LIVE", async () => {
    const { adapter, handedOn, feed, overlap, stop, clock } = await rig();
    try {
      feed(100, 100);
      overlap();
      feed(105, 105); // the replacement, ahead: the book at change_id 105
      feed(103, 103, true); // the old socket trails: ignored while LIVE
      expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastChangeId: 105 });
      adapter.requestResync(0, StatusReason.CROSSED_BOOK); // e.g. the app found it crossed
      expect(adapter.topicInfo(0).state).toBe("resyncing");
      const before = adapter.stats();
      const topic = (adapter as unknown as { topics: { lastMsgMs: number }[] }).topics[0]!;
      const heardMs = topic.lastMsgMs;
      clock.ms += 5_000;
      feed(104, 104, true); // still trailing: the venue's book of before change_id 105
      // No sign of life: a replacement whose answer never comes must still let the stale rule resync the book.
      expect(topic.lastMsgMs).toBe(heardMs);
      // Before: taken, the book LIVE at change_id 104, older than what it had shown.
      expect(adapter.topicInfo(0).state).toBe("resyncing");
      expect(adapter.stats()).toMatchObject({ duplicates: before.duplicates! + 1, snapshots: before.snapshots, venueResets: 0 });
      expect(handedOn).toEqual([100, 105]); // nothing handed on
      feed(106, 106, true); // the old socket past the book's change_id: the venue's book now
      expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastChangeId: 106 });
      expect(handedOn).toEqual([100, 105, 106]);
    } finally {
      await stop();
    }
  });

  test("the old socket going back below its own last change_id is still the venue's book, taken", async () => {
    const { adapter, feed, overlap, stop } = await rig();
    try {
      feed(100, 100);
      overlap();
      feed(105, 105); // the replacement, ahead
      feed(103, 103, true); // the old socket at 103 (trailing, kept as its own last)
      adapter.requestResync(0, StatusReason.CROSSED_BOOK);
      feed(7, 95, true); // below its own 103: the venue rebuilt the book with lower ids
      expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastChangeId: 7 });
    } finally {
      await stop();
    }
  });

  test("the old socket going back below a trailing whole book ignored while resyncing is still the venue's book, taken", async () => {
    const { adapter, feed, overlap, stop } = await rig();
    try {
      feed(100, 100);
      overlap();
      feed(105, 105); // the replacement, ahead
      feed(101, 101, true); // the old socket at 101 (trailing)
      adapter.requestResync(0, StatusReason.CROSSED_BOOK);
      feed(104, 104, true); // its trail, ignored: kept as that socket's own last id
      expect(adapter.topicInfo(0).state).toBe("resyncing");
      feed(102, 95, true); // below its own 104 (TCP is ordered): the venue rebuilt the book with lower ids
      expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastChangeId: 102 });
    } finally {
      await stop();
    }
  });

  test("the old socket going back below the change_id it gave the book itself is still the venue's book, taken", async () => {
    const { adapter, feed, overlap, stop } = await rig();
    try {
      feed(100, 100);
      overlap();
      feed(105, 105, true); // the old socket delivers the book's change_id
      adapter.requestResync(0, StatusReason.CROSSED_BOOK);
      feed(7, 95, true); // and goes below it: the venue rebuilt the book with lower ids
      expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastChangeId: 7 });
    } finally {
      await stop();
    }
  });

  test("the replacement's own answer below the book's change_id is taken (the venue rebuilt the book)", async () => {
    const { adapter, feed, overlap, stop } = await rig();
    try {
      feed(100, 100);
      overlap();
      feed(105, 105);
      adapter.requestResync(0, StatusReason.CROSSED_BOOK);
      feed(9, 95); // the replacement's answer, of the venue's new ids
      expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastChangeId: 9 });
    } finally {
      await stop();
    }
  });

  test("after the replacement's answer below the id it gave the book (a venue reset), the old socket's trail of the run before is ignored", async () => {
    const { adapter, handedOn, feed, overlap, stop } = await rig();
    try {
      feed(100, 100);
      overlap();
      feed(105, 105); // the replacement delivers the book's change_id
      adapter.requestResync(0, StatusReason.CROSSED_BOOK);
      feed(9, 95); // its answer below it: the venue rebuilt the book with lower ids
      expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastChangeId: 9 });
      // Counted as a LIVE book's reset is (onOlderSnapshot): before, 0.
      expect(adapter.stats().venueResets).toBe(1);
      feed(104, 104, true); // the old socket, behind the reset: the run before it, above the new ids
      // Before: taken as the other socket's newer book, LIVE at the state before the reset.
      expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastChangeId: 9 });
      expect(handedOn).toEqual([100, 105, 9]);
    } finally {
      await stop();
    }
  });

  test("a venue reset the LIVE book counted is not counted again when the resync's answer below the old id is taken", async () => {
    const { adapter, feed, overlap, stop } = await rig();
    try {
      feed(100, 100);
      overlap();
      feed(105, 105); // the replacement delivers the book's change_id
      feed(9, 95); // and goes below it (TCP is ordered): a venue reset, counted, the book resynced
      expect(adapter.topicInfo(0).state).toBe("resyncing");
      expect(adapter.stats().venueResets).toBe(1);
      feed(10, 95); // the resync's answer, of the same new run: that reset's, not a second one
      expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastChangeId: 10 });
      expect(adapter.stats().venueResets).toBe(1);
    } finally {
      await stop();
    }
  });

  test("once the book is taken after a counted reset, a later reset its next resync's answer shows is counted", async () => {
    const { adapter, feed, overlap, stop } = await rig();
    try {
      feed(100, 100);
      overlap();
      feed(105, 105);
      feed(9, 95); // a venue reset, counted
      feed(10, 95); // that reset's book: taken, not counted again
      expect(adapter.stats().venueResets).toBe(1);
      adapter.requestResync(0, StatusReason.CROSSED_BOOK);
      feed(3, 95); // the answer below the 10 this socket gave the book: another reset
      expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastChangeId: 3 });
      // Seen as 1 with the first reset's mark (resetCounted) left after its book was taken.
      expect(adapter.stats().venueResets).toBe(2);
    } finally {
      await stop();
    }
  });

  test("after the old socket's book below its own last change_id (a venue reset), the replacement's book of the run before is ignored", async () => {
    const { adapter, handedOn, feed, overlap, stop } = await rig();
    try {
      feed(100, 100);
      overlap();
      feed(105, 105); // the replacement, ahead
      feed(103, 103, true); // the old socket at 103 (trailing, kept as its own last)
      adapter.requestResync(0, StatusReason.CROSSED_BOOK);
      feed(7, 95, true); // below its own 103: the venue rebuilt the book with lower ids
      expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastChangeId: 7 });
      const before = adapter.stats();
      feed(106, 106); // the replacement, behind the reset: the run before it, above the new ids
      // Before: taken as the other socket's newer book, LIVE at the state before the reset.
      expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastChangeId: 7 });
      // The reset counted once, when the old socket's book below its own last was taken (before, never).
      expect(adapter.stats()).toMatchObject({ duplicates: before.duplicates! + 1, replaces: before.replaces, venueResets: 1 });
      feed(8, 96, true); // the old socket goes on: the venue's book now
      expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastChangeId: 8 });
      expect(handedOn).toEqual([100, 105, 7, 8]);
    } finally {
      await stop();
    }
  });

  test("the replacement behind the old socket's reset does not leave the book frozen LIVE when the overlap ends on it", async () => {
    const { adapter, handedOn, feed, overlap, stop } = await rig();
    try {
      feed(100, 100);
      overlap();
      feed(105, 105);
      feed(103, 103, true);
      adapter.requestResync(0, StatusReason.CROSSED_BOOK);
      feed(7, 95, true); // the venue reset, taken from the old socket: the replacement marked behind it
      const a = adapter as unknown as { conns: VenueConnection[]; topics: object[]; onOverlapOver(c: VenueConnection, carrier: string, oldGen: number): void; onSubscribeWritten(t: object[], replay: boolean): void };
      const conn = a.conns[0]!;
      const oldGen = conn.retiringGeneration;
      conn.retiringWs = null;
      conn.retiringGeneration = -1;
      a.onOverlapOver(conn, "replacement", oldGen); // the old socket closed: the replacement carries on
      // Its frames are ignored until a subscribe is written on it: the book restarted there, not LIVE and frozen.
      expect(adapter.topicInfo(0).state).toBe("resyncing");
      a.onSubscribeWritten([a.topics[0]!], false); // the restart's subscribe: its answer is of the new run
      feed(9, 97);
      expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastChangeId: 9 });
      expect(handedOn).toEqual([100, 105, 7, 9]);
    } finally {
      await stop();
    }
  });

  test("after the old socket's book below the change_id it gave the book (a venue reset), the replacement's book of the run before is ignored", async () => {
    const { adapter, handedOn, feed, overlap, stop } = await rig();
    try {
      feed(100, 100);
      overlap();
      feed(103, 103); // the replacement, first
      feed(105, 105, true); // the old socket delivers the book's change_id, the replacement behind it
      adapter.requestResync(0, StatusReason.CROSSED_BOOK);
      feed(7, 95, true); // below it on the same socket: the venue rebuilt the book with lower ids
      feed(104, 104); // the replacement, behind the reset
      // Before: taken as the other socket's newer book, LIVE at the state before the reset.
      expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastChangeId: 7 });
      expect(handedOn).toEqual([100, 103, 105, 7]);
    } finally {
      await stop();
    }
  });
});
