/**
 * The Binance simulator replays a cryptofeed recording (src/sim/binance-sim-replay.ts). It took a REST snapshot's
 * symbol from the URL with `[A-Z0-9]+`: a symbol beyond ASCII (币安人生USDT, percent-encoded in the URL as ccxt and
 * tardis-dev send it, or written as it is) matched nothing, so its snapshot and with it all its diffs were left out
 * of the replay without a word. Now the query value is read whole and percent-decoded.
 */
import { writeFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
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
