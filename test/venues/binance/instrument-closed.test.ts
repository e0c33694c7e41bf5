/**
 * A Binance symbol that stops trading while the feeder runs (status BREAK: a halt or a delisting): its stream goes
 * silent and REST depth answers -1121. Before, the book went STALE (stale_feed) and was resynced every stale period
 * for as long as the halt lasted, a warning each time, and nothing said why; the hourly exchangeInfo reload found the
 * symbol missing and left the book alone. Now the stale book asks for its market's exchangeInfo at once: not TRADING,
 * the book is HALTED / instrument_closed, unsubscribed, logged once, and asked for every listing period; TRADING
 * again, it is subscribed, bridged to a REST snapshot and LIVE. Real simulator on 127.0.0.1.
 */
import { afterEach, describe, expect, test } from "vitest";
import { BookState } from "../../../src/core/types.ts";
import { startBinanceSimulator } from "../../../src/sim/binance-sim.ts";
import { BinanceAdapter } from "../../../src/venues/binance/index.ts";
import { CLOSED, closeThenReopen, lastStatusSink, recordedLog, stepSimUntil } from "../common/instrument-closed-scenario.ts";
import { spotDepth100 } from "./spot-config.ts";

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()!();
});

describe("Binance: a symbol that stops trading", () => {
  test("BREAK: HALTED / instrument_closed once its stream goes silent, unsubscribed, logged once; TRADING again: LIVE", async () => {
    const symbols = ["BTCUSDT", "ETHUSDT"];
    const sim = await startBinanceSimulator({ markets: [{ market: "spot", symbols }], seed: 5 });
    // No periodic instrument reload (spotDepth100): only the stale book's question finds the halt.
    const { subs, config } = spotDepth100(sim, symbols, "binance-closed");
    const { log, lines } = recordedLog();
    let infoRequests = 0;
    const counting = ((input: string | URL | Request, init?: RequestInit) => {
      if (String(input).includes("/exchangeInfo")) infoRequests++;
      return fetch(input, init);
    }) as typeof fetch;
    const adapter = new BinanceAdapter(config, subs, { log, fetch: counting, instrumentCheckMs: 10, staleAfterMs: () => 400, housekeepingMs: 50, listingRetryMs: 300, lateCheckMs: 20 });
    stops.push(async () => {
      await adapter.stop();
      await sim.stop();
    });
    const { sink, last } = lastStatusSink();
    await adapter.loadInstruments();
    adapter.start(sink);
    // ETHUSDT keeps trading (its stream never goes stale); BTCUSDT's is silent once closed.
    await closeThenReopen({
      adapter,
      sim,
      lines,
      waitMs: 15_000,
      close: () => sim.setTrading("spot", "BTCUSDT", false),
      reopen: () => sim.setTrading("spot", "BTCUSDT", true),
      halted: () => last[0]?.state === BookState.HALTED,
      haltedWhat: "the halted symbol's book HALTED",
      afterHalt: () => {
        expect(last[0]).toEqual(CLOSED);
        expect(adapter.stats().topicsLive).toBe(1);
        expect(adapter.stats()).toMatchObject({ instrumentsClosed: 1, instrumentClosures: 1 });
      },
      listingChecks: () => infoRequests, // the listing checks (every 300 ms)
      afterChecks: () => expect(last[0]!.state).toBe(BookState.HALTED),
      reopenedWhat: "live again once TRADING",
    });
  });

  test("a break of several symbols on one connection: closed together, reopened with one SUBSCRIBE request, not one each", async () => {
    const halted = ["BTCUSDT", "BNBUSDT", "SOLUSDT"];
    const symbols = [...halted, "ETHUSDT"]; // ETHUSDT keeps trading: the connection stays open and busy
    const sim = await startBinanceSimulator({ markets: [{ market: "spot", symbols }], seed: 6 });
    const { subs, config } = spotDepth100(sim, symbols, "binance-closed");
    const adapter = new BinanceAdapter(config, subs, { log: recordedLog().log, instrumentCheckMs: 10, staleAfterMs: () => 400, housekeepingMs: 50, listingRetryMs: 300, lateCheckMs: 20 });
    stops.push(async () => {
      await adapter.stop();
      await sim.stop();
    });
    const { sink, last } = lastStatusSink();
    await adapter.loadInstruments();
    adapter.start(sink);
    const step = (cond: () => boolean, what: string) => stepSimUntil(sim, cond, what, 15_000);
    await step(() => adapter.stats().topicsLive === 4, "all four live");
    for (const s of halted) sim.setTrading("spot", s, false);
    await step(() => [0, 1, 2].every((i) => last[i]?.state === BookState.HALTED), "the three halted");
    expect(adapter.stats()).toMatchObject({ instrumentsClosed: 3, topicsLive: 1 });
    const subscribes = sim.stats.subscribes;
    for (const s of halted) sim.setTrading("spot", s, true);
    await step(() => adapter.stats().topicsLive === 4, "all four live again");
    // One request for the three (Binance takes 5 messages a second per connection; OKX counts 480 an hour).
    expect(sim.stats.subscribes - subscribes).toBe(1);
    expect(adapter.stats()).toMatchObject({ instrumentsClosed: 0, instrumentReopens: 3 });
  });
});
