/**
 * Replay of a capture in which the venue reset a book (rev34): live, a snapshot below the live book's change_id that
 * no subscribe asked for resyncs the book (venue_reset) and the resubscribe's snapshot makes it LIVE again. Replay,
 * which has no marker of its own, took every older snapshot for a make-before-break's (ignored): the reset snapshot,
 * the changes after it and the resubscribe's snapshot were all ignored, and the book stayed LIVE with the levels of
 * before the reset for the rest of the capture. Now a recorded subscribe answer (`result` naming the channel) stands
 * for the subscribe live sent, so replay tells the two apart as live did.
 */
import { describe, expect, test } from "vitest";
import type { BookUpdate } from "../../../src/core/book-update.ts";
import { silentLogger } from "../../../src/core/log.ts";
import { BookState, StatusReason, type MarketName } from "../../../src/core/types.ts";
import { DeribitAdapter } from "../../../src/venues/deribit/adapter.ts";
import type { BookSink } from "../../../src/venues/venue.ts";

const CHANNEL = "book.BTC-PERPETUAL.100ms";
const CONN = "conn0.inverse";
const note = (data: string) => `{"jsonrpc":"2.0","method":"subscription","params":{"channel":"${CHANNEL}","data":${data}}}`;
const snapshot = (id: number, bid: number) => note(`{"type":"snapshot","timestamp":1,"instrument_name":"BTC-PERPETUAL","change_id":${id},"bids":[["new",${bid},10]],"asks":[["new",200,10]]}`);
const change = (id: number, prev: number, bid: number) => note(`{"type":"change","timestamp":1,"instrument_name":"BTC-PERPETUAL","change_id":${id},"prev_change_id":${prev},"bids":[["new",${bid},5]],"asks":[]}`);
const answer = (id: number) => `{"jsonrpc":"2.0","id":${id},"result":["${CHANNEL}"],"usIn":0,"usOut":0,"usDiff":0,"testnet":false}`;

async function replay(frames: string[]) {
  const adapter = new DeribitAdapter(
    { venue: "deribit", wsUrl: "ws://127.0.0.1:1/ws/api/v2", restUrl: "http://127.0.0.1:1", instrumentCachePath: "", markets: [{ market: "inverse", depth: 0, symbols: ["BTC-PERPETUAL"] }], overrides: new Map([["inverse:BTC-PERPETUAL", { tickSize: "0.5", lotSize: "1" }]]) },
    [{ market: "inverse" as MarketName, symbol: "BTC-PERPETUAL", depth: 0 }],
    { log: silentLogger },
  );
  await adapter.loadInstruments();
  const applied: number[] = [];
  const invalid: { state: BookState; reason: StatusReason }[] = [];
  const sink: BookSink = {
    onBookUpdate: (_i: number, u: BookUpdate) => void applied.push(u.venueSeq),
    onBookInvalid: (_i: number, state: BookState, reason: StatusReason) => void invalid.push({ state, reason }),
    onInstrumentChanged: () => undefined,
  };
  adapter.startReplay(sink);
  for (const f of frames) expect(adapter.ingestFrame("inverse", CONN, f, 1)).toBe(true);
  const info = adapter.topicInfo(0);
  const stats = adapter.stats();
  await adapter.stop();
  return { applied, invalid, info, stats };
}

/** The book of 1000, 1001 resynced once as a venue reset, then LIVE from the resubscribe's snapshot 8 and change 9. */
function expectResetThenLiveAt9(r: Awaited<ReturnType<typeof replay>>): void {
  expect(r.invalid).toEqual([{ state: BookState.RESYNCING, reason: StatusReason.VENUE_RESET }]);
  expect(r.applied).toEqual([1000, 1001, 8, 9]);
  expect(r.info.state).toBe("live");
  expect(r.info.lastChangeId).toBe(9);
  expect(r.stats.venueResets).toBe(1);
}

