/**
 * The simulators across a step of the wall clock: their pacing, deadlines and rate windows are on the monotonic clock
 * (core/clock.ts monoMs), Date.now only for the times they send. Until s-rd19d a step back made the pacing's time
 * negative (nothing sent for as long as the step); until 2026-12-07 the rest ran on Date.now: a step ahead fired the
 * periodic pushes at once (a Deribit test_request, Bybit's L1 re-push, OKX's keepalive, Coinbase's heartbeat) and added
 * a second's books, a step back postponed the idle closes and heartbeats by the step and held the connect and REST
 * windows full (every connect or request refused for as long), and Deribit's credits went below 0 (10028, closed).
 * And a messagesPerSecond below 1 never sent (its budget capped at the rate, below 1).
 * Date and performance are faked: `stepWall` moves Date alone (the host's clock stepped), `pass` moves both (time
 * passing) in ticks of 10 ms, each tick called directly. The simulators' own timers run, with no time passing for them.
 */
import { afterEach, describe, expect, test, vi } from "vitest";
import { startBinanceSimulator } from "../../src/sim/binance-sim.ts";
import { startBybitSimulator } from "../../src/sim/bybit-sim.ts";
import { startCoinbaseSimulator } from "../../src/sim/coinbase-sim.ts";
import { startDeribitSimulator } from "../../src/sim/deribit-sim.ts";
import { startOkxSimulator } from "../../src/sim/okx-sim.ts";
import { startUpbitSimulator } from "../../src/sim/upbit-sim.ts";
import { PRODUCTS_PATH } from "../../src/venues/coinbase/protocol.ts";
import { RawClient } from "./raw-client.ts";

const HOUR_MS = 3_600_000;
const T0_MS = 1_800_000_000_000;
const TICK_MS = 10;

const stops: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  vi.useRealTimers();
  while (stops.length > 0) await stops.pop()!();
});

type Paced = { onTick(): void; stepBudget: number; stats: { messagesSent: number } };
type Sim = { stop(): Promise<void>; wsUrl: string };

function fakeClocks(): void {
  vi.useFakeTimers({ toFake: ["Date", "performance"], now: T0_MS });
  vi.advanceTimersByTime(1_000); // the monotonic clock well past 0
}
/** The host's clock stepped by `ms` (ahead or back): Date alone moves. */
const stepWall = (ms: number) => vi.setSystemTime(Date.now() + ms);
/** `ms` of time passing, a tick every TICK_MS. */
function pass(ms: number, tick: () => void): void {
  for (let t = 0; t < ms; t += TICK_MS) {
    vi.advanceTimersByTime(TICK_MS);
    tick();
  }
}
async function started<S extends Sim>(sim: Promise<S>): Promise<S> {
  const s = await sim;
  stops.push(() => s.stop());
  return s;
}
async function client(url: string): Promise<RawClient> {
  const c = await RawClient.open(url);
  stops.push(() => c.close());
  return c;
}
/** Whether a WebSocket upgrade to `url` is let through (a 429 fails it). */
async function connects(url: string): Promise<boolean> {
  return RawClient.open(url).then(
    (c) => (stops.push(() => c.close()), true),
    () => false,
  );
}
const tickOf = (sim: unknown) => () => (sim as { onTick(): void }).onTick();

const pacedVenues = [
  ["Bybit", (rate: number) => startBybitSimulator({ markets: [{ market: "linear", symbols: ["BTCUSDT"] }], messagesPerSecond: rate })],
  ["OKX", (rate: number) => startOkxSimulator({ markets: [{ market: "spot", symbols: ["BTC-USDT"] }], messagesPerSecond: rate })],
  ["Deribit", (rate: number) => startDeribitSimulator({ markets: [{ market: "inverse", symbols: ["BTC-PERPETUAL"] }], messagesPerSecond: rate })],
  ["Coinbase", (rate: number) => startCoinbaseSimulator({ products: ["BTC-USD"], messagesPerSecond: rate })],
] as const;

