/**
 * One schedule owns a venue's instrument REST (src/venues/common/instrument-watch.ts): a market with both a symbol
 * left out at start and a periodic reload due at the same time is asked once, and that one answer both reloads the
 * resolved symbols and joins the late one. Before, the late retrier and the reloader each asked (two exchangeInfo
 * requests, each spending the market's REST weight). A re-check asked for by a number that did not fit carries the
 * market's pending symbols the same way (before: a query of its own per topic, beside the late retrier's). Real
 * Binance and Bybit adapters and simulators on 127.0.0.1; requests are counted at the adapter's fetch or the simulator.
 */
import { join } from "node:path";
import { writeFileSync } from "node:fs";
import { afterEach, describe, expect, test } from "vitest";
import { silentLogger } from "../../../src/core/log.ts";
import type { Instrument } from "../../../src/core/types.ts";
import type { VenueConfig } from "../../../src/config/types.ts";
import { startBinanceSimulator } from "../../../src/sim/binance-sim.ts";
import { startBybitSimulator } from "../../../src/sim/bybit-sim.ts";
import { BinanceAdapter } from "../../../src/venues/binance/index.ts";
import { createBybitAdapter } from "../../../src/venues/bybit/index.ts";
import type { BookSink, Subscription } from "../../../src/venues/venue.ts";
import { waitFor } from "../../e2e/harness.ts";
import { makeTempDir } from "../../support/temp-dirs.ts";
import { RecordingSink, subsOf, venueConfig } from "../bybit/helpers.ts";

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()!();
});

const RELOAD_MS = 300_000;

describe("one schedule for a market's instrument REST", () => {
  test("a late symbol and a periodic reload due together: one exchangeInfo request serves both", async () => {
    const sim = await startBinanceSimulator({ markets: [{ market: "linear", symbols: ["BTCUSDT", "ETHUSDT"] }], seed: 23 });
    const subs: Subscription[] = ["BTCUSDT", "ETHUSDT"].map((symbol) => ({ market: "linear", symbol, depth: 100 }));
    // BTCUSDT is in the disk cache, ETHUSDT is not: with exchangeInfo down at start, ETHUSDT is left out.
    const cachePath = join(makeTempDir("one-schedule"), "i.json");
    writeFileSync(cachePath, JSON.stringify({ version: 1, venue: "binance", instruments: { "linear:BTCUSDT": { tickSize: "0.1", lotSize: "0.001" } } }));
    const config: VenueConfig = {
      ...{ venue: "binance", wsUrl: sim.wsUrl, restUrl: sim.restUrl, instrumentCachePath: cachePath },
      ...{ markets: [{ market: "linear", depth: 100, symbols: ["BTCUSDT", "ETHUSDT"] }], overrides: new Map(), instrumentReloadMs: RELOAD_MS },
    };
    const clock = { ms: Date.now() };
    const queries: number[] = [];
    const counting: typeof fetch = Object.assign((input: string | URL | Request, init?: RequestInit) => {
      if (String(input instanceof Request ? input.url : input).includes("/exchangeInfo")) queries.push(clock.ms);
      return fetch(input, init);
    }, { preconnect: fetch.preconnect });
    const adapter = new BinanceAdapter(config, subs, {
      ...{ log: silentLogger, fetch: counting, now: () => clock.ms, random: () => 1, instrumentCheckMs: 5, lateCheckMs: 5 },
      // The late retrier's first wait (the longest of its first step) ends when the reload is due.
      ...{ lateRetryBaseMs: RELOAD_MS, lateRetryMaxMs: 4 * RELOAD_MS },
    });
    stops.push(async () => {
      await adapter.stop();
      await sim.stop();
    });
    sim.setInstrumentsAvailable(false);
    const loaded = await adapter.loadInstruments();
    expect(loaded.map((i) => i?.symbol)).toEqual(["BTCUSDT", undefined]);
    sim.setInstrumentsAvailable(true);
    const resolved: Instrument[] = [];
    const sink: BookSink = { onBookUpdate() {}, onBookInvalid() {}, onInstrumentChanged() {}, onInstrumentResolved: (_i, inst) => void resolved.push(inst) };
    adapter.start(sink);
    const t0 = clock.ms;
    expect(adapter.unresolvedInstruments().map((u) => [u.symbol, u.kind, u.nextAttemptMs - t0])).toEqual([["ETHUSDT", "rest_unreachable", RELOAD_MS]]);
    const atStart = queries.length;
    clock.ms = t0 + RELOAD_MS; // both deadlines have come
    await waitFor(() => adapter.stats().instrumentReloads === 1 && adapter.stats().instrumentsResolvedLate === 1, "the reload done and ETHUSDT joined", 15_000);
    expect(resolved.map((i) => i.symbol)).toEqual(["ETHUSDT"]);
    expect(queries.slice(atStart)).toEqual([t0 + RELOAD_MS]);
    expect(adapter.unresolvedInstruments()).toEqual([]);
  });
});

describe("a re-check carries the market's late symbols", { timeout: 30_000 }, () => {
  test("Bybit: a tick change (u = 1) re-checks the market in one request, whose answer also joins a symbol listed since start", async () => {
    const markets = [{ market: "linear" as const, depth: 50, symbols: ["XRPUSDT", "BTCUSDT", "SOLUSDT"] }];
    const sim = await startBybitSimulator({ markets, unlisted: ["linear:SOLUSDT"], seed: 8 });
    const adapter = createBybitAdapter(venueConfig(sim, markets), subsOf(markets), { log: silentLogger, pingIntervalMs: 200, pongTimeoutMs: 5_000 });
    stops.push(async () => {
      await adapter.stop();
      await sim.stop();
    });
    const loaded = await adapter.loadInstruments();
    expect(loaded.map((i) => i === undefined)).toEqual([false, false, true]);
    const sink = new (class extends RecordingSink {
      onInstrumentResolved(index: number, instrument: Instrument): void {
        this.instruments[index] = instrument;
      }
    })([loaded[0]!, loaded[1]!]);
    adapter.start(sink);
    await waitFor(() => adapter.stats().topicsLive === 2, "XRPUSDT and BTCUSDT live");
    // Listed now; the late retrier would ask in 5 min (its listing cadence), long after this test.
    sim.setListed("linear", "SOLUSDT", true);
    const before = sim.stats.restRequests;
    sim.changeInstrument("linear", "XRPUSDT", { tickSize: "0.00001" });
    await waitFor(() => adapter.stats().instrumentChanges === 1 && adapter.stats().instrumentsResolvedLate === 1, "the new tick applied and SOLUSDT joined");
    expect(sim.stats.restRequests - before).toBe(1);
    expect(sink.changed.map((c) => [c.index, c.instrument.tickSize])).toEqual([[0, "0.00001"]]);
    await waitFor(() => adapter.stats().topicsLive === 3, "all three books live");
    sim.step(5);
    await waitFor(() => [0, 1, 2].every((i) => sink.matches(sim, i)), "every book equals the simulator's");
  });
});
