/**
 * A refused diff's log line shows the scanner's offset only when the scanner decided the code; when the JSON path
 * decided it (the scanner handed the frame over, e.g. at an escape in its stream name) none is shown. Until s-small2
 * the scanner's offset was shown either way: the escape's place, nothing to do with the fault the JSON path found.
 */
import { join } from "node:path";
import { expect, test } from "vitest";
import type { VenueConfig } from "../../../src/config/types.ts";
import { BinanceAdapter } from "../../../src/venues/binance/adapter.ts";
import type { StreamTable } from "../../../src/venues/binance/index.ts";
import type { TopicState } from "../../../src/venues/common/connection.ts";
import { captureLog } from "../../support/capture-log.ts";
import { makeTempDir } from "../../support/temp-dirs.ts";

const STREAM = "btcusdt@depth@100ms";
const diff = (stream: string, body: string) => `{"stream":"${stream}","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT",${body}}}`;
const ESCAPED = "btcusdt@depth\\u0040100ms"; // the scanner hands it over at the backslash (offset 24)

/** The log lines' details, one frame a fresh adapter (the rate-limited log writes each one's first line). */
function logged(frame: string): string {
  const { log, lines } = captureLog();
  const config: VenueConfig = {
    venue: "binance",
    wsUrl: "ws://127.0.0.1:9/ws",
    restUrl: "http://127.0.0.1:9",
    instrumentCachePath: join(makeTempDir("binance-parse-error-where"), "i.json"),
    markets: [{ market: "spot", depth: 100, symbols: ["BTCUSDT"] }],
    overrides: new Map(),
  };
  const refuse = (async () => {
    throw new Error("no network in this test");
  }) as unknown as typeof fetch;
  const adapter = new BinanceAdapter(config, [{ market: "spot", symbol: "BTCUSDT", depth: 100 }], { log, fetch: refuse });
  const t = (adapter as unknown as { topics: TopicState[] }).topics[0]!;
  const conn = t.conn as unknown as { table: StreamTable; onFrameAt(frame: string, tsRecvUs: number): void };
  conn.table.addStream(t.topic, "BTCUSDT", t.index, 2, 5); // as its subscribe does
  conn.onFrameAt(frame, 0);
  return lines.map((l) => String(l.fields.detail ?? "")).join("\n");
}

test("the JSON path's refusals show no scanner offset; the scanner's show its own", () => {
  const cases: [string, string][] = [
    // Decided by the JSON path after the scanner's handover at the escape. Before: each said "at 24".
    [diff(ESCAPED, `"U":1,"u":2,"b":[["1.00"]],"a":[]`), `bad_level (spot ${STREAM}): `],
    [diff(ESCAPED, `"U":11,"u":10,"b":[],"a":[]`), `first_after_last U 11 > u 10 (spot ${STREAM}): `],
    [diff(ESCAPED, `"U":1,"u":2,"b":[],"a":[]`).slice(0, -3), "syntax (spot): "], // not JSON (its stream not found)
    // The scanner refused [price] too, but the frame is JSON: the JSON path decides (it said "at 102").
    [diff(STREAM, `"U":1,"u":2,"b":[["1.00"]],"a":[]`), `bad_level (spot ${STREAM}): `],
    // Decided by the scanner (not JSON; a stream not subscribed): its offset in this frame.
    [diff(STREAM, `"U":1,"u":2,"b":[],"a":[]`).slice(0, -3), `syntax at 102 (spot ${STREAM}): `],
    [diff("ethusdt@depth@100ms", `"U":1,"u":2,"b":[],"a":[]`), "unknown_topic at 31 (spot): "],
  ];
  const seen = cases.map(([frame]) => logged(frame).split(": {")[0] + ": ");
  expect(seen).toEqual(cases.map(([, line]) => line));
});
