/**
 * A Binance diff whose first id `U` is above its last `u` spans no range: malformed, on spot and USD-M alike. Every
 * reader refuses it (the module's, the TypeScript fast path's, the general one's, the JSON path's) as
 * `first_after_last`, and the adapter takes it for a bad frame of its stream: counted, logged naming U and u, that
 * book resynced. Until s-venuesmall none refused it: USD-M (chained by `pu` alone) applied it to a LIVE book, and
 * spot dropped it as a repeat.
 */
import { describe, expect, test } from "vitest";
import { BookUpdate } from "../../../src/core/book-update.ts";
import { BookState, StatusReason } from "../../../src/core/types.ts";
import { BinanceScanner, isDiffObject, parseDiffObject, parseFrameJson, StreamTable } from "../../../src/venues/binance/index.ts";
import { liveOfflineStream } from "./offline-adapter.ts";

const FIRST_AFTER_LAST = -12;

// Binance's exact layouts (the module's and the TypeScript fast path's), another key order (the general reader) and
// an escaped stream name (the JSON path only).
const spot = (first: number, last: number) => `{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":${first},"u":${last},"b":[["1.00","1.00000"]],"a":[]}}`;
const usdm = (first: number, last: number) => `{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"T":1,"s":"BTCUSDT","U":${first},"u":${last},"pu":9,"b":[["1.00","1.00000"]],"a":[]}}`;
const moved = (first: number, last: number) => `{"stream":"btcusdt@depth@100ms","data":{"u":${last},"e":"depthUpdate","E":1,"s":"BTCUSDT","U":${first},"b":[],"a":[["1.00","1.00000"]]}}`;
const escaped = (first: number, last: number) => `{"stream":"btcusdt@depth\\u0040100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":${first},"u":${last},"pu":-1,"b":[],"a":[]}}`;

function viaJson(text: string, table: StreamTable): number {
  const { msg, inexactInteger } = parseFrameJson(text);
  if (!isDiffObject(msg)) return -100;
  return parseDiffObject(msg, table, new BookUpdate(), { first: 0, prev: -1, entry: -1 }, inexactInteger);
}

describe("Binance: a diff with U > u", () => {
  test("is refused by every reader (first_after_last), spot and USD-M layouts; U = u is a diff of one id", () => {
    const t = new StreamTable();
    t.addStream("btcusdt@depth@100ms", "BTCUSDT", 0, 2, 5);
    for (const f of [spot, usdm, moved, escaped]) {
      for (const sc of [new BinanceScanner(), new BinanceScanner(false)]) {
        if (f !== escaped) expect(sc.scan(f(10, 10), t, new BookUpdate()), f(10, 10)).toBe(0);
        // Before: 0, the diff handed to the adapter (the escaped frame: handed to the JSON path, which took it).
        const r = sc.scan(f(11, 10), t, new BookUpdate());
        expect(r, f(11, 10)).toBeLessThan(0);
        if (f !== escaped) expect(r, f(11, 10)).toBe(FIRST_AFTER_LAST);
      }
      expect(viaJson(f(10, 10), t), f(10, 10)).toBe(0);
      expect(viaJson(f(11, 10), t), f(11, 10)).toBe(FIRST_AFTER_LAST);
    }
  });

  test("is a bad frame of its stream: counted, logged naming U and u, the LIVE book resynced and nothing applied (spot and USD-M)", () => {
    const seen: Record<string, unknown> = {};
    for (const market of ["spot", "linear"] as const) {
      const warnings: string[] = [];
      const { adapter, t, feed, applied, invalid } = liveOfflineStream(market, warnings, "binance-first-after-last");
      // USD-M chains by pu (9, the book's id: it continues); spot's U 10 continues 9, its u 9 a repeat of the book's.
      feed(market === "spot" ? spot(10, 9) : usdm(12, 10));
      const named = warnings.some((w) => w.includes(market === "spot" ? "first_after_last U 10 > u 9" : "first_after_last U 12 > u 10"));
      seen[market] = { applied, book: t.book, invalid, code: adapter.stats()["parseErrors.first_after_last"], named };
    }
    // Before: USD-M applied it ([10], LIVE), spot dropped it as a repeat (LIVE); neither counted nor logged.
    const refused = { applied: [], book: BookState.RESYNCING, invalid: [[BookState.RESYNCING, StatusReason.PARSE_ERROR]], code: 1, named: true };
    expect(seen).toEqual({ spot: refused, linear: refused });
  });
});
