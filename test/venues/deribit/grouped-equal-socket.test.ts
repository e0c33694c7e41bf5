/**
 * A grouped channel's socket of record (TopicState.seqSocket) after a planned reconnect: the replacement's whole books
 * only repeated the live book's change_id (a quiet book) while the old socket was open, so its subscribe's mark stayed;
 * the old socket then closed. A venue reset on the replacement (whole books with lower ids) was taken for the lagging
 * socket's trail, since that socket had not delivered the book's change_id (only repeated it): ignored as duplicates,
 * the book LIVE with its old levels until its channel went stale (2 min). A socket that repeats the book's change_id
 * has reached it: now its lower one is a venue reset, also when the old socket repeated it after the replacement
 * (TopicState.seqAlsoSocket), which a snapshot setting the book anew forgets (a venue reset's new ids may reach the same
 * number: the last block, a flat channel). In-process: the adapter's frames fed straight in, as live
 * (not replaying), the overlap's sockets told apart as the planned reconnect does.
 */
import { describe, expect, test } from "vitest";
import type { BookUpdate } from "../../../src/core/book-update.ts";
import { silentLogger } from "../../../src/core/log.ts";
import { BookState, StatusReason, type MarketName } from "../../../src/core/types.ts";
import { DeribitAdapter } from "../../../src/venues/deribit/adapter.ts";
import type { VenueConnection } from "../../../src/venues/common/connection.ts";
import type { PlannedReconnects } from "../../../src/venues/common/planned-reconnect.ts";
import type { BookSink } from "../../../src/venues/venue.ts";

const CHANNEL = "book.BTC-PERPETUAL.none.10.100ms";
const CONN = "conn0.inverse";
const book = (id: number, bid: number) =>
  `{"jsonrpc":"2.0","method":"subscription","params":{"channel":"${CHANNEL}","data":{"timestamp":1,"instrument_name":"BTC-PERPETUAL","change_id":${id},"bids":[[${bid},10]],"asks":[[200,10]]}}}`;

describe("deribit: a grouped channel's replacement that repeated the book's change_id", () => {
  test("once the old socket is closed, its whole book below the live one is a venue reset, not a trail", async () => {
    const adapter = new DeribitAdapter(
      { venue: "deribit", wsUrl: "ws://127.0.0.1:1/ws/api/v2", restUrl: "http://127.0.0.1:1", instrumentCachePath: "", markets: [{ market: "inverse", depth: 10, symbols: ["BTC-PERPETUAL"] }], overrides: new Map([["inverse:BTC-PERPETUAL", { tickSize: "0.5", lotSize: "1" }]]) },
      [{ market: "inverse" as MarketName, symbol: "BTC-PERPETUAL", depth: 10 }],
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
    const a = adapter as unknown as { books: { replaying: boolean }; conns: VenueConnection[]; snapshotDue: Uint8Array };
    a.books.replaying = false; // as live: the sockets can be told apart
    const conn = a.conns[0]!;
    try {
      expect(adapter.ingestFrame("inverse", CONN, book(100, 100), 1)).toBe(true);
      expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastChangeId: 100 });
      // The swap: the replacement is the connection's socket and has asked for the channel; the old one still open.
      conn.retiringWs = {} as WebSocket;
      conn.retiringGeneration = conn.generation;
      conn.generation = ++conn.genSeq;
      a.snapshotDue[0] = 1;
      adapter.ingestFrame("inverse", CONN, book(100, 100), 1); // the replacement's: the same change_id, a quiet book
      conn.retiringWs = null; // the old socket closed
      conn.retiringGeneration = -1;
      const before = adapter.stats();
      adapter.ingestFrame("inverse", CONN, book(5, 90), 1); // the venue rebuilt the book with low ids
      // Old: a duplicate (the mark still set, the socket not the one of record), the book LIVE at change_id 100.
      expect(invalid).toEqual([{ state: BookState.RESYNCING, reason: StatusReason.VENUE_RESET }]);
      expect(adapter.stats().venueResets).toBe(before.venueResets! + 1);
    } finally {
      a.books.replaying = true;
      await adapter.stop();
    }
  });

  test("the old socket repeating the change_id after the replacement's: once it closes, the replacement is still of record", async () => {
    // Before (2026-12-06), the old socket's repeat took the record for good: after it closed, the reset's lower whole
    // book on the replacement was a duplicate, the book LIVE at change_id 100 until the channel went stale.
    const adapter = new DeribitAdapter(
      { venue: "deribit", wsUrl: "ws://127.0.0.1:1/ws/api/v2", restUrl: "http://127.0.0.1:1", instrumentCachePath: "", markets: [{ market: "inverse", depth: 10, symbols: ["BTC-PERPETUAL"] }], overrides: new Map([["inverse:BTC-PERPETUAL", { tickSize: "0.5", lotSize: "1" }]]) },
      [{ market: "inverse" as MarketName, symbol: "BTC-PERPETUAL", depth: 10 }],
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
    try {
      adapter.ingestFrame("inverse", CONN, book(100, 100), 1);
      conn.retiringWs = { readyState: 1, close() {} } as unknown as WebSocket;
      conn.retiringGeneration = conn.generation;
      conn.generation = ++conn.genSeq;
      a.snapshotDue[0] = 1;
      adapter.ingestFrame("inverse", CONN, book(100, 100), 1); // the replacement's: the same change_id
      conn.fromRetiring = true;
      adapter.ingestFrame("inverse", CONN, book(100, 100), 1); // the old socket's next whole book, after it
      conn.fromRetiring = false;
      a.lifecycle.planned.onRetiringClosed(conn, "test"); // the old socket closed: the replacement carries on
      adapter.ingestFrame("inverse", CONN, book(5, 90), 1); // the venue rebuilt the book with low ids
      expect(invalid).toEqual([{ state: BookState.RESYNCING, reason: StatusReason.VENUE_RESET }]);
    } finally {
      a.books.replaying = true;
      await adapter.stop();
    }
  });
});

