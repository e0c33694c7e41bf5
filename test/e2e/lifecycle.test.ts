/**
 * Containment: an exception while applying one symbol's message marks that book invalid and resyncs it, and
 * the other books go on; a venue that disappears entirely never stops the feeder, which reconnects when the
 * venue is back; a symbol the venue does not list is named and left out, and the others start.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { Feeder } from "../../src/app/feeder.ts";
import type { BookBuilder } from "../../src/book/book-builder.ts";
import { silentLogger, type Logger } from "../../src/core/log.ts";
import { BookState, StatusReason } from "../../src/core/types.ts";
import { startBybitSimulator, type BybitSim } from "../../src/sim/bybit-sim.ts";
import { feederConfig, levelsOfSim, levelsOfView, sameLevels, uniqueDestination, waitFor, type Markets } from "./harness.ts";

const MARKETS: Markets = [{ market: "linear", depth: 50, symbols: ["BTCUSDT", "ETHUSDT", "SOLUSDT"] }];
let sim: BybitSim;
let feeder: Feeder;
let port: number;

function builder(symbol: string): BookBuilder {
  return feeder.books().find((b) => b.instrument.symbol === symbol) as BookBuilder;
}

function equalsSim(symbol: string): boolean {
  const b = builder(symbol);
  const s = sim.book("linear", symbol);
  return b.state === BookState.LIVE && b.venueSeq === s.u && sameLevels(levelsOfView(b), levelsOfSim(s, b.instrument.priceExp, b.instrument.qtyExp));
}

beforeAll(async () => {
  sim = await startBybitSimulator({ markets: [{ market: "linear", symbols: MARKETS[0]!.symbols }], seed: 9, messagesPerSecond: 0 });
  port = Number(new URL(sim.restUrl).port);
  feeder = new Feeder({
    config: feederConfig({ sim, markets: MARKETS, ...uniqueDestination(7) }),
    log: silentLogger,
    adapterOptions: { pingIntervalMs: 100, pongTimeoutMs: 300, reconnectBaseMs: 20, reconnectMaxMs: 100 },
  });
  await feeder.start();
  await waitFor(() => MARKETS[0]!.symbols.every(equalsSim), "live books");
}, 30_000);

afterAll(async () => {
  await feeder?.stop();
  await sim?.stop();
});

describe("lifecycle", { timeout: 30_000 }, () => {
  test("an exception applying one symbol is contained: that book resyncs, the others go on", async () => {
    const eth = builder("ETHUSDT");
    (eth as unknown as { applyDelta: () => never }).applyDelta = () => {
      throw new Error("injected failure");
    };
    const resyncsBefore = feeder.stats().venues.bybit!.resyncs!;
    const reasons: number[] = [];
    const markInvalid = eth.markInvalid.bind(eth);
    eth.markInvalid = (state, reason) => (reasons.push(reason), markInvalid(state, reason));
    sim.step(3);
    await waitFor(() => feeder.stats().applyErrors > 0, "the failure contained");
    expect(reasons).toContain(StatusReason.PARSE_ERROR); // published as resyncing, then resynced alone
    expect(feeder.stats().venues.bybit!.resyncs).toBeGreaterThan(resyncsBefore);
    await waitFor(() => equalsSim("BTCUSDT") && equalsSim("SOLUSDT"), "the other books unaffected");
    delete (eth as unknown as { applyDelta?: unknown }).applyDelta; // the prototype method again
    await waitFor(() => MARKETS[0]!.symbols.every(equalsSim), "ETHUSDT recovered from a fresh snapshot", 15_000, () => sim.step(1));
  });

  test("a symbol that cannot be resolved is named and left out; the feeder starts the others", async () => {
    const markets: Markets = [{ market: "linear", depth: 50, symbols: ["NOPEUSDT", "BTCUSDT"] }];
    const errors: string[] = [];
    const log: Logger = { ...silentLogger, error: (msg) => void errors.push(msg), child: () => log };
    const errorsSentBefore = sim.stats.errorsSent;
    const partial = new Feeder({ config: feederConfig({ sim, markets, ...uniqueDestination(8) }), log });
    try {
      await partial.start();
      expect(errors.join("\n")).toMatch(/cannot resolve instruments for linear:NOPEUSDT \(not listed.*the others start/);
      expect(partial.books().map((b) => b.instrument.symbol)).toEqual(["BTCUSDT"]);
      await waitFor(() => partial.books()[0]!.state === BookState.LIVE, "BTCUSDT live");
      expect(partial.stats().venues.bybit!.instrumentsUnresolved).toBe(1);
      expect(sim.stats.errorsSent).toBe(errorsSentBefore); // NOPEUSDT was never subscribed
    } finally {
      await partial.stop();
    }
  });

  test("workers split the venue's connection-rate budget: a Feeder with a 1/4 share allows 100 of 400 connects", async () => {
    const quarter = new Feeder({ config: feederConfig({ sim, markets: MARKETS, ...uniqueDestination(9) }), log: silentLogger, connectBudgetShare: 1 / 4 });
    await quarter.resolveInstruments(); // builds the adapters; nothing connects
    expect(quarter.stats().venues.bybit!.connectBudget).toBe(100);
    expect(feeder.stats().venues.bybit!.connectBudget).toBe(400);
    await quarter.stop();
  });

  test("the venue going away never stops the feeder; it reconnects when the venue is back", async () => {
    await sim.stop();
    await waitFor(() => feeder.books().every((b) => b.state !== BookState.LIVE), "books invalid while the venue is gone");
    expect(feeder.books().every((b) => b.reason === StatusReason.DISCONNECTED)).toBe(true);
    sim = await startBybitSimulator({ markets: [{ market: "linear", symbols: MARKETS[0]!.symbols }], seed: 10, messagesPerSecond: 0, port });
    await waitFor(() => MARKETS[0]!.symbols.every(equalsSim), "books live again after reconnecting", 20_000, () => sim.step(1));
    expect(feeder.stats().venues.bybit!.reconnects).toBeGreaterThan(0);
  });
});
