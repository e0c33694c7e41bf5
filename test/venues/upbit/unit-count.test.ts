/**
 * What a book's unit count may be (docs/venues/upbit.md, "Messages and the book"), Upbit and Bithumb, through the
 * adapter's frame path (replay's ingestFrame: the connection code live runs) into a BookBuilder as the app applies it:
 * - more units than the code's depth asked (`KRW-BTC.5` answered with 6) is refused (`over_depth`, the book
 *   resyncs): never cut to the depth (a level lost) nor published deeper than its instrument tells;
 * - no units at all, or one side only, is the venue's book: LIVE as sent (as OKX books5 and Deribit's grouped books);
 *   a crossed one leaves LIVE (crossed_book) until the next book.
 */
import { describe, expect, it } from "vitest";
import { ApplyResult, BookBuilder } from "../../../src/book/book-builder.ts";
import { silentLogger } from "../../../src/core/log.ts";
import { BookState, StatusReason } from "../../../src/core/types.ts";
import { BITHUMB_VENUE } from "../../../src/venues/bithumb/index.ts";
import type { UpbitAdapter } from "../../../src/venues/upbit/adapter.ts";
import { UPBIT_VENUE } from "../../../src/venues/upbit/index.ts";
import { unsupportedDepthWarning } from "../../../src/venues/upbit/protocol.ts";
import type { Subscription } from "../../../src/venues/venue.ts";

const CODE = "KRW-BTC";
const T = 1_765_000_000_000;

/** A DEFAULT-format book of `n` units (ask i = 100 + i thousand, bid i = 99 − i thousand), stamped `tms`. */
function frame(n: number, tms: number, opts: { escape?: boolean; unitsFirst?: boolean; unit?: (i: number) => string } = {}): string {
  const unit = opts.unit ?? ((i: number) => `{"ask_price":${(100 + i) * 1000},"bid_price":${(99 - i) * 1000},"ask_size":0.5,"bid_size":1.25}`);
  const units = `"orderbook_units":[${Array.from({ length: n }, (_, i) => unit(i)).join(",")}]`;
  const head = `"type":"orderbook"${opts.escape ? ',"x":"\\u0041"' : ""}`;
  return opts.unitsFirst ? `{${head},${units},"code":"${CODE}","timestamp":${tms}}` : `{${head},"code":"${CODE}","timestamp":${tms},${units}}`;
}