describe("simulator pacing across a wall clock step", { timeout: 15_000 }, () => {
  test.each(pacedVenues)("%s: a step back leaves the budget at or above 0 (before s-rd19d: rate × the step below it)", async (_venue, start) => {
    fakeClocks();
    const paced = (await started(start(100) as Promise<Sim>)) as unknown as Paced;
    stepWall(-HOUR_MS);
    paced.onTick();
    expect(paced.stepBudget).toBeGreaterThanOrEqual(0);
    vi.advanceTimersByTime(50);
    paced.onTick();
    expect(paced.stepBudget).toBeCloseTo(5); // 100/s × 50 ms: paced again at once
  });

  test.each(pacedVenues)("%s: a step ahead adds nothing to the budget (before: a second's books)", async (_venue, start) => {
    fakeClocks();
    const paced = (await started(start(100) as Promise<Sim>)) as unknown as Paced;
    paced.onTick();
    stepWall(HOUR_MS);
    paced.onTick();
    expect(paced.stepBudget).toBe(0);
  });

  test.each(pacedVenues)("%s: 0.5 messages a second reaches one message in 2 s (before: capped at 0.5, never sent)", async (_venue, start) => {
    fakeClocks();
    const paced = (await started(start(0.5) as Promise<Sim>)) as unknown as Paced;
    paced.onTick();
    vi.advanceTimersByTime(2_000);
    paced.onTick();
    expect(paced.stepBudget).toBeCloseTo(1);
  });

  test("Bybit: 0.5 messages a second sends a book every 2 s to a subscriber", async () => {
    fakeClocks();
    const sim = await started(startBybitSimulator({ markets: [{ market: "linear", symbols: ["BTCUSDT"] }], messagesPerSecond: 0.5, seed: 3 }));
    const c = await client(`${sim.wsUrl}/linear`);
    c.send({ op: "subscribe", args: ["orderbook.50.BTCUSDT"] });
    await vi.waitFor(() => expect(sim.stats.messagesSent).toBe(2), { timeout: 5_000, interval: 10 }); // ack, snapshot
    const paced = sim as unknown as Paced;
    for (let i = 0; i < 3; i++) {
      vi.advanceTimersByTime(2_000);
      paced.onTick();
    }
    expect(sim.stats.messagesSent).toBe(5);
  });

  test("Upbit: a step back does not silence it, a step ahead sends nothing, a second sends a second's books", async () => {
    fakeClocks();
    const sim = await started(startUpbitSimulator({ venue: "upbit", codes: ["KRW-BTC"], messagesPerSecond: 10, frames: "text" }));
    const c = await client(sim.wsUrl);
    c.send([{ ticket: "t" }, { type: "orderbook", codes: ["KRW-BTC"] }]);
    await vi.waitFor(() => expect(sim.subscribed()).toEqual(["KRW-BTC"]), { timeout: 5_000, interval: 10 });
    const tick = () => (sim as unknown as { tick(): void }).tick();
    const sent = () => sim.stats.messagesSent;
    stepWall(-HOUR_MS);
    tick();
    let before = sent();
    vi.advanceTimersByTime(1_000);
    tick();
    expect(sent() - before).toBe(10); // a second's books (before s-rd19d: none, the budget an hour's worth below 0)
    before = sent();
    stepWall(2 * HOUR_MS);
    tick();
    expect(sent() - before).toBe(0); // before: a second's books (before s-rd19d: 2 hours' books, 72,000)
  });
});