describe("deribit: a socket kept as having reached the change_id is forgotten once a snapshot sets the book anew", () => {
  test("the old socket reached change_id 500 before a venue reset; the replacement's new ids reach 500 again; gone back, the old socket's older change only trails", async () => {
    const flat = "book.BTC-PERPETUAL.100ms";
    const frame = (data: string) => `{"jsonrpc":"2.0","method":"subscription","params":{"channel":"${flat}","data":{"timestamp":1,"instrument_name":"BTC-PERPETUAL",${data}}}}`;
    const snapshot = (id: number, bid: number) => frame(`"type":"snapshot","change_id":${id},"bids":[["new",${bid},10]],"asks":[["new",200,10]]`);
    const change = (id: number, prev: number, bid: number) => frame(`"type":"change","change_id":${id},"prev_change_id":${prev},"bids":[["new",${bid},10]],"asks":[]`);
    const adapter = new DeribitAdapter(
      { venue: "deribit", wsUrl: "ws://127.0.0.1:1/ws/api/v2", restUrl: "http://127.0.0.1:1", instrumentCachePath: "", markets: [{ market: "inverse", depth: 0, symbols: ["BTC-PERPETUAL"] }], overrides: new Map([["inverse:BTC-PERPETUAL", { tickSize: "0.5", lotSize: "1" }]]) },
      [{ market: "inverse" as MarketName, symbol: "BTC-PERPETUAL", depth: 0 }],
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
    try {
      adapter.ingestFrame("inverse", CONN, snapshot(500, 100), 1); // on the old socket, before the overlap
      // The old socket: CLOSED to stop() (nothing to wait for), open to the planned reconnect.
      conn.retiringWs = { readyState: WebSocket.CLOSED, addEventListener() {}, close() {} } as unknown as WebSocket;
      conn.retiringGeneration = conn.generation;
      conn.generation = ++conn.genSeq;
      for (const t of conn.topics) t.onRetiring = true; // the old socket serves the channel
      a.snapshotDue[0] = 1;
      adapter.ingestFrame("inverse", CONN, snapshot(500, 100), 1); // the replacement's: the same id (the old socket kept as there too)
      adapter.ingestFrame("inverse", CONN, change(2, 1, 90), 1); // on the replacement: the venue's ids went back (a reset)
      expect(invalid).toEqual([{ state: BookState.RESYNCING, reason: StatusReason.VENUE_RESET }]);
      adapter.ingestFrame("inverse", CONN, snapshot(3, 95), 1); // the replacement's resubscribe: the new ids
      adapter.ingestFrame("inverse", CONN, change(500, 3, 99), 1); // the new ids reach 500, a state the old socket never delivered
      a.lifecycle.planned.goBack(conn, "test"); // the replacement failed: the old socket again
      adapter.ingestFrame("inverse", CONN, change(300, 299, 93), 1); // the old socket, behind in the new ids
      // Before: the old socket's 500 of the old ids counted as having reached the book's (seqAlsoSocket kept across the
      // reset's snapshot), it became the socket of record at the go-back, and its trailing change was taken for another
      // venue reset: the book resynced for nothing.
      expect(invalid).toHaveLength(1);
      expect(adapter.stats()).toMatchObject({ venueResets: 1 });
      expect(adapter.topicInfo(0)).toMatchObject({ state: "live", lastChangeId: 500 });
    } finally {
      a.books.replaying = true;
      await adapter.stop();
    }
  });
});