describe("deribit replay: an older snapshot, asked for or not, as live", () => {
  test("a venue reset in the capture resyncs the book, and the resubscribe's snapshot (below the old ids) makes it LIVE with the venue's book", async () => {
    const r = await replay([
      answer(1),
      snapshot(1000, 100),
      change(1001, 1000, 101),
      // The venue rebuilt the book with low ids: live resynced it (venue_reset), unsubscribed and subscribed again.
      snapshot(5, 90),
      change(6, 5, 91),
      answer(2),
      answer(3),
      snapshot(8, 92),
      change(9, 8, 93),
    ]);
    // Before: the reset, its change and the resubscribe's snapshot all ignored; the book LIVE at 1001 (bid 101) for good.
    expectResetThenLiveAt9(r);
  });

  test("a make-before-break replacement's snapshot behind the book (its subscribe answer recorded before it) is ignored, as live", async () => {
    const r = await replay([
      answer(1),
      snapshot(1000, 100),
      change(1001, 1000, 101),
      change(1002, 1001, 102),
      answer(2), // the replacement's subscribe
      snapshot(1001, 101), // the replacement, behind the old socket
      change(1002, 1001, 102), // the replacement's, a duplicate
      change(1003, 1002, 103), // the old socket's
    ]);
    expect(r.invalid).toEqual([]);
    expect(r.applied).toEqual([1000, 1001, 1002, 1003]);
    expect(r.stats.olderSnapshots).toBe(1);
    expect(r.stats.venueResets).toBe(0);
  });

  // Live, a change below the book's id on the socket that delivered it is a venue reset whose snapshot was lost
  // (a2718cb8): resynced at once, then the resubscribe's snapshot. Replay cannot tell sockets apart, and kept such a
  // change as a duplicate; the resubscribe's snapshot, below the old ids and its answer recorded, was then taken for
  // a make-before-break's (ignored): the book LIVE with its levels of before the reset for the rest of the capture.
  // A trailing socket's changes chain from what it delivered (its ignored older snapshot, or the book's id before a
  // newer snapshot replaced it); a change below the book that chains from neither is the venue's ids going back.
  test("a change below the book that no trailing stream explains is a venue reset, as live; the resubscribe's snapshot then applies", async () => {
    const r = await replay([
      answer(1),
      snapshot(1000, 100),
      change(1001, 1000, 101),
      change(6, 5, 91), // the venue's ids went back, its snapshot (5) lost: live resynced here
      change(7, 6, 92), // in flight before the unsubscribe took effect
      answer(2), // the unsubscribe
      answer(3), // the subscribe
      snapshot(8, 92),
      change(9, 8, 93),
    ]);
    expectResetThenLiveAt9(r);
  });

  test("a make-before-break's trailing changes stay duplicates: the replacement's behind its ignored snapshot, the old socket's behind the replacement's newer one", async () => {
    const behind = await replay([
      answer(1),
      snapshot(1000, 100),
      change(1001, 1000, 101),
      change(1002, 1001, 102),
      answer(2), // the replacement's subscribe
      snapshot(999, 99), // the replacement, behind: ignored
      change(1000, 999, 100), // the replacement's, trailing
      change(1003, 1002, 103), // the old socket's
      change(1001, 1000, 101), // the replacement's, trailing
      change(1002, 1001, 102),
      change(1003, 1002, 103), // caught up: the last one again
      change(1004, 1003, 104), // the replacement's, now leading
    ]);
    expect(behind.invalid).toEqual([]);
    expect(behind.applied).toEqual([1000, 1001, 1002, 1003, 1004]);
    expect(behind.stats.venueResets).toBe(0);
    const ahead = await replay([
      answer(1),
      snapshot(1000, 100),
      change(1001, 1000, 101),
      answer(2), // the replacement's subscribe
      snapshot(1003, 103), // the replacement, ahead: applied
      change(1002, 1001, 102), // the old socket's, trailing
      change(1004, 1003, 104), // the replacement's
      change(1003, 1002, 103), // the old socket's, trailing
      change(1004, 1003, 104), // the last one again
    ]);
    expect(ahead.invalid).toEqual([]);
    expect(ahead.applied).toEqual([1000, 1001, 1003, 1004]);
    expect(ahead.stats.venueResets).toBe(0);
  });
});

