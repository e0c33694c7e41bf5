/**
 * A USD-M diff without `pu` (the id USD-M chains by) is malformed: a bad frame of its stream, counted as
 * `missing_field`, logged as "USD-M diff without pu", its LIVE book resynced (PARSE_ERROR) and nothing applied.
 * Before, every reader took the absent pu as -1 and the adapter reported a sequence gap (gaps counted, SEQUENCE_GAP).
 * Spot sends no pu: the same diff there is applied.
 */
import { describe, expect, test } from "vitest";
import { BookState, StatusReason } from "../../../src/core/types.ts";
import { liveOfflineStream } from "./offline-adapter.ts";

// Binance's exact layout (the module's and the TypeScript fast path's), another key order (the general reader) and an
// escaped stream name (the JSON path only); none with a pu.
const layouts = {
  exact: `{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"T":1,"s":"BTCUSDT","U":10,"u":11,"b":[["1.00","1.00000"]],"a":[]}}`,
  moved: `{"stream":"btcusdt@depth@100ms","data":{"u":11,"e":"depthUpdate","E":1,"s":"BTCUSDT","U":10,"b":[],"a":[["1.00","1.00000"]]}}`,
  escaped: `{"stream":"btcusdt@depth\\u0040100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":10,"u":11,"b":[],"a":[]}}`,
};

describe("Binance: a diff without pu", () => {
  test("on USD-M is a bad frame (missing_field, named), its LIVE book resynced for a parse error, no gap; on spot it is applied", () => {
    const seen: Record<string, unknown> = {};
    for (const market of ["linear", "spot"] as const) {
      for (const [layout, frame] of Object.entries(layouts)) {
        const warnings: string[] = [];
        const { adapter, t, feed, applied, invalid } = liveOfflineStream(market, warnings, "binance-usdm-no-pu");
        feed(frame);
        const s = adapter.stats();
        const named = warnings.some((w) => w.includes("missing_field USD-M diff without pu"));
        seen[`${market} ${layout}`] = { applied, book: t.book, invalid, missing: s["parseErrors.missing_field"] ?? 0, gaps: s.gaps, named };
      }
    }
    // Before: USD-M { applied: [], RESYNCING, [[RESYNCING, SEQUENCE_GAP]], missing 0, gaps 1, named false }.
    const refused = { applied: [], book: BookState.RESYNCING, invalid: [[BookState.RESYNCING, StatusReason.PARSE_ERROR]], missing: 1, gaps: 0, named: true };
    const applied = { applied: [11], book: BookState.LIVE, invalid: [], missing: 0, gaps: 0, named: false };
    expect(seen).toEqual({
      "linear exact": refused,
      "linear moved": refused,
      "linear escaped": refused,
      "spot exact": applied,
      "spot moved": applied,
      "spot escaped": applied,
    });
  });
});
