/**
 * The Binance simulator replays a cryptofeed recording (src/sim/binance-sim-replay.ts). It took a REST snapshot's
 * symbol from the URL with `[A-Z0-9]+`: a symbol beyond ASCII (币安人生USDT, percent-encoded in the URL as ccxt and
 * tardis-dev send it, or written as it is) matched nothing, so its snapshot and with it all its diffs were left out
 * of the replay without a word. Now the query value is read whole and percent-decoded.
 */
import { writeFileSync } from "node:fs";
import { describe, expect, test, vi } from "vitest";
import { loadBinanceRecording } from "../../src/sim/binance-sim-replay.ts";
import { makeTempDir } from "../support/temp-dirs.ts";

const SNAPSHOT = '{"lastUpdateId":100,"bids":[["0.1234","10"]],"asks":[["0.1240","5.5"]]}';
const diff = (s: string, u: number) => `{"e":"depthUpdate","E":1,"s":"${s}","U":${u},"u":${u},"b":[["0.1235","1"]],"a":[]}`;

describe("Binance replay: symbols beyond ASCII", () => {
  test.each([
    ["percent-encoded", encodeURIComponent("币安人生USDT")],
    ["as it is", "币安人生USDT"],
  ])("a REST snapshot whose URL holds the symbol %s is replayed with its diffs", (_, inUrl) => {
    const dir = makeTempDir("binance-replay-utf8-");
    const ws = `${dir}/rec.ws.1.0`;
    writeFileSync(`${dir}/rec.http.0.0`, [
      `https://api.binance.com/api/v3/depth?symbol=${inUrl}&limit=1000 -> 1.5: ${SNAPSHOT}`,
      `https://api.binance.com/api/v3/depth?symbol=BTCUSDT&limit=1000 -> 1.6: ${SNAPSHOT}`,
    ].join("\n"));
    writeFileSync(ws, [101, 102].flatMap((u) => [`2.${u}: {"stream":"币安人生usdt@depth@100ms","data":${diff("币安人生USDT", u)}}`, `2.${u}: {"stream":"btcusdt@depth@100ms","data":${diff("BTCUSDT", u)}}`]).join("\n"));
    const replay = loadBinanceRecording(ws);
    expect(replay.map((r) => r.symbol).sort()).toEqual(["BTCUSDT", "币安人生USDT"].sort());
    const cn = replay.find((r) => r.symbol === "币安人生USDT")!;
    expect(cn.snapshot).toBe(SNAPSHOT);
    expect(cn.diffs).toEqual([diff("币安人生USDT", 101), diff("币安人生USDT", 102)]);
    expect(cn.tickSize).toBe("0.0001");
  });
});

// Until 2026-12-07 each recorded line was parsed unguarded: a depthUpdate whose b or a is no array of [price, size]
// strings (or a REST answer without bids, Binance's error body) threw a TypeError out of the load, so `feeder sim
// --replay` would not start; a line that is not JSON threw a SyntaxError. Now such a line is said in one warning:
// a frame not JSON is skipped, a frame or REST answer of another shape (or a REST answer not JSON) served as recorded
// but not used for the tick and step.
describe("Binance replay: lines of another shape", () => {
  test("are said in one warning and do not stop the load; the rest is replayed as recorded", () => {
    const dir = makeTempDir("binance-replay-shape-");
    const ws = `${dir}/rec.ws.1.0`;
    const ERROR_BODY = '{"code":-1121,"msg":"Invalid symbol."}';
    writeFileSync(`${dir}/rec.http.0.0`, [
      `https://api.binance.com/api/v3/depth?symbol=BTCUSDT&limit=1000 -> 1.5: ${SNAPSHOT}`,
      `https://api.binance.com/api/v3/depth?symbol=ETHUSDT&limit=1000 -> 1.6: ${ERROR_BODY}`,
      `https://api.binance.com/api/v3/depth?symbol=XRPUSDT&limit=1000 -> 1.7: {"bids":[`,
    ].join("\n"));
    const odd = [
      '{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":102,"u":102,"b":null,"a":[]}',
      '{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":103,"u":103,"b":[["0.12351","1"]],"a":{"x":1}}',
      '{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":104,"u":104,"b":[[0.1, 1], "x"],"a":[]}',
    ];
    const frames = [diff("BTCUSDT", 101), ...odd, diff("BTCUSDT", 105), diff("ETHUSDT", 101)];
    writeFileSync(ws, [...frames.map((d, i) => `2.${i}: {"stream":"x@depth@100ms","data":${d}}`), '2.9: {"stream":"x@depth@100ms","data":{"e":"depthUpdate",}}'].join("\n"));
    const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => {});
    let replay, warnings;
    try {
      replay = loadBinanceRecording(ws);
      warnings = warn.mock.calls.map((c) => String(c[0]));
    } finally {
      warn.mockRestore();
    }
    const btc = replay.find((r) => r.symbol === "BTCUSDT")!;
    expect(btc.diffs).toEqual([diff("BTCUSDT", 101), ...odd, diff("BTCUSDT", 105)]); // served as recorded, in order
    expect(btc.tickSize).toBe("0.0001"); // 0.12351 of the frame whose a is no array not taken for the tick
    const eth = replay.find((r) => r.symbol === "ETHUSDT")!;
    expect([eth.snapshot, eth.diffs.length, eth.tickSize]).toEqual([ERROR_BODY, 1, "0.0001"]);
    expect(warnings).toEqual([
      `sim: replay ${ws}: 1 line(s) that are not JSON skipped; 5 depth update(s) or REST answer(s) not of the [price, size] shape served as recorded, not used for the tick and step sizes`,
    ]);
  });
});
