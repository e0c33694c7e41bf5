/**
 * The simulators refuse a WebSocket upgrade past their venue's per-IP connect limit with HTTP 429 (connect-limit.ts),
 * so a feeder that connects faster than its venue allows fails its tests: the window rule against a reference model
 * (random arrivals), each simulator's default windows (the venue's figures in docs/venues/*.md), and a burst one past
 * the limit refused while the rest open.
 */
import { afterEach, describe, expect, test } from "vitest";
import { startBinanceSimulator } from "../../src/sim/binance-sim.ts";
import { startBybitSimulator } from "../../src/sim/bybit-sim.ts";
import { startCoinbaseSimulator } from "../../src/sim/coinbase-sim.ts";
import { arrivalAllowanceMs, ConnectLimit, type ConnectWindow } from "../../src/sim/connect-limit.ts";
import { startOkxSimulator } from "../../src/sim/okx-sim.ts";
import { startUpbitSimulator } from "../../src/sim/upbit-sim.ts";
import { Rng } from "../../src/sim/rng.ts";

const stops: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()!();
});

/** Opens a WebSocket: the socket once open, or null when the upgrade was refused. */
function tryOpen(url: string): Promise<WebSocket | null> {
  const ws = new WebSocket(url);
  return new Promise((resolve) => {
    ws.onopen = () => resolve(ws);
    ws.onerror = () => resolve(null);
    ws.onclose = () => resolve(null);
  });
}

/** `n` sockets opened at once: how many opened, how many were refused (closing the opened ones). */
async function burst(url: string, n: number): Promise<{ opened: number; refused: number }> {
  const all = await Promise.all(Array.from({ length: n }, () => tryOpen(url)));
  for (const ws of all) ws?.close();
  return { opened: all.filter((w) => w !== null).length, refused: all.filter((w) => w === null).length };
}

describe("ConnectLimit", () => {
  test("admits an upgrade iff every window (shortened by the arrival allowance) holds fewer than its max admitted ones (random arrivals)", () => {
    const rng = new Rng(7);
    for (let round = 0; round < 50; round++) {
      const windows: ConnectWindow[] = Array.from({ length: rng.int(1, 2) }, () => ({ max: rng.int(1, 6), windowMs: rng.int(1, 40) * 100 }));
      const limit = new ConnectLimit(windows);
      const admitted: number[] = [];
      let nowMs = 0;
      for (let i = 0; i < 200; i++) {
        nowMs += rng.int(0, 400);
        const expected = windows.every((w) => admitted.filter((t) => nowMs - t < w.windowMs - arrivalAllowanceMs(w.windowMs)).length < w.max);
        const answer = limit.admit(nowMs);
        expect(answer === null).toBe(expected);
        if (answer) expect(answer.status).toBe(429);
        else admitted.push(nowMs);
      }
      expect(limit.refused).toBe(200 - admitted.length);
    }
  });
});

