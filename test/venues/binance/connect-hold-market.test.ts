/**
 * Binance spot (stream.binance.com) and USD-M (fstream.binance.com) are different hosts, each with its own per-IP
 * connect limit: a spot handshake refused with 418 holds spot's connects only, and each market's connects are its
 * own budget's, reported to the supervisor's ledger under a key of its own (`binance:connect:spot`,
 * `binance:connect:linear`), so another worker's hold on one market holds that market only. Before, one budget and
 * one hold served both: a spot ban held every USD-M reconnect for its length. Simulator behind a proxy that refuses
 * the spot path's handshakes; loopback only.
 */
import { afterEach, describe, expect, test } from "vitest";
import { join } from "node:path";
import { validateConfig } from "../../../src/config/load.ts";
import type { VenueConfig } from "../../../src/config/types.ts";
import { silentLogger } from "../../../src/core/log.ts";
import { startBinanceSimulator } from "../../../src/sim/binance-sim.ts";
import { BinanceAdapter } from "../../../src/venues/binance/index.ts";
import { workerLedger, type SentBudgetEvent } from "../../../src/venues/common/budget-ledger.ts";
import type { VenueConnection } from "../../../src/venues/common/connection.ts";
import { venueSpec } from "../../../src/venues/registry.ts";
import type { Subscription } from "../../../src/venues/venue.ts";
import { captureLog } from "../../support/capture-log.ts";
import { makeTempDir } from "../../support/temp-dirs.ts";
import { BookMaps, until } from "../planned-fallback-harness.ts";
import { startWsProxy } from "../ws-proxy.ts";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

describe("Binance: a connect budget and hold per market host", { timeout: 30_000 }, () => {
  test("a spot handshake refused 418 does not hold a USD-M reconnect; each market's connects and holds go to its own ledger key", async () => {
    const sim = await startBinanceSimulator({ markets: [{ market: "spot", symbols: ["BTCUSDT"] }, { market: "linear", symbols: ["BTCUSDT"] }], seed: 31 });
    cleanups.push(() => sim.stop());
    const proxy = startWsProxy(sim.wsUrl);
    cleanups.push(() => proxy.stop());
    const paths: string[] = [];
    proxy.refuseUpgrade = (_attempt, path) => {
      paths.push(path);
      return path === "/stream" ? 418 : undefined; // spot banned (Retry-After 120); USD-M's /public/stream let through
    };
    const subs: Subscription[] = [
      { market: "spot", symbol: "BTCUSDT", depth: 100 },
      { market: "linear", symbol: "BTCUSDT", depth: 100 },
    ];
    const config: VenueConfig = {
      venue: "binance",
      wsUrl: proxy.origin, // spot <origin>/stream, USD-M <origin>/public/stream
      restUrl: sim.restUrl,
      instrumentCachePath: join(makeTempDir("binance-connect-hold"), "i.json"),
      markets: subs.map((s) => ({ market: s.market, depth: s.depth, symbols: [s.symbol] })),
      overrides: new Map(),
    };
    const events: SentBudgetEvent[] = [];
    const ledger = workerLedger({}, (e) => events.push(e));
    const { log, lines } = captureLog();
    const adapter = new BinanceAdapter(config, subs, { log, budgetLedger: ledger, connectHoldMs: { 418: 60_000 }, reconnectBaseMs: 300, reconnectMaxMs: 600 });
    cleanups.push(() => adapter.stop());
    adapter.start(new BookMaps(await adapter.loadInstruments()));

    const refusals = () => lines.filter((l) => l.msg.includes("refused a connect")).map((l) => l.fields);
    await until(() => refusals().length >= 1 && adapter.stats().topicsLive === 1, "spot refused, the USD-M book live");
    expect(refusals()[0]).toMatchObject({ market: "spot", status: 418, holdMs: 60_000 });
    expect(adapter.topicInfo(1).state).toBe("live");

    // USD-M's socket drops: it reconnects after its backoff (≤ 600 ms), not after spot's 60 s hold.
    const linearLink = proxy.links.find((l) => l.up.url.includes("/public/stream"))!;
    proxy.closeClient(linearLink);
    await until(() => adapter.stats().reconnects >= 1, "the USD-M socket's close seen");
    await until(() => paths.filter((p) => p === "/public/stream").length >= 2 && adapter.topicInfo(1).state === "live", "USD-M reconnected and live again", 10_000);
    expect(paths.filter((p) => p === "/stream")).toHaveLength(1); // spot still held

    // The ledger: each market's connects under its own key, the hold under spot's only.
    const keysOf = (pred: (e: SentBudgetEvent) => boolean) => [...new Set(events.filter((e) => e.key.includes(":connect") && pred(e)).map((e) => e.key))].sort();
    expect(keysOf((e) => "ageMs" in e)).toEqual(["binance:connect:linear", "binance:connect:spot"]);
    expect(keysOf((e) => "holdMs" in e)).toEqual(["binance:connect:spot"]);

    // Another worker's hold relayed on USD-M's key holds USD-M's connects, not spot's (whose own hold runs on).
    const lifecycle = (adapter as unknown as { lifecycle: { connectBudgetWaitMs(c: VenueConnection): number } }).lifecycle;
    const conns = (adapter as unknown as { conns: VenueConnection[] }).conns;
    const [spot, linear] = [conns.find((c) => c.market === "spot")!, conns.find((c) => c.market === "linear")!];
    expect(lifecycle.connectBudgetWaitMs(linear)).toBe(0);
    const spotWaitMs = lifecycle.connectBudgetWaitMs(spot);
    expect(spotWaitMs).toBeGreaterThan(30_000);
    ledger.hold("binance:connect:linear", 90_000);
    expect(lifecycle.connectBudgetWaitMs(linear)).toBeGreaterThan(80_000);
    expect(lifecycle.connectBudgetWaitMs(spot)).toBeLessThanOrEqual(spotWaitMs);
  });
});