// A capture that records the connection's sockets (`ws:sockets`, `ws:swap`, `ws:old`, `ws:retired`: venue.ts) is
// judged as live: each frame's socket and the overlap are the live run's. A grouped channel's replacement ahead of the
// book during the overlap keeps its subscribe's mark live (the old socket still delivers), and the old socket's
// whole book behind it is a duplicate; without the events, replay cleared the mark at the replacement's first book
// and took the old socket's for a venue reset (resynced), where the live run ignored it.
const GROUPED = "book.BTC-PERPETUAL.none.10.100ms";
const whole = (id: number, bid: number) =>
  `{"jsonrpc":"2.0","method":"subscription","params":{"channel":"${GROUPED}","data":{"timestamp":1,"instrument_name":"BTC-PERPETUAL","change_id":${id},"bids":[[${bid},10]],"asks":[[200,10]]}}}`;
const groupedAnswer = (id: number) => `{"jsonrpc":"2.0","id":${id},"result":["${GROUPED}"],"usIn":0,"usOut":0,"usDiff":0,"testnet":false}`;

async function replayWithEvents(items: (string | { event: string })[]) {
  const adapter = new DeribitAdapter(
    { venue: "deribit", wsUrl: "ws://127.0.0.1:1/ws/api/v2", restUrl: "http://127.0.0.1:1", instrumentCachePath: "", markets: [{ market: "inverse", depth: 10, symbols: ["BTC-PERPETUAL"] }], overrides: new Map([["inverse:BTC-PERPETUAL", { tickSize: "0.5", lotSize: "1" }]]) },
    [{ market: "inverse" as MarketName, symbol: "BTC-PERPETUAL", depth: 10 }],
    { log: silentLogger },
  );
  await adapter.loadInstruments();
  const applied: number[] = [];
  const invalid: { state: BookState; reason: StatusReason }[] = [];
  const sink: BookSink = {
    onBookUpdate: (_i: number, u: BookUpdate) => void applied.push(u.venueSeq),
    onBookInvalid: (_i: number, state: BookState, reason: StatusReason) => void invalid.push({ state, reason }),
    onInstrumentChanged: () => undefined,
  };
  adapter.startReplay(sink);
  for (const it of items) {
    if (typeof it === "string") expect(adapter.ingestFrame("inverse", CONN, it, 1)).toBe(true);
    else expect(adapter.ingestConnectionEvent("inverse", CONN, it.event, 1)).toBe(true);
  }
  const stats = adapter.stats();
  await adapter.stop();
  return { applied, invalid, stats };
}

describe("deribit replay of a capture that records the sockets: as live", () => {
  test("a grouped channel's old socket behind its replacement in the overlap is a duplicate; a lower book on the replacement after it is a venue reset", async () => {
    const r = await replayWithEvents([
      { event: "ws:open" },
      { event: "ws:sockets" },
      groupedAnswer(1),
      whole(100, 100),
      { event: "ws:swap" },
      groupedAnswer(2), // the replacement's subscribe
      whole(102, 102), // the replacement's, ahead of the book: taken
      { event: "ws:old" },
      whole(101, 101), // the old socket's, behind: live ignored it
      { event: "ws:retired" },
      whole(103, 103), // the replacement's
      whole(5, 90), // the venue rebuilt the book with low ids, on the one socket: a reset, as live
    ]);
    expect(r.applied).toEqual([100, 102, 103]);
    expect(r.invalid).toEqual([{ state: BookState.RESYNCING, reason: StatusReason.VENUE_RESET }]);
    expect(r.stats.duplicates).toBe(1);
    expect(r.stats.venueResets).toBe(1);
  });
});
