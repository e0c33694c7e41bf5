/**
 * Binance's instruments reloaded while running (src/venues/binance/instrument-watch.ts, the common
 * InstrumentReloader): a tick or step changed on the venue after start is picked up by the next periodic reload of
 * the market's exchangeInfo (venues.binance.instrument_reload_ms), even one no price would ever reveal (a coarser
 * tick), and the book comes back at the new exponents; 0 = never reload. Real simulator on 127.0.0.1.
 */
import { join } from "node:path";
import { readFileSync } from "node:fs";
import { afterEach, describe, expect, test } from "vitest";
import { silentLogger } from "../../../src/core/log.ts";
import type { Instrument } from "../../../src/core/types.ts";
import type { VenueConfig } from "../../../src/config/types.ts";
import { startBinanceSimulator } from "../../../src/sim/binance-sim.ts";
import { BinanceAdapter } from "../../../src/venues/binance/index.ts";
import type { BookSink, Subscription } from "../../../src/venues/venue.ts";
import { waitFor } from "../../e2e/harness.ts";
import { makeTempDir } from "../../support/temp-dirs.ts";

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()!();
});

const until = (cond: () => boolean, what: string) => waitFor(cond, what, 15_000);

async function setup(instrumentReloadMs: number) {
  const sim = await startBinanceSimulator({ markets: [{ market: "linear", symbols: ["BTCUSDT", "ETHUSDT"] }], seed: 21 });
  const subs: Subscription[] = ["BTCUSDT", "ETHUSDT"].map((symbol) => ({ market: "linear", symbol, depth: 100 }));
  const config: VenueConfig = {
    venue: "binance",
    wsUrl: sim.wsUrl,
    restUrl: sim.restUrl,
    instrumentCachePath: join(makeTempDir("binance-reload"), "i.json"),
    markets: [{ market: "linear", depth: 100, symbols: ["BTCUSDT", "ETHUSDT"] }],
    overrides: new Map(),
    instrumentReloadMs,
  };
  const adapter = new BinanceAdapter(config, subs, { log: silentLogger, instrumentCheckMs: 10 });
  stops.push(async () => {
    await adapter.stop();
    await sim.stop();
  });
  const changed: Instrument[] = [];
  const sink: BookSink = { onBookUpdate: () => {}, onBookInvalid: () => {}, onInstrumentChanged: (_i, inst) => void changed.push(inst) };
  const loaded = await adapter.loadInstruments();
  adapter.start(sink);
  await until(() => {
    sim.step(1);
    return adapter.stats().topicsLive === 2;
  }, "both books live");
  return { sim, adapter, config, loaded, changed };
}

describe("Binance instrument reload", () => {
  test("a tick changed after start, coarser or finer, is picked up by the periodic reload; the book returns at the new exponents", async () => {
    const { sim, adapter, config, loaded, changed } = await setup(200);
    const before = loaded[0]!;
    // A coarser tick: every price still fits the old exponent, so no misfit would ever ask; only a reload finds it.
    const coarser = (10 ** -(before.priceExp - 1)).toFixed(Math.max(0, before.priceExp - 1));
    sim.setListing("linear", "BTCUSDT", { tickSize: coarser });
    await until(() => changed.length === 1, "the coarser tick picked up");
    expect(changed[0]).toMatchObject({ symbol: "BTCUSDT", tickSize: coarser, priceExp: before.priceExp - 1 });
    // Then a finer one: the book comes back LIVE at the finer exponent.
    const finer = (10 ** -(before.priceExp + 1)).toFixed(before.priceExp + 1);
    sim.setListing("linear", "BTCUSDT", { tickSize: finer });
    // The finer tick's cache write can finish after the book is live again (a busy disk), and a reload count is no
    // sign of it (an earlier reload that found no change counts too): wait for the write itself.
    const cachedTick = () => {
      try {
        return (JSON.parse(readFileSync(config.instrumentCachePath, "utf8")) as { instruments: Record<string, { tickSize: string }> }).instruments["linear:BTCUSDT"]?.tickSize;
      } catch {
        return undefined; // not written yet, or caught mid-write
      }
    };
    await until(() => {
      sim.step(1);
      return changed.length === 2 && adapter.stats().topicsLive === 2 && cachedTick() === finer && adapter.stats().instrumentReloads! >= 2;
    }, "the finer tick picked up, written to the cache and the book live again");
    expect(changed[1]).toMatchObject({ symbol: "BTCUSDT", tickSize: finer, priceExp: before.priceExp + 1 });
    expect(changed.every((i) => i.symbol === "BTCUSDT")).toBe(true); // ETHUSDT did not change
    expect(adapter.stats().instrumentChanges).toBe(2);
    expect(adapter.stats().instrumentReloads).toBeGreaterThanOrEqual(2);
    expect(adapter.metrics().find((m) => m.name === "instrument_reloads_total")!.value).toBeGreaterThanOrEqual(2);
    expect(cachedTick()).toBe(finer);
  });

  test("instrument_reload_ms = 0: no periodic reload, the coarser tick stays unnoticed", async () => {
    const { sim, adapter, loaded, changed } = await setup(0);
    sim.setListing("linear", "BTCUSDT", { tickSize: (10 ** -(loaded[0]!.priceExp - 1)).toFixed(Math.max(0, loaded[0]!.priceExp - 1)) });
    // Many steps later, with every book live throughout: nothing asked exchangeInfo again.
    for (let i = 0; i < 20; i++) {
      sim.step(1);
      await until(() => adapter.stats().topicsLive === 2, `live after step ${i}`);
    }
    expect(changed).toEqual([]);
    expect(adapter.stats().instrumentReloads).toBe(0);
  });
});
