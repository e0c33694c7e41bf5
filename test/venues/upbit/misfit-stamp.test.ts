/**
 * A book refused only because a number does not fit its code's exponents (finer than the tick, past 2^53) is still
 * the venue's book at its timestamp: a book stamped before it (a stray older one, the lagging socket of a planned
 * reconnect) is older than the venue's, and must not make the book LIVE at levels the venue has left. Through the
 * adapter's frame path (replay's ingestFrame: the same connection code live runs), Upbit and Bithumb.
 */
import { describe, expect, it } from "vitest";
import { silentLogger } from "../../../src/core/log.ts";
import { BookState, StatusReason } from "../../../src/core/types.ts";
import { BITHUMB_VENUE } from "../../../src/venues/bithumb/index.ts";
import type { UpbitAdapter } from "../../../src/venues/upbit/adapter.ts";
import { UPBIT_VENUE } from "../../../src/venues/upbit/index.ts";
import type { Subscription } from "../../../src/venues/venue.ts";
import type { TopicState, VenueConnection } from "../../../src/venues/common/connection.ts";
import { startUpbitSimulator } from "../../../src/sim/upbit-sim.ts";
import { allResolved, RecordingSink, tempCachePath } from "../bybit/helpers.ts";
import { until } from "../../support/until.ts";
import { UPBIT_RECORDING_CODES, UPBIT_RECORDING_SPECS, upbitFrames } from "./recording.ts";

const book = upbitFrames().find((f) => f.text.startsWith('{"ty":"orderbook"'))!.text;
const T = Number(/"tms":(\d+)/.exec(book)![1]);
const CODE = /"cd":"([^"]+)"/.exec(book)![1]!;
const INDEX = UPBIT_RECORDING_CODES.indexOf(CODE);
/** The recorded book stamped `tms`, its first bid size changed to `bs` (a different book). */
const at = (tms: number, bs = "1") => book.replace(/"tms":\d+/, `"tms":${tms}`).replace(/"bs":[0-9.eE+-]+/, `"bs":${bs}`);
/** Its first bid price finer than any tick (11 decimals): refused, only for not fitting. */
const misfit = (tms: number) => at(tms).replace(/"bp":[0-9.eE+-]+/, '"bp":1.23456789123E-1');

for (const spec of [UPBIT_VENUE, BITHUMB_VENUE]) {
  describe(`${spec.venue}: a book refused for a number that does not fit still orders the books after it`, () => {
    async function start() {
      const subs: Subscription[] = UPBIT_RECORDING_CODES.map((symbol) => ({ market: "spot", symbol, depth: 15 }));
      const config = {
        venue: spec.venue,
        wsUrl: "ws://127.0.0.1:9/none",
        restUrl: "http://127.0.0.1:9",
        instrumentCachePath: "",
        markets: [{ market: "spot" as const, depth: 15, symbols: UPBIT_RECORDING_CODES }],
        overrides: new Map(UPBIT_RECORDING_CODES.map((c) => [`spot:${c}`, UPBIT_RECORDING_SPECS[c]!])), // no re-check
      };
      const adapter = spec.create(config, subs, { log: silentLogger, fetch: (() => Promise.reject(new Error("no REST"))) as unknown as typeof fetch }) as UpbitAdapter;
      await adapter.loadInstruments();
      const applied: number[] = [];
      const invalid: [number, BookState, StatusReason][] = [];
      adapter.startReplay({ onBookUpdate: (i, u) => void (i === INDEX && applied.push(u.venueSeq)), onBookInvalid: (i, s, r) => void invalid.push([i, s, r]), onInstrumentChanged: () => undefined });
      const feed = (text: string) => expect(adapter.ingestFrame("spot", "conn0.spot", text, 0)).toBe(true);
      return { adapter, applied, invalid, feed };
    }

    for (const path of ["scanner", "JSON path (a string with an escape)"]) {
      const via = (f: string) => (path === "scanner" ? f : f.replace('"ty":"orderbook"', '"ty":"orderbook","x":"\\u0041"'));
      it(`${path}: a book stamped before (or at the stamp of the book before) the refused one is ignored; the next book at or after it is applied`, async () => {
        const { adapter, applied, invalid, feed } = await start();
        feed(at(T));
        expect(adapter.topicInfo(INDEX).state).toBe("live");
        feed(via(misfit(T + 10)));
        expect(invalid).toEqual([[INDEX, BookState.RESYNCING, StatusReason.PARSE_ERROR]]);
        // Before: both applied (older only than a book never applied), the book LIVE at levels the venue had left.
        feed(at(T + 5, "2"));
        feed(at(T, "3"));
        expect(applied).toEqual([T]);
        expect(adapter.topicInfo(INDEX).state).toBe("resyncing");
        expect(adapter.stats().olderTimestamps).toBe(2);
        // A book of the refused one's stamp follows it (one socket delivers in the venue's order): applied.
        feed(at(T + 10, "4"));
        expect(applied).toEqual([T, T + 10]);
        expect(adapter.topicInfo(INDEX).state).toBe("live");
        await adapter.stop();
      });
    }
  });
}

