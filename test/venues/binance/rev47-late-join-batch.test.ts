/**
 * Symbols left out at start (not listed as trading then) that the venue lists together while the feeder runs, their
 * connection already open for another book (s-rev47). Each joined on its own (common/late-instruments.ts joinLate →
 * ConnectionLifecycle.activate) and each sent its own SUBSCRIBE: a new batch of listings (an options expiry
 * configured ahead, a break at start) spent a request per book, against Binance's 5 messages a second per connection
 * and OKX's 480 an hour. s-rev42 batched the reopening of closed symbols, not this. Now the subscribes that
 * activations of one turn need go out as one request per connection. Real simulator on 127.0.0.1.
 */
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { startBinanceSimulator } from "../../../src/sim/binance-sim.ts";
import { BinanceAdapter } from "../../../src/venues/binance/index.ts";
import { lastStatusSink, recordedLog, stepSimUntil } from "../common/instrument-closed-scenario.ts";
import { spotDepth100 } from "./spot-config.ts";

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()!();
});

describe("binance: symbols that join late together", { timeout: 40_000 }, () => {
  test("three listed in one answer, their connection open: one SUBSCRIBE request, not one each", async () => {
    const late = ["BTCUSDT", "BNBUSDT", "SOLUSDT"];
    const symbols = ["ETHUSDT", ...late]; // ETHUSDT trades from the start: the connection is open
    const sim = await startBinanceSimulator({ markets: [{ market: "spot", symbols }], seed: 47 });
    for (const s of late) sim.setTrading("spot", s, false); // not listed as trading at start: left out
    const { subs, config } = spotDepth100(sim, symbols, "binance-late-batch");
    const adapter = new BinanceAdapter(config, subs, { log: recordedLog().log, allowNoInstruments: true, listingRetryMs: 300, lateCheckMs: 20 });
    stops.push(async () => {
      await adapter.stop();
      await sim.stop();
    });
    const sink = { ...lastStatusSink().sink, onInstrumentResolved: () => {} }; // takes books added while running
    await adapter.loadInstruments();
    adapter.start(sink);
    const step = (cond: () => boolean, what: string) => stepSimUntil(sim, cond, what, 15_000);
    await step(() => adapter.stats().topicsLive === 1, "ETHUSDT live");
    expect(adapter.stats().instrumentsUnresolved).toBe(3);
    const subscribes = sim.stats.subscribes;
    for (const s of late) sim.setTrading("spot", s, true);
    await step(() => adapter.stats().topicsLive === 4, "all four live");
    expect(adapter.stats().instrumentsResolvedLate).toBe(3);
    expect(sim.stats.subscribes - subscribes).toBe(1); // before: 3
  });
});
