/**
 * A quiet code (Upbit sends a book only when it changes) that met one book older than the newest applied, then
 * nothing: that older book is a stray (or the lagging old socket's at the end of a planned reconnect), not a sign
 * that the newest timestamp is ahead of the venue's clock. The code is asked again past its stale time like any quiet
 * code and stays LIVE when its answer comes; the newest timestamp is kept, so a further stray older book is ignored.
 * Before, it went STALE at the stale time, the newest timestamp was forgotten as "a bad one", and the next stray older
 * book was applied: LIVE at levels the venue had left. Offline: the adapter's replay entry, on the test's clock.
 */
import { describe, expect, it } from "vitest";
import { silentLogger } from "../../../src/core/log.ts";
import { BookState, StatusReason } from "../../../src/core/types.ts";
import { BITHUMB_VENUE } from "../../../src/venues/bithumb/index.ts";
import type { UpbitAdapter } from "../../../src/venues/upbit/adapter.ts";
import { UPBIT_VENUE } from "../../../src/venues/upbit/index.ts";
import type { BookUpdate } from "../../../src/core/book-update.ts";

const CODE = "KRW-BTC";
const T = 1_765_000_000_000;
const STALE_MS = 1_000;

/** One unit: ask `ask` thousand, bid one thousand below; stamped `tms`. */
const frame = (ask: number, tms: number) => `{"type":"orderbook","code":"${CODE}","timestamp":${tms},"orderbook_units":[{"ask_price":${ask * 1000},"bid_price":${(ask - 1) * 1000},"ask_size":1,"bid_size":1}]}`;