/**
 * Which venues split: a hold the ledger carries from the slot's previous worker, on the venue's key and on its spot
 * market's, reaches a connection per market as the venue's hosts are: Binance's spot only (its own host), Bybit's and
 * OKX's every market (one host each). Adapters constructed only: no socket opened.
 */
test("a carried hold: Binance's on spot's key holds spot only; Bybit's and OKX's on the venue's key hold every market", () => {
  const url = { ws_url: "ws://127.0.0.1:9", rest_url: "http://127.0.0.1:9" };
  const config = validateConfig({
    venues: {
      binance: { ...url, spot: { symbols: ["BTCUSDT"] }, linear: { symbols: ["BTCUSDT"] } },
      bybit: { ...url, spot: { symbols: ["BTCUSDT"] }, linear: { symbols: ["BTCUSDT"] } },
      okx: { ...url, spot: { symbols: ["BTC-USDT"] }, linear: { symbols: ["BTC-USDT-SWAP"] } },
    },
  });
  const held: Record<string, string[]> = {};
  for (const vc of config.venues) {
    const carried = { windowMs: 300_000, uses: [], holdMs: 60_000 };
    const ledger = workerLedger({ [`${vc.venue}:connect:spot`]: carried, ...(vc.venue === "binance" ? {} : { [`${vc.venue}:connect`]: carried }) }, () => undefined);
    const subs = vc.markets.flatMap((m) => m.symbols.map((symbol) => ({ market: m.market, symbol, depth: m.depth })));
    const adapter = venueSpec(vc.venue)!.create(vc, subs, { log: silentLogger, budgetLedger: ledger }) as unknown as {
      lifecycle: { connectBudgetWaitMs(c: VenueConnection): number };
      conns: VenueConnection[];
    };
    held[vc.venue] = adapter.conns.filter((c) => adapter.lifecycle.connectBudgetWaitMs(c) > 0).map((c) => c.market).sort();
  }
  expect(held).toEqual({ binance: ["spot"], bybit: ["linear", "spot"], okx: ["linear", "spot"] });
});
