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