/**
 * A code whose books all misfit (a lot_size override coarser than its sizes: nothing re-checks, nothing cures it)
 * sends books: its subscription is answered. Against the simulator on 127.0.0.1, a short stale time.
 */
for (const spec of [UPBIT_VENUE, BITHUMB_VENUE]) {
  describe(`${spec.venue}: a code whose books all misfit is streamed, not silent`, { timeout: 20_000 }, () => {
    it("its stale resyncs do not report it as sending no data since subscribed", async () => {
      const venue = spec.venue as "upbit" | "bithumb";
      const codes = ["KRW-BTC", "KRW-XRP"];
      const sim = await startUpbitSimulator({ venue, codes, seed: 5, messagesPerSecond: 40 });
      const config = {
        ...{ venue, wsUrl: sim.wsUrl, restUrl: sim.restUrl, instrumentCachePath: tempCachePath() },
        markets: [{ market: "spot" as const, depth: 5, symbols: codes }],
        overrides: new Map([["spot:KRW-XRP", { tickSize: "0.001", lotSize: "1" }]]), // whole units: every XRP book misfits
      };
      const subs: Subscription[] = codes.map((symbol) => ({ market: "spot", symbol, depth: 5 }));
      const adapter = spec.create(config, subs, { log: silentLogger, staleAfterMs: () => 300, housekeepingMs: 20, reconnectBaseMs: 5 }) as UpbitAdapter;
      try {
        const sink = new RecordingSink(allResolved(await adapter.loadInstruments()));
        adapter.start(sink);
        const stat = (k: string) => adapter.stats()[k] ?? 0;
        await until(() => stat("parseErrors.qty") >= 1, "its first book (refused)");
        const before = stat("neverSentData"); // 0 unless the machine held the book past the stale time
        const stale = stat("staleResyncs");
        await until(() => stat("staleResyncs") >= stale + 2, "the misfit code stale twice");
        // Before: it stayed PENDING (no book applied), so each stale resync counted it as never sending data.
        expect(stat("neverSentData")).toBe(before);
        expect(adapter.topicInfo(1).state).not.toBe("live");
      } finally {
        await adapter.stop();
        await sim.stop();
      }
    });
  });
}

/**
 * During a planned reconnect's overlap a refused book is one of its stamp on its socket: a book of that stamp from the
 * other socket may be one the refused one followed, so it is held out of LIVE as against any book of the stamp it
 * cannot be compared with (equal-stamps.ts), never applied. The connection's socket fields set as planned-reconnect.ts
 * sets them (as in equal-stamps.test.ts).
 */
