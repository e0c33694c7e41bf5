/**
 * Live: a quiet code with one stray older book long before its silence, whose ask at the stale time did not happen
 * (askAgain -1: a bisection, a closed socket) or was a shared resend written earlier whose answer's time had passed
 * (stale_after_ms under 10 s). STALE then, with its newest timestamp kept: the stray is no answer to any ask. Before,
 * `askedAtMs` kept an earlier ask an applied book had answered, restart took the stray for an older answer, forgot
 * the good newest timestamp, and the next stray older book went LIVE at levels the venue had left. The replay entry
 * on the test's clock with the live branch of `quiet` (replaying off, askAgain the fake socket's answer): replay
 * asks at `now` and cannot reach it (older-then-quiet.test.ts is the replay version).
 */
import { describe, expect, it } from "vitest";
import type { BookUpdate } from "../../../src/core/book-update.ts";
import { silentLogger } from "../../../src/core/log.ts";
import { BookState, StatusReason } from "../../../src/core/types.ts";
import { BITHUMB_VENUE } from "../../../src/venues/bithumb/index.ts";
import type { UpbitAdapter } from "../../../src/venues/upbit/adapter.ts";
import { UPBIT_VENUE } from "../../../src/venues/upbit/index.ts";

const CODE = "KRW-BTC";
const T = 1_765_000_000_000;
const STALE_MS = 1_000; // under 10 s: half of it is under the 5 s answer time, so a shared resend's can be over

const frame = (ask: number, tms: number) => `{"type":"orderbook","code":"${CODE}","timestamp":${tms},"orderbook_units":[{"ask_price":${ask * 1000},"bid_price":${(ask - 1) * 1000},"ask_size":1,"bid_size":1}]}`;

for (const spec of [UPBIT_VENUE, BITHUMB_VENUE]) {
  describe(`${spec.venue}: a quiet code's ask that did not happen now`, () => {
    async function start(askAgain: () => number) {
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
      const opts = { log, now: () => nowMs, wallNow: () => nowMs, staleAfterMs: () => STALE_MS, fetch: (() => Promise.reject(new Error("no REST"))) as unknown as typeof fetch };
      const adapter = spec.create(config, [{ market: "spot" as const, symbol: CODE, depth: 30 }], opts) as UpbitAdapter;
      await adapter.loadInstruments();
      const asks: number[] = [];
      const invalid: [BookState, StatusReason][] = [];
      adapter.startReplay({ onBookUpdate: (_i: number, u: BookUpdate) => void asks.push(u.askPx[0]!), onBookInvalid: (_i: number, s: BookState, r: StatusReason) => void invalid.push([s, r]), onInstrumentChanged: () => undefined });
      // quiet's live branch: the request is the fake socket's (askAgain), not replay's "asked now".
      const inner = adapter as unknown as { books: { replaying: boolean }; control: { askAgain: () => number } };
      inner.books.replaying = false;
      inner.control.askAgain = askAgain;
      const at = (ms: number, text?: string) => {
        nowMs = ms;
        adapter.replayClockAt(ms);
        if (text !== undefined) expect(adapter.ingestFrame("spot", "conn0.spot", text, ms * 1000)).toBe(true);
      };
      return { adapter, errors, asks, invalid, at };
    }

    for (const [name, askAgain] of [
      ["no request can go (askAgain -1)", () => -1],
      ["a shared resend written after the stray, its answer's time over", () => 400],
    ] as const) {
      it(`${name}: STALE, the newest timestamp kept, a further stray older book ignored`, async () => {
        const { adapter, errors, asks, invalid, at } = await start(askAgain);
        at(0, frame(100, T)); // the venue's book
        at(10, frame(90, T - 5)); // a stray older book, long before the silence
        at(STALE_MS + 100); // quiet: asked, but no ask happened now
        expect(invalid).toEqual([[BookState.STALE, StatusReason.STALE_FEED]]);
        // Before: the timestamp forgotten as "a bad one" here, and the stray below applied (LIVE at 80).
        expect(errors.filter((e) => e.includes("only books older"))).toEqual([]);
        at(STALE_MS + 200, frame(80, T - 10));
        expect([asks, adapter.topicInfo(0).state]).toEqual([[100_000], "stale"]);
        at(STALE_MS + 250, frame(100, T)); // the venue's book
        expect([asks, adapter.topicInfo(0).state]).toEqual([[100_000, 100_000], "live"]);
        await adapter.stop();
      });
    }

    it("a shared resend an applied book answered since, its answer's time over: STALE, the newest kept", async () => {
      const { errors, asks, invalid, at } = await start(() => 50);
      at(0, frame(100, T));
      at(100, frame(101, T + 1)); // applied after the resend written at 50: that ask is answered
      at(200, frame(90, T - 5)); // a stray older book
      at(STALE_MS + 150); // quiet: the shared resend's answer time (50 + 500) long over
      expect(invalid).toEqual([[BookState.STALE, StatusReason.STALE_FEED]]);
      // Before: the stray after the last ask (the start, 0) taken for an older answer, the timestamp forgotten.
      expect(errors.filter((e) => e.includes("only books older"))).toEqual([]);
      at(STALE_MS + 200, frame(80, T - 10));
      expect(asks).toEqual([100_000, 101_000]);
    });

    it("a STALE book's resend that could not go (askAgain -1): a stray older book after it answers nothing, kept", async () => {
      const { adapter, errors, asks, at } = await start(() => -1);
      at(0, frame(100, T));
      at(STALE_MS + 100); // quiet, no ask can go: STALE; its resend (restart) cannot go either
      at(STALE_MS + 200, frame(90, T - 5)); // a stray older book after that resend that was not written
      at(2 * STALE_MS + 200); // the next stale time, the stray not lately
      // Before: the restart counted as asked (askedAtMs = now), the stray as its older answer: forgotten here.
      expect(errors.filter((e) => e.includes("only books older"))).toEqual([]);
      at(2 * STALE_MS + 250, frame(80, T - 10));
      expect([asks, adapter.topicInfo(0).state]).toEqual([[100_000], "stale"]);
      await adapter.stop();
    });

    it("a shared resend written before the older book: that is its answer, older: forgotten (the rule kept)", async () => {
      const { adapter, errors, asks, at } = await start(() => 5);
      at(0, frame(100, 2 * T)); // stamped far ahead
      at(10, frame(90, T)); // after the resend written at 5: its answer, older
      at(STALE_MS + 100);
      expect(errors.filter((e) => e.includes("only books older"))).toHaveLength(1);
      at(STALE_MS + 150, frame(95, T + 1));
      expect([asks, adapter.topicInfo(0).state]).toEqual([[100_000, 95_000], "live"]);
      await adapter.stop();
    });
  });
}
