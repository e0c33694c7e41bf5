/**
 * The simulators' pacing (messagesPerSecond) across a step of the wall clock: each tick adds rate × the time since the
 * last one to a budget of books to send. Until s-rd19d a step back made that time negative and the budget as far
 * below 0 (an hour back: nothing sent for an hour), and Upbit's budget had no cap (an hour ahead: an hour's books in
 * one tick). Date alone is faked (setSystemTime steps it); the simulators' own timers run, with no time passing for
 * them, and each tick here is called directly.
 */
import { afterEach, describe, expect, test, vi } from "vitest";
import { startBybitSimulator } from "../../src/sim/bybit-sim.ts";
import { startCoinbaseSimulator } from "../../src/sim/coinbase-sim.ts";
import { startDeribitSimulator } from "../../src/sim/deribit-sim.ts";
import { startOkxSimulator } from "../../src/sim/okx-sim.ts";
import { startUpbitSimulator } from "../../src/sim/upbit-sim.ts";

const HOUR_MS = 3_600_000;
const T0_MS = 1_800_000_000_000;

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  vi.useRealTimers();
  while (stops.length > 0) await stops.pop()!();
});

type Paced = { onTick(): void; stepBudget: number };

describe("simulator pacing across a wall clock step", { timeout: 15_000 }, () => {
  test.each([
    ["Bybit", () => startBybitSimulator({ markets: [{ market: "linear", symbols: ["BTCUSDT"] }], messagesPerSecond: 100 })],
    ["OKX", () => startOkxSimulator({ markets: [{ market: "spot", symbols: ["BTC-USDT"] }], messagesPerSecond: 100 })],
    ["Deribit", () => startDeribitSimulator({ markets: [{ market: "inverse", symbols: ["BTC-PERPETUAL"] }], messagesPerSecond: 100 })],
    ["Coinbase", () => startCoinbaseSimulator({ products: ["BTC-USD"], messagesPerSecond: 100 })],
  ] as const)("%s: a step back leaves the budget at or above 0 (before: rate × the step below it)", async (_venue, start) => {
    vi.useFakeTimers({ toFake: ["Date"], now: T0_MS });
    const sim = await start();
    stops.push(() => sim.stop());
    const paced = sim as unknown as Paced;
    vi.setSystemTime(T0_MS - HOUR_MS);
    paced.onTick();
    expect(paced.stepBudget).toBeGreaterThanOrEqual(0);
    vi.setSystemTime(T0_MS - HOUR_MS + 50);
    paced.onTick();
    expect(paced.stepBudget).toBeCloseTo(5); // 100/s × 50 ms: paced again at once
  });

  test("Upbit: a step back does not silence it, a step ahead sends at most a second's books in one tick", async () => {
    vi.useFakeTimers({ toFake: ["Date"], now: T0_MS });
    const sim = await startUpbitSimulator({ venue: "upbit", codes: ["KRW-BTC"], messagesPerSecond: 10, frames: "text" });
    stops.push(() => sim.stop());
    const ws = new WebSocket(sim.wsUrl);
    const frames: string[] = [];
    ws.onmessage = (ev) => frames.push(String(ev.data));
    await new Promise<void>((res, rej) => {
      ws.onopen = () => res();
      ws.onerror = () => rej(new Error("ws error"));
    });
    stops.push(async () => ws.close());
    ws.send(JSON.stringify([{ ticket: "t" }, { type: "orderbook", codes: ["KRW-BTC"] }]));
    await vi.waitFor(() => expect(sim.subscribed()).toEqual(["KRW-BTC"]), { timeout: 5_000, interval: 10 });
    const tick = () => (sim as unknown as { tick(): void }).tick();
    const sent = () => sim.stats.messagesSent;
    vi.setSystemTime(T0_MS - HOUR_MS);
    tick();
    let before = sent();
    vi.setSystemTime(T0_MS - HOUR_MS + 1_000);
    tick();
    expect(sent() - before).toBe(10); // a second's books (before: none, the budget an hour's worth below 0)
    before = sent();
    vi.setSystemTime(T0_MS + HOUR_MS);
    tick();
    expect(sent() - before).toBeLessThanOrEqual(10); // before: 2 hours' books, 72,000, in this one tick
  });
});