for (const spec of [UPBIT_VENUE, BITHUMB_VENUE]) {
  describe(`${spec.venue}: a book's unit count`, () => {
    async function start(depth: number) {
      const subs: Subscription[] = [{ market: "spot", symbol: CODE, depth }];
      const config = {
        venue: spec.venue,
        wsUrl: "ws://127.0.0.1:9/none",
        restUrl: "http://127.0.0.1:9",
        instrumentCachePath: "",
        markets: [{ market: "spot" as const, depth, symbols: [CODE] }],
        overrides: new Map([[`spot:${CODE}`, { tickSize: "1000", lotSize: "0.00000001" }]]),
      };
      const adapter = spec.create(config, subs, { log: silentLogger, fetch: (() => Promise.reject(new Error("no REST"))) as unknown as typeof fetch }) as UpbitAdapter;
      const [inst] = await adapter.loadInstruments();
      const builder = new BookBuilder(inst!);
      const published: number[] = [];
      adapter.startReplay({
        // As the app: a full book applied as a replace; a refused or stale book marked invalid.
        onBookUpdate: (_i, u) => void published.push(builder.applyReplace(u)),
        onBookInvalid: (_i, s, r) => void builder.markInvalid(s, r),
        onInstrumentChanged: () => undefined,
      });
      const feed = (text: string) => expect(adapter.ingestFrame("spot", "conn0.spot", text, 0)).toBe(true);
      return { adapter, builder, published, feed };
    }

    for (const path of ["scanner", "JSON path (a string with an escape)", "scanner, units before the code"]) {
      const opts = { escape: path.startsWith("JSON"), unitsFirst: path.includes("before") };
      it(`${path}: more units than the depth asked are refused, not cut nor published; the depth's count is taken whole`, async () => {
        const { adapter, builder, published, feed } = await start(5);
        feed(frame(6, T, opts));
        // Before: applied, the book LIVE with 6 levels a side under an instrument asked (and named, KRW-BTC@5) at 5.
        expect(published).toEqual([]);
        expect(adapter.topicInfo(0).state).toBe("resyncing");
        expect(adapter.stats()["parseErrors.over_depth"]).toBe(1);
        feed(frame(5, T + 1, opts));
        expect(published).toEqual([ApplyResult.APPLIED]);
        expect([builder.state, builder.bidCount, builder.askCount]).toEqual([BookState.LIVE, 5, 5]);
        expect(builder.bidPriceAt(4)).toBe(95_000); // the fifth bid, kept (tick 1000 at exponent 0)
        // LIVE, a deeper book: out of LIVE at once (the book shown is the last one that was the venue's answer).
        feed(frame(30, T + 2, opts));
        expect(published.length).toBe(1);
        expect([builder.state, builder.reason]).toEqual([BookState.RESYNCING, StatusReason.PARSE_ERROR]);
        expect(adapter.stats()["parseErrors.over_depth"]).toBe(2);
        await adapter.stop();
      });
    }

    for (const path of ["scanner", "JSON path (a string with an escape)"]) {
      it(`${path}: a refused deeper book is still the venue's at its stamp: a book stamped before it is ignored`, async () => {
        const { adapter, builder, published, feed } = await start(5);
        const escape = path.startsWith("JSON");
        feed(frame(5, T, { escape }));
        feed(frame(6, T + 10, { escape }));
        // Before: applied (older only than a book never applied), LIVE at levels the venue had left.
        feed(frame(5, T + 5, { escape }));
        expect(published.length).toBe(1);
        expect(adapter.stats().olderTimestamps).toBe(1);
        feed(frame(5, T + 10, { escape }));
        expect(published.length).toBe(2);
        expect(builder.state).toBe(BookState.LIVE);
        await adapter.stop();
      });
    }

    it("a frame that is not JSON is syntax, though the scanner counted units past the depth on the way", async () => {
      const { adapter, published, feed } = await start(5);
      feed(frame(6, T) + "x");
      expect(published).toEqual([]);
      expect([adapter.stats()["parseErrors.syntax"], adapter.stats()["parseErrors.over_depth"]]).toEqual([1, undefined]);
      await adapter.stop();
    });

    it("placeholder units count as sent: depth + 1 units with one a placeholder are still over the depth", async () => {
      const { adapter, published, feed } = await start(1);
      feed(frame(2, T, { unit: (i) => (i === 0 ? `{"ask_price":101000,"bid_price":99000,"ask_size":1,"bid_size":1}` : `{"ask_price":0,"bid_price":0,"ask_size":0,"bid_size":0}`) }));
      expect(published).toEqual([]);
      expect(adapter.stats()["parseErrors.over_depth"]).toBe(1);
      await adapter.stop();
    });

    it("no units, or one side only, is the venue's book: LIVE as sent; a crossed book leaves LIVE until the next", async () => {
      const { adapter, builder, published, feed } = await start(15);
      feed(frame(15, T));
      expect([builder.state, builder.bidCount, builder.askCount]).toEqual([BookState.LIVE, 15, 15]);
      feed(`{"type":"orderbook","code":"${CODE}","timestamp":${T + 1},"orderbook_units":[]}`);
      expect([builder.state, builder.bidCount, builder.askCount]).toEqual([BookState.LIVE, 0, 0]);
      feed(frame(3, T + 2, { unit: (i) => `{"ask_price":0,"bid_price":${(99 - i) * 1000},"ask_size":0,"bid_size":1}` }));
      expect([builder.state, builder.bidCount, builder.askCount]).toEqual([BookState.LIVE, 3, 0]);
      feed(frame(1, T + 3, { unit: () => `{"ask_price":99000,"bid_price":99000,"ask_size":1,"bid_size":1}` }));
      expect([builder.state, builder.reason]).toEqual([BookState.RESYNCING, StatusReason.CROSSED_BOOK]);
      feed(frame(2, T + 4));
      expect([builder.state, builder.bidCount, builder.askCount]).toEqual([BookState.LIVE, 2, 2]);
      expect(published).toEqual([ApplyResult.APPLIED, ApplyResult.APPLIED, ApplyResult.APPLIED, ApplyResult.CROSSED, ApplyResult.APPLIED]);
      expect(adapter.stats()["parseErrors.over_depth"]).toBeUndefined();
      await adapter.stop();
    });
  });
}

// Before: the start-up warning for a depth outside 1/5/15/30 said the venue's 30 units are refused for every depth, but
// a depth above 30 takes them: its book holds 30 levels at most. (The config refuses such depths; an adapter built
// in code, as the tests do, can have one.)
describe("the warning for a depth the venue does not take", () => {
  it("says what happens: below 30 every book refused (over_depth), above 30 at most 30 levels; none for 1/5/15/30", () => {
    expect([1, 5, 15, 30].map(unsupportedDepthWarning)).toEqual([undefined, undefined, undefined, undefined]);
    expect(unsupportedDepthWarning(10)).toMatch(/sends 30 units, more than the depth 10: every book refused \(over_depth\)/);
    expect(unsupportedDepthWarning(50)).toMatch(/sends 30 units: the book holds at most 30 levels, not 50/);
    expect(unsupportedDepthWarning(50)).not.toMatch(/refused/);
  });
});