for (const spec of [UPBIT_VENUE, BITHUMB_VENUE]) {
  describe(`${spec.venue}: a refused book's stamp on both sockets of a planned reconnect`, () => {
    const S = 1_732_796_700_000;
    /** Tick 1000 (0 decimals): the best bid carries the content id; `.5` on it does not fit. */
    const frame = (stamp: number, id: number, bp = String((100_000 + id) * 1000)) => `{"ty":"orderbook","cd":"KRW-BTC","tms":${stamp},"obu":[{"ap":200000000,"bp":${bp},"as":1,"bs":1}]}`;
    async function start() {
      const config = { venue: spec.venue, wsUrl: "ws://127.0.0.1:9", restUrl: "http://127.0.0.1:9", instrumentCachePath: tempCachePath(), markets: [{ market: "spot" as const, depth: 15, symbols: ["KRW-BTC"] }], overrides: new Map([["spot:KRW-BTC", { tickSize: "1000", lotSize: "0.00000001" }]]) };
      const adapter = spec.create(config, [{ market: "spot", symbol: "KRW-BTC", depth: 15 }], { log: silentLogger }) as UpbitAdapter;
      let shown = -1;
      let live = false;
      const sink = new RecordingSink(allResolved(await adapter.loadInstruments()));
      sink.onBookUpdate = (_i, u) => {
        shown = u.bidPx[0]! / 1000 - 100_000;
        live = true;
      };
      sink.onBookInvalid = () => void (live = false);
      adapter.startReplay(sink);
      const conn = (adapter as unknown as { conns: VenueConnection[] }).conns[0]!;
      conn.generation = 2;
      conn.retiringGeneration = 1; // overlap: the old socket (1) and its replacement (2) both stream the code
      const send = (text: string, fromOld: boolean) => {
        conn.fromRetiring = fromOld;
        expect(adapter.ingestFrame("spot", "conn0.spot", text, 0)).toBe(true);
        conn.fromRetiring = false;
      };
      return { adapter, conn, send, shown: () => (live ? shown : "not live") };
    }

    it("a refused book after a stray older one: going stale keeps the refused stamp (no book after it was older only)", async () => {
      const { adapter, conn, send, shown } = await start();
      conn.retiringGeneration = -1; // one socket
      const errors: string[] = [];
      (adapter as unknown as { log: { error: (m: string) => void } }).log = { ...silentLogger, error: (m: string) => void errors.push(m) };
      send(frame(S + 5, 1), false);
      send(frame(S, 2), false); // a stray older book: ignored
      send(frame(S + 10, 0, "100001000.5"), false); // the venue's newest: refused, its stamp kept
      expect(shown()).toBe("not live");
      // Stale (the common stale check's resync): before, the older book before the refused one made it look as if only
      // older books came, so the refused stamp was taken for a bad one and forgotten, and a book before it went LIVE.
      const internals = adapter as unknown as { topics: TopicState[]; books: { resync(t: TopicState, s: BookState, r: StatusReason): void } };
      internals.books.resync(internals.topics[0]!, BookState.STALE, StatusReason.STALE_FEED);
      expect(errors).toEqual([]);
      send(frame(S + 7, 3), false);
      expect(shown()).toBe("not live");
      send(frame(S + 10, 4), false);
      expect(shown()).toBe(4);
      await adapter.stop();
    });

    it("refused at a newer stamp on one socket: the other socket's different book of that stamp is held, the same book on both is LIVE", async () => {
      const { adapter, send, shown } = await start();
      send(frame(S, 1), true);
      expect(shown()).toBe(1);
      send(frame(S + 1, 0, "100001000.5"), true); // the old socket's newest: refused
      expect(shown()).toBe("not live");
      // Before: the refused stamp forgot both sockets' books of it, so this one (maybe one the refused book followed) went LIVE.
      send(frame(S + 1, 2), false);
      expect(shown()).toBe("not live");
      send(frame(S + 1, 2), true); // the old socket after its refused book: both agree
      expect(shown()).toBe(2);
      await adapter.stop();
    });

    it("a hold, then a refused book of a newer stamp: a hold at that stamp is counted again (equal_timestamp_holds_total)", async () => {
      const { adapter, send, shown } = await start();
      send(frame(S, 1), true);
      send(frame(S, 2), false); // the replacement's book of that stamp differs: held (the first hold)
      expect([shown(), adapter.stats().equalTimestampHolds]).toEqual(["not live", 1]);
      send(frame(S + 1, 0, "100001000.5"), true); // the old socket's newest: refused, the stamp's books begin again
      send(frame(S + 1, 3), false); // the replacement's differs from the refused one (levels unknown): a second hold
      expect([shown(), adapter.stats().equalTimestampHolds]).toEqual(["not live", 2]);
      await adapter.stop();
    });

    it("refused at the newest stamp on the other socket: the first socket's next book of that stamp is held", async () => {
      const { adapter, send, shown } = await start();
      send(frame(S, 1), true);
      expect(shown()).toBe(1);
      send(frame(S, 0, "100001000.5"), false); // the replacement's book of that stamp: refused
      expect(shown()).toBe("not live");
      // Before: the refused book was not one of the stamp's, so the old socket's next went LIVE (the refused may follow it).
      send(frame(S, 2), true);
      expect(shown()).toBe("not live");
      send(frame(S, 2), false); // the replacement after its refused book: both agree
      expect(shown()).toBe(2);
      send(frame(S + 1, 3), true); // a newer stamp: LIVE at it
      expect(shown()).toBe(3);
      await adapter.stop();
    });
  });
}