describe("simulator deadlines and rate windows across a wall clock step", { timeout: 15_000 }, () => {
  test.each([
    ["Bybit", () => startBybitSimulator({ markets: [{ market: "linear", symbols: ["BTCUSDT"] }], idleCloseMs: 100 }), "/linear", (s: unknown) => (s as { stats: { idleCloses: number } }).stats.idleCloses],
    ["OKX", () => startOkxSimulator({ markets: [{ market: "spot", symbols: ["BTC-USDT"] }], idleCloseMs: 100 }), "", (s: unknown) => (s as { stats: { idleCloses: number } }).stats.idleCloses],
    ["Upbit", () => startUpbitSimulator({ venue: "upbit", codes: ["KRW-BTC"], idleCloseMs: 100 }), "", (s: unknown) => (s as { stats: { idleCloses: number } }).stats.idleCloses],
    ["Coinbase", () => startCoinbaseSimulator({ products: ["BTC-USD"], subscribeDeadlineMs: 100 }), "", (s: unknown) => (s as { stats: { idleClosedNoSubscribe: number } }).stats.idleClosedNoSubscribe],
  ] as const)("%s: a step back does not postpone the idle close (before: by the step)", async (venue, start, path, closes) => {
    fakeClocks();
    const sim = await started(start() as Promise<Sim>);
    const c = await client(sim.wsUrl + path);
    await vi.waitFor(() => expect((sim as unknown as { stats: { connections: number } }).stats.connections).toBe(1), { timeout: 5_000, interval: 10 });
    const tick = venue === "Upbit" ? () => (sim as unknown as { tick(): void }).tick() : tickOf(sim);
    stepWall(-HOUR_MS);
    pass(50, tick);
    expect(closes(sim)).toBe(0);
    pass(60, tick);
    expect(closes(sim)).toBe(1);
    await vi.waitFor(() => expect(c.closed).toBe(true), { timeout: 5_000, interval: 10 });
  });

  test("Deribit: a step ahead sends no test_request early, a step back neither postpones the next nor the close for an unanswered one", async () => {
    fakeClocks();
    const sim = await started(startDeribitSimulator({ markets: [{ market: "inverse", symbols: ["BTC-PERPETUAL"] }], heartbeatIntervalMs: 100, heartbeatTimeoutMs: 300 }));
    const c = await client(sim.wsUrl);
    c.send({ jsonrpc: "2.0", id: 1, method: "public/set_heartbeat", params: { interval: 10 } });
    await c.next(); // "ok"
    const tick = tickOf(sim);
    stepWall(HOUR_MS);
    tick();
    expect(sim.stats.testRequests).toBe(0); // before: one at once
    pass(100, tick);
    expect(sim.stats.testRequests).toBe(1);
    stepWall(-2 * HOUR_MS); // unanswered: due to close 300 ms after it went
    pass(290, tick);
    expect(sim.stats.heartbeatCloses).toBe(0);
    pass(110, tick);
    expect(sim.stats.heartbeatCloses).toBe(1); // before: an hour later
  });

  test("Deribit: a step back takes no request credits (before: none left, 10028 and the session closed)", async () => {
    fakeClocks();
    const sim = await started(startDeribitSimulator({ markets: [{ market: "inverse", symbols: ["BTC-PERPETUAL"] }] }));
    const c = await client(sim.wsUrl);
    c.send({ jsonrpc: "2.0", id: 1, method: "public/subscribe", params: { channels: [] } });
    await c.next();
    stepWall(-HOUR_MS);
    c.send({ jsonrpc: "2.0", id: 2, method: "public/subscribe", params: { channels: [] } });
    const answer = JSON.parse(await c.next()) as { id: number; error?: unknown };
    expect(answer.id).toBe(2);
    expect(answer.error).toBeUndefined();
  });

  test.each([
    ["Bybit L1 re-push", async () => {
      const sim = await started(startBybitSimulator({ markets: [{ market: "linear", symbols: ["BTCUSDT"] }], l1RepushMs: 1_000 }));
      const c = await client(`${sim.wsUrl}/linear`);
      c.send({ op: "subscribe", args: ["orderbook.1.BTCUSDT"] });
      return { sim, sent: 2 }; // ack, snapshot
    }],
    ["OKX keepalive", async () => {
      const sim = await started(startOkxSimulator({ markets: [{ market: "spot", symbols: ["BTC-USDT"] }], keepaliveMs: 1_000 }));
      const c = await client(sim.wsUrl);
      c.send({ op: "subscribe", args: [{ channel: "books", instId: "BTC-USDT" }] });
      return { sim, sent: 2 }; // ack, snapshot
    }],
    ["Coinbase heartbeat", async () => {
      const sim = await started(startCoinbaseSimulator({ products: ["BTC-USD"], heartbeatMs: 1_000 }));
      const c = await client(sim.wsUrl);
      c.send({ type: "subscribe", channel: "heartbeats" });
      return { sim, sent: 1 }; // subscriptions
    }],
  ] as const)("%s: a step ahead does not push it early (before: at once)", async (_what, setUp) => {
    fakeClocks();
    const { sim, sent } = await setUp();
    const stats = (sim as unknown as Paced).stats;
    await vi.waitFor(() => expect(stats.messagesSent).toBe(sent), { timeout: 5_000, interval: 10 });
    const tick = tickOf(sim);
    stepWall(HOUR_MS);
    tick();
    expect(stats.messagesSent).toBe(sent);
    vi.advanceTimersByTime(1_000);
    tick();
    expect(stats.messagesSent).toBe(sent + 1); // on time
  });

  const oneConnectPerSecond = [{ max: 1, windowMs: 1_000 }];
  test.each([
    ["Bybit", () => startBybitSimulator({ markets: [{ market: "linear", symbols: ["BTCUSDT"] }], connectLimit: oneConnectPerSecond }), "/linear"],
    ["OKX", () => startOkxSimulator({ markets: [{ market: "spot", symbols: ["BTC-USDT"] }], connectLimit: oneConnectPerSecond }), ""],
    ["Upbit", () => startUpbitSimulator({ venue: "upbit", codes: ["KRW-BTC"], connectLimit: oneConnectPerSecond }), ""],
    ["Coinbase", () => startCoinbaseSimulator({ products: ["BTC-USD"], connectLimit: oneConnectPerSecond }), ""],
    ["Binance", () => startBinanceSimulator({ markets: [{ market: "spot", symbols: ["BTCUSDT"] }], connectLimit: oneConnectPerSecond }), "/ws"],
  ] as const)("%s: a step back does not hold the connect window full (before: every connect refused for the step)", async (_venue, start, path) => {
    fakeClocks();
    const sim = await started(start() as Promise<Sim>);
    expect(await connects(sim.wsUrl + path)).toBe(true);
    expect(await connects(sim.wsUrl + path)).toBe(false); // the limit holds
    stepWall(-HOUR_MS);
    vi.advanceTimersByTime(1_000);
    expect(await connects(sim.wsUrl + path)).toBe(true);
  });

  const status = async (url: string) => (await fetch(url)).status;
  test.each([
    ["Bybit", async () => {
      const sim = await started(startBybitSimulator({ markets: [{ market: "linear", symbols: ["BTCUSDT"] }], restLimit: { perWindow: 1, windowMs: 1_000, blockedMs: 1_000 } }));
      return `${sim.restUrl}/v5/market/instruments-info?category=linear`;
    }, 2_000],
    ["OKX", async () => {
      const sim = await started(startOkxSimulator({ markets: [{ market: "spot", symbols: ["BTC-USDT"] }], instrumentsRate: [{ max: 1, windowMs: 1_000 }] }));
      return `${sim.restUrl}/api/v5/public/instruments?instType=SPOT`;
    }, 1_000],
    ["Coinbase", async () => {
      const sim = await started(startCoinbaseSimulator({ products: ["BTC-USD"], restRate: [{ max: 1, windowMs: 1_000 }] }));
      return `${sim.restUrl}${PRODUCTS_PATH}`;
    }, 1_000],
    ["Binance", async () => {
      const sim = await started(startBinanceSimulator({ markets: [{ market: "spot", symbols: ["BTCUSDT"] }], restWeightPerMinute: 5 }));
      return `${sim.restUrl}/api/v3/depth?symbol=BTCUSDT&limit=100`; // weight 5
    }, 60_000],
  ] as const)("%s: a step back does not hold the REST window full (before: every request refused for the step)", async (_venue, setUp, windowMs) => {
    fakeClocks();
    const url = await setUp();
    expect(await status(url)).toBe(200);
    expect(await status(url)).not.toBe(200); // the limit holds
    stepWall(-HOUR_MS);
    vi.advanceTimersByTime(windowMs);
    expect(await status(url)).toBe(200);
  });
});