for (const spec of [UPBIT_VENUE, BITHUMB_VENUE]) {
  describe(`${spec.venue}: one older book, then silence`, () => {
    async function start() {
      let nowMs = 0;
      const config = {
        venue: spec.venue,
        wsUrl: "ws://127.0.0.1:9/none",
        restUrl: "http://127.0.0.1:9",
        instrumentCachePath: "",
        markets: [{ market: "spot" as const, depth: 30, symbols: [CODE] }],
        overrides: new Map([[`spot:${CODE}`, { tickSize: "1000", lotSize: "0.00000001" }]]),
      };
      const errors: string[] = [];
      const log = { ...silentLogger, error: (msg: string) => void errors.push(msg), child: () => log };
      const subs = [{ market: "spot" as const, symbol: CODE, depth: 30 }];
      const opts = { log, now: () => nowMs, wallNow: () => nowMs, staleAfterMs: () => STALE_MS, fetch: (() => Promise.reject(new Error("no REST"))) as unknown as typeof fetch };
      const adapter = spec.create(config, subs, opts) as UpbitAdapter;
      await adapter.loadInstruments();
      const asks: number[] = []; // each published book's best ask
      const invalid: [BookState, StatusReason][] = [];
      adapter.startReplay({ onBookUpdate: (_i: number, u: BookUpdate) => void asks.push(u.askPx[0]!), onBookInvalid: (_i: number, s: BookState, r: StatusReason) => void invalid.push([s, r]), onInstrumentChanged: () => undefined });
      /** The clock to `ms` (the housekeeping due run), then `text` read as received then. */
      const at = (ms: number, text?: string) => {
        nowMs = ms;
        adapter.replayClockAt(ms);
        if (text !== undefined) expect(adapter.ingestFrame("spot", "conn0.spot", text, ms * 1000)).toBe(true);
      };
      return { adapter, errors, asks, invalid, at };
    }

    it("is a quiet code: asked again past the stale time, LIVE with its answer, a further stray older book ignored", async () => {
      const { adapter, errors, asks, invalid, at } = await start();
      at(0, frame(100, T)); // the venue's book
      at(10, frame(90, T - 5)); // a stray older book: ignored
      expect(asks).toEqual([100_000]);
      at(STALE_MS + 100); // past the stale time, nothing since
      // Before: STALE here, and the newest timestamp forgotten ("only books older than the newest applied arrived").
      expect(invalid).toEqual([]);
      expect(adapter.stats().quietAsks).toBe(1);
      at(STALE_MS + 150, frame(80, T - 10)); // another stray older book: ignored (before: applied, LIVE at 80)
      at(STALE_MS + 200, frame(100, T)); // the answer: the venue's book at its timestamp
      expect(asks).toEqual([100_000, 100_000]);
      expect(invalid).toEqual([]);
      expect(adapter.topicInfo(0).state).toBe("live");
      expect(errors.filter((e) => e.includes("only books older"))).toEqual([]);
      await adapter.stop();
    });

    it("asked and not answered: STALE, the newest timestamp kept (no 'older only' verdict), a stray older book ignored", async () => {
      const { adapter, errors, asks, invalid, at } = await start();
      at(0, frame(100, T));
      at(10, frame(90, T - 5)); // a stray older book
      at(STALE_MS + 100); // asked
      at(STALE_MS + 100 + STALE_MS / 2); // no answer in its time: STALE
      expect(invalid).toEqual([[BookState.STALE, StatusReason.STALE_FEED]]);
      // Before: the timestamp forgotten as "a bad one" here, and the stray below applied (LIVE at 80).
      expect(errors.filter((e) => e.includes("only books older"))).toEqual([]);
      at(STALE_MS + 700, frame(80, T - 10));
      expect([asks, adapter.topicInfo(0).state]).toEqual([[100_000], "stale"]);
      at(STALE_MS + 750, frame(100, T)); // the venue's book (a resend's answer)
      expect([asks, adapter.topicInfo(0).state]).toEqual([[100_000, 100_000], "live"]);
      await adapter.stop();
    });

    it("stamped ahead, asked and not answered: kept at STALE; the STALE book's resend answered older: forgotten", async () => {
      const { adapter, errors, asks, invalid, at } = await start();
      at(0, frame(100, 2 * T)); // stamped far ahead
      at(10, frame(90, T)); // the venue's next book: older
      at(STALE_MS + 100); // asked
      at(STALE_MS + 100 + STALE_MS / 2); // no answer: STALE, the timestamp kept (one older book, before the ask)
      expect([invalid, errors.filter((e) => e.includes("only books older"))]).toEqual([[[BookState.STALE, StatusReason.STALE_FEED]], []]);
      at(STALE_MS + 650, frame(90, T)); // the STALE book's resend answered: older
      at(3 * STALE_MS); // its next stale time: forgotten
      expect(errors.filter((e) => e.includes("only books older"))).toHaveLength(1);
      at(3 * STALE_MS + 50, frame(95, T + 1));
      expect([asks, adapter.topicInfo(0).state]).toEqual([[100_000, 95_000], "live"]);
      await adapter.stop();
    });

    it("a newest stamped ahead of a quiet code is still found: the answer is older too, STALE, forgotten, then the venue's", async () => {
      const { adapter, errors, asks, invalid, at } = await start();
      at(0, frame(100, 2 * T)); // stamped far ahead
      at(10, frame(90, T)); // the venue's next book: older
      at(STALE_MS + 100); // asked: only one older book, long ago
      expect([invalid, adapter.stats().quietAsks]).toEqual([[], 1]);
      at(STALE_MS + 150, frame(90, T)); // its answer: older than the stamp ahead, no book applied
      at(STALE_MS + 100 + STALE_MS / 2); // the answer's time, min(5 s, half the stale time), over
      expect(invalid).toEqual([[BookState.STALE, StatusReason.STALE_FEED]]);
      expect(errors.filter((e) => e.includes("only books older"))).toHaveLength(1);
      at(STALE_MS + 700, frame(95, T + 1)); // the venue's next book: applied
      expect(asks).toEqual([100_000, 95_000]);
      expect(adapter.topicInfo(0).state).toBe("live");
      await adapter.stop();
    });
  });
}
