/**
 * A book frame's `level` (Upbit's price grouping, 0 = none) must be the level subscribed: a grouped book is not the
 * exact book, so one of another level is refused (`level`, the book resynced), on the scanner's path and the JSON
 * path alike; one without the key is read (older feeds). Bithumb's frames are not checked (its doc's default level is
 * 1, the plain tick, and the adapter asks for none). Offline: no socket.
 */
import { describe, expect, test } from "vitest";
import type { MarketName } from "../../../src/core/types.ts";
import { BookState } from "../../../src/core/types.ts";
import { SUB_ACTIVE, type TopicState } from "../../../src/venues/common/connection.ts";
import type { UpbitAdapter } from "../../../src/venues/upbit/adapter.ts";
import { UpbitConnection } from "../../../src/venues/upbit/connection.ts";
import { UpbitAdapter as Adapter, UPBIT_DIALECT } from "../../../src/venues/upbit/index.ts";
import * as scan from "../../../src/venues/upbit/scanner.ts";
import { offlineVenue } from "../common/offline-venue.ts";

const SCAN_ERR_LEVEL = (scan as Record<string, unknown>).SCAN_ERR_LEVEL as number;
/** KRW-LAMB's book (tick 1, sizes 8 decimals) with `level` written as given (undefined: no such key); `code` as spelt. */
const frame = (lv: string | undefined, code = "KRW-LAMB") => `{"ty":"orderbook","cd":"${code}","tms":1,"obu":[{"ap":127,"bp":126,"as":1,"bs":2}]${lv === undefined ? "" : "," + lv}}`;

/** What a connection checking `level` (-1: none) makes of each frame: "book" or the code it refused it with. */
function outcomes(level: number, frames: string[]): (string | number)[] {
  const out: (string | number)[] = [];
  const stub = { rawFrameTap: undefined, onBook: () => void out.push("book"), onText: () => false, onMisfitStamp: () => undefined, onUnknownCode: () => void out.push("unknown"), onParseError: (_c: unknown, _e: number, code: number) => void out.push(code) };
  const conn = new UpbitConnection(stub as unknown as UpbitAdapter, 0, "spot" as MarketName, "ws://127.0.0.1:1", 1000, level);
  conn.table.add("KRW-LAMB", 0, 0, 8, 30);
  for (const f of frames) conn.onFrameAt(f, 1);
  return out;
}

describe("Upbit: a book frame's level is the level subscribed", () => {
  test("ungrouped (0): level 0 and no level are read; another level, or one that is no number, is refused as level on both paths", () => {
    expect(typeof SCAN_ERR_LEVEL).toBe("number");
    const escaped = "KRW-\\u004cAMB"; // an escape: the scanner hands the frame to the JSON path
    for (const code of ["KRW-LAMB", escaped]) {
      expect(outcomes(0, [frame('"lv":0', code), frame('"level":0.0', code), frame(undefined, code)]), code).toEqual(["book", "book", "book"]);
      // Before: each applied as the exact book.
      const refused = ['"lv":100000', '"level":10000', '"lv":0.5', '"lv":"0"', '"lv":null', '"lv":0,"level":1'].map((lv) => frame(lv, code));
      expect(outcomes(0, refused), code).toEqual(refused.map(() => SCAN_ERR_LEVEL));
    }
  });

  test("grouped (10000, or 0.1): its level however written is read; 0 or another level is refused", () => {
    expect(outcomes(10_000, [frame('"lv":10000'), frame('"lv":1e4'), frame('"lv":10000.000')])).toEqual(["book", "book", "book"]);
    expect(outcomes(10_000, [frame('"lv":0'), frame('"lv":1000'), frame('"lv":10000.5')])).toEqual([SCAN_ERR_LEVEL, SCAN_ERR_LEVEL, SCAN_ERR_LEVEL]);
    expect(outcomes(0.1, [frame('"lv":0.1'), frame('"lv":0.10'), frame('"lv":0.11'), frame('"lv":1')])).toEqual(["book", "book", SCAN_ERR_LEVEL, SCAN_ERR_LEVEL]);
  });

  test("not checked (Bithumb): any level is read", () => {
    expect(outcomes(-1, [frame('"lv":1'), frame('"level":100000'), frame(undefined)])).toEqual(["book", "book", "book"]);
  });

  test("through the adapter: the refused book resyncs, counted as a level parse error", () => {
    for (const [level, lv] of [[undefined, '"lv":100000'], [100_000, '"lv":0']] as const) {
      const o = offlineVenue("upbit", "spot", 30, ["KRW-LAMB"], "/websocket/v1");
      const config = level === undefined ? o.config : { ...o.config, markets: [{ ...o.config.markets[0]!, options: { level } }] };
      const adapter = new Adapter(config, o.subscriptions, UPBIT_DIALECT, o.options);
      const t = (adapter as unknown as { topics: TopicState<UpbitConnection>[] }).topics[0]!;
      t.conn.table.add("KRW-LAMB", 0, 0, 8, 30);
      t.sub = SUB_ACTIVE;
      t.book = BookState.LIVE;
      t.conn.onFrameAt(frame(lv), 1);
      expect([t.book, adapter.stats().resyncs], lv).toEqual([BookState.RESYNCING, 1]);
      expect(adapter.metrics().some((m) => m.name.includes("parse_errors_by_code") && m.labels?.code === "level" && m.value === 1), lv).toBe(true);
    }
  });
});