describe("each simulator's connect limit", { timeout: 20_000 }, () => {
  test("defaults are the venues' figures: OKX 3/s, Coinbase 8/s, Upbit 5/s and 100/min, Bithumb 10/s, Binance 300/5 min, Bybit 500/5 min", async () => {
    const okx = await startOkxSimulator({ markets: [{ market: "spot", symbols: ["BTC-USDT"] }] });
    stops.push(() => okx.stop());
    const coinbase = await startCoinbaseSimulator({ products: ["BTC-USD"] });
    stops.push(() => coinbase.stop());
    const upbit = await startUpbitSimulator({ venue: "upbit", codes: ["KRW-BTC"] });
    stops.push(() => upbit.stop());
    const bithumb = await startUpbitSimulator({ venue: "bithumb", codes: ["KRW-BTC"] });
    stops.push(() => bithumb.stop());
    const binance = await startBinanceSimulator({ markets: [{ market: "spot", symbols: ["BTCUSDT"] }] });
    stops.push(() => binance.stop());
    const bybit = await startBybitSimulator({ markets: [{ market: "spot", symbols: ["BTCUSDT"] }] });
    stops.push(() => bybit.stop());
    expect(okx.connectLimit.windows).toEqual([{ max: 3, windowMs: 1_000 }]);
    expect(coinbase.connectLimit.windows).toEqual([{ max: 8, windowMs: 1_000 }]);
    expect(upbit.connectLimit.windows).toEqual([
      { max: 5, windowMs: 1_000 },
      { max: 100, windowMs: 60_000 },
    ]);
    expect(bithumb.connectLimit.windows).toEqual([{ max: 10, windowMs: 1_000 }]);
    expect(binance.connectLimit.windows).toEqual([{ max: 300, windowMs: 300_000 }]);
    expect(binance.linearConnectLimit.windows).toEqual([]); // USD-M documents none
    expect(bybit.connectLimit.windows).toEqual([{ max: 500, windowMs: 300_000 }]);
  });

  test("a burst one past the limit: that many open, the rest refused with 429 (Binance counts spot only)", async () => {
    const window = (max: number): ConnectWindow[] => [{ max, windowMs: 600_000 }];
    const okx = await startOkxSimulator({ markets: [{ market: "spot", symbols: ["BTC-USDT"] }], connectLimit: window(3) });
    stops.push(() => okx.stop());
    expect(await burst(`${okx.wsUrl}`, 4)).toEqual({ opened: 3, refused: 1 });
    expect(okx.connectLimit.refused).toBe(1);
    const coinbase = await startCoinbaseSimulator({ products: ["BTC-USD"], connectLimit: window(8) });
    stops.push(() => coinbase.stop());
    expect(await burst(coinbase.wsUrl, 9)).toEqual({ opened: 8, refused: 1 });
    const upbit = await startUpbitSimulator({ venue: "upbit", codes: ["KRW-BTC"], connectLimit: window(5) });
    stops.push(() => upbit.stop());
    expect(await burst(upbit.wsUrl, 6)).toEqual({ opened: 5, refused: 1 });
    const bybit = await startBybitSimulator({ markets: [{ market: "linear", symbols: ["BTCUSDT"] }], connectLimit: window(2) });
    stops.push(() => bybit.stop());
    expect(await burst(`${bybit.wsUrl}/linear`, 3)).toEqual({ opened: 2, refused: 1 });
    const binance = await startBinanceSimulator({ markets: [{ market: "spot", symbols: ["BTCUSDT"] }, { market: "linear", symbols: ["BTCUSDT"] }], connectLimit: window(2) });
    stops.push(() => binance.stop());
    expect(await burst(`${binance.wsUrl}/stream`, 3)).toEqual({ opened: 2, refused: 1 });
    expect(await burst(`${binance.wsUrl}/public/stream`, 3)).toEqual({ opened: 3, refused: 0 });
    expect(binance.connectLimit.refused).toBe(1);
  });

  test("Binance: each market's connects counted apart, USD-M's against a limit of its own when one is set", async () => {
    // Before, only spot's upgrades were counted and USD-M's could be held to no figure at all.
    const binance = await startBinanceSimulator({
      markets: [{ market: "spot", symbols: ["BTCUSDT"] }, { market: "linear", symbols: ["BTCUSDT"] }],
      connectLimit: [{ max: 2, windowMs: 600_000 }],
      linearConnectLimit: [{ max: 3, windowMs: 600_000 }],
    });
    stops.push(() => binance.stop());
    expect(await burst(`${binance.wsUrl}/public/stream`, 4)).toEqual({ opened: 3, refused: 1 });
    expect(await burst(`${binance.wsUrl}/stream`, 3)).toEqual({ opened: 2, refused: 1 }); // USD-M's spent none of spot's
    expect(await burst(`${binance.wsUrl}/public/ws`, 1)).toEqual({ opened: 0, refused: 1 }); // nor spot's USD-M's
    expect([binance.connectLimit.refused, binance.linearConnectLimit.refused]).toEqual([1, 2]);
  });
});
