/**
 * A WebSocket handshake the venue refuses with 429/418/403 holds the venue's connects (connect-hold.ts): the status
 * read from Bun's error text, the hold in the connect budget (reported, relayed, carried, bounded after a clock
 * step back), and in one process a refused connect no longer retried on the reconnect backoff (~0.5 s) into the
 * venue's limit: the next connect waits for the hold. Loopback only, TTL 1.
 */
import { afterEach, describe, expect, test } from "vitest";
import { connectHoldMs, CONNECT_HOLD_MAX_MS, CONNECT_HOLD_MS, handshakeStatus } from "../../../src/venues/common/connect-hold.ts";
import { describeSocketError } from "../../../src/venues/common/connection-lifecycle.ts";
import { SlidingWindowBudget } from "../../../src/venues/common/budgets.ts";
import { workerLedger, type SentBudgetEvent } from "../../../src/venues/common/budget-ledger.ts";
import { Feeder } from "../../../src/app/feeder.ts";
import { validateConfig } from "../../../src/config/load.ts";
import { startBybitSimulator, type BybitSim } from "../../../src/sim/bybit-sim.ts";
import { rawConfig, uniqueDestination, type Markets } from "../../e2e/harness.ts";
import { startWsProxy, type WsProxy } from "../ws-proxy.ts";
import { captureLog } from "../../support/capture-log.ts";

/** The budgets and the ledger on one test clock (as the worker has them once `now` is stepped by hand). */

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

describe("the status of a refused handshake", () => {
  test("Bun's WebSocket client names it in its error; a refused TCP connect has none", async () => {
    const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (req) => new Response("banned", { status: Number(new URL(req.url).pathname.slice(1)) }) });
    cleanups.push(() => server.stop(true));
    const errorOf = (url: string) =>
      new Promise<string>((resolve) => {
        const ws = new WebSocket(url);
        ws.onerror = (ev) => resolve(describeSocketError(ev));
      });
    for (const status of [429, 418, 403, 500]) expect(handshakeStatus(await errorOf(`ws://127.0.0.1:${server.port}/${status}`))).toBe(status);
    expect(handshakeStatus(await errorOf("ws://127.0.0.1:9/"))).toBeUndefined();
  });

  test("429, 418 and 403 hold, doubling while refused in a row up to the cap; other statuses do not", () => {
    expect(connectHoldMs(429, 0)).toBe(CONNECT_HOLD_MS[429]);
    expect(connectHoldMs(429, 1)).toBe(2 * CONNECT_HOLD_MS[429]!);
    expect(connectHoldMs(418, 0)).toBe(CONNECT_HOLD_MS[418]);
    expect(connectHoldMs(403, 100)).toBe(CONNECT_HOLD_MAX_MS);
    expect(connectHoldMs(500, 0)).toBeUndefined();
    expect(connectHoldMs(404, 0)).toBeUndefined();
  });
});

describe("SlidingWindowBudget: the venue's hold on connects", () => {
  test("its own hold is waited for and reported; another worker's (relayed) and the previous worker's (carried) too", () => {
    const events: SentBudgetEvent[] = [];
    let nowMs = 100_000; // the budgets' clock, which the ledger reads too
    const ledger = workerLedger({ "bybit:connect": { windowMs: 1000, uses: [], holdMs: 5_000 } }, (e) => events.push(e), nowMs, () => nowMs);
    const b = new SlidingWindowBudget(10, 1000).track({ key: "bybit:connect", ledger });
    expect(b.waitMs(100_000)).toBe(5_000); // carried
    expect(b.waitMs(105_000)).toBe(0);
    nowMs = 105_000;
    b.hold(nowMs, 10_000);
    expect(b.waitMs(105_000)).toBe(10_000);
    expect(events).toEqual([{ key: "bybit:connect", holdMs: 10_000 }]); // sent as the time it still runs
    ledger.hold("bybit:connect", 20_000, 110_000); // relayed: not reported back
    expect(b.waitMs(110_000)).toBe(20_000);
    expect(events).toHaveLength(1);
    ledger.hold("okx:connect", 60_000, 110_000); // another venue's
    expect(b.waitMs(130_000)).toBe(0);
  });

  test("a wall clock stepped back an hour holds at most the hold's length from then", () => {
    const b = new SlidingWindowBudget(10, 1000);
    b.hold(3_600_000 + 1_000, 10_000);
    expect(b.waitMs(1_000)).toBe(10_000); // an hour back: not an hour and 10 s
    const other = new SlidingWindowBudget(10, 1000);
    other.heldElsewhere(3_600_000 + 20_000, 20_000);
    expect(other.waitMs(0)).toBe(20_000);
  });
});

describe("one process", () => {
  const MARKETS: Markets = [{ market: "linear", depth: 50, symbols: ["BTCUSDT", "ETHUSDT"] }];

  test("a connect answered 429 is tried again only once the hold has passed, and logged naming the status", { timeout: 60_000 }, async () => {
    const sim: BybitSim = await startBybitSimulator({ markets: [{ market: "linear", symbols: MARKETS[0]!.symbols }], seed: 64, messagesPerSecond: 20 });
    cleanups.push(() => sim.stop());
    const proxy: WsProxy = startWsProxy(new URL(sim.wsUrl).origin);
    cleanups.push(() => proxy.stop());
    proxy.refuseUpgrade = (attempt) => (attempt === 0 ? 429 : undefined);
    const raw = rawConfig({ sim, markets: MARKETS, ...uniqueDestination(164) });
    (raw.venues as { bybit: Record<string, unknown> }).bybit.ws_url = `${proxy.origin}/v5/public`;
    const { log, lines } = captureLog();
    const feeder = new Feeder({ config: validateConfig(raw), log });
    cleanups.push(() => feeder.stop());
    await feeder.start();
    const deadline = Date.now() + 40_000;
    while (proxy.upgradesAtMs.length < 2 && Date.now() < deadline) await Bun.sleep(20);
    expect(proxy.upgradesAtMs.length).toBeGreaterThanOrEqual(2);
    const [refusedAtMs, nextAtMs] = proxy.upgradesAtMs as [number, number];
    expect(nextAtMs - refusedAtMs).toBeGreaterThanOrEqual(CONNECT_HOLD_MS[429]! - 500); // the hold starts as the 429 is read
    const refused = lines.find((l) => l.msg.includes("refused a connect"));
    expect(refused?.level).toBe("warn");
    expect(refused?.fields).toMatchObject({ status: 429, holdMs: CONNECT_HOLD_MS[429] });
  });
});
