/**
 * A Binance symbol that stops trading while the feeder runs (status BREAK: a halt or a delisting): its stream goes
 * silent and REST depth answers -1121. Before, the book went STALE (stale_feed) and was resynced every stale period
 * for as long as the halt lasted, a warning each time, and nothing said why; the hourly exchangeInfo reload found the
 * symbol missing and left the book alone. Now the stale book asks for its market's exchangeInfo at once: not TRADING,
 * the book is HALTED / instrument_closed, unsubscribed, logged once, and asked for every listing period; TRADING
 * again, it is subscribed, bridged to a REST snapshot and LIVE. Real simulator on 127.0.0.1.
 */
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import type { VenueConfig } from "../../../src/config/types.ts";
import { silentLogger } from "../../../src/core/log.ts";
import { BookState, StatusReason } from "../../../src/core/types.ts";
import { startBinanceSimulator } from "../../../src/sim/binance-sim.ts";
import { BinanceAdapter } from "../../../src/venues/binance/index.ts";
import { parseExchangeInfo } from "../../../src/venues/binance/instruments.ts";
import type { Subscription } from "../../../src/venues/venue.ts";
import { waitFor } from "../../e2e/harness.ts";
import { makeTempDir } from "../../support/temp-dirs.ts";
import { haltRecorder } from "../halt-recorder.ts";
import { CLOSED, closeThenReopen, lastStatusSink, recordedLog, stepSimUntil } from "../common/instrument-closed-scenario.ts";
import { recordingTaps, replayer } from "../common/record-replay.ts";
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

/**
 * A USD-M dated contract (BTCUSDT_260327) reaching its `deliveryDate`. Before, exchangeInfo's deliveryDate was not
 * read: the book stayed LIVE (its stream may still send) until the listing dropped it, found by a stale book's
 * question or the hourly reload. Now it is the contract's expiry, as Deribit's, Bybit's and OKX's are: HALTED /
 * instrument_closed at that moment; a perpetual's placeholder deliveryDate (2100-12-25) is no expiry.
 */
describe("Binance USD-M: a dated contract's delivery", () => {
  test("exchangeInfo's deliveryDate is the expiry; a perpetual's far-future placeholder (and spot's none) is none", () => {
    const filters = [{ filterType: "PRICE_FILTER", tickSize: "0.1" }, { filterType: "LOT_SIZE", stepSize: "0.001" }];
    const info = parseExchangeInfo({
      symbols: [
        { symbol: "BTCUSDT", status: "TRADING", contractType: "PERPETUAL", deliveryDate: 4_133_404_800_000, filters },
        { symbol: "BTCUSDT_260327", status: "TRADING", contractType: "CURRENT_QUARTER", deliveryDate: 1_774_598_400_000, filters },
        { symbol: "ETHUSDT", status: "TRADING", filters }, // spot: no deliveryDate
        { symbol: "XRPUSDT", status: "TRADING", deliveryDate: "1774598400000", filters }, // not a number: none
      ],
    });
    expect(Object.fromEntries([...info.specs].map(([k, v]) => [k, v.expiresMs]))).toEqual({ BTCUSDT: undefined, BTCUSDT_260327: 1_774_598_400_000, ETHUSDT: undefined, XRPUSDT: undefined });
  });

  test("HALTED / instrument_closed at its deliveryDate while the stream still sends; the perpetual untouched", { timeout: 60_000 }, async () => {
    const symbols = ["BTCUSDT_260327", "BTCUSDT"];
    const sim = await startBinanceSimulator({ markets: [{ market: "linear", symbols }], seed: 7 });
    const deliveryMs = Date.now() + 1_500;
    sim.setDelivery("linear", symbols[0]!, deliveryMs);
    const subs: Subscription[] = symbols.map((symbol) => ({ market: "linear", symbol, depth: 100 }));
    const config: VenueConfig = {
      ...{ venue: "binance", wsUrl: sim.wsUrl, restUrl: sim.restUrl, instrumentCachePath: join(makeTempDir("binance-delivery"), "i.json") },
      ...{ markets: [{ market: "linear", depth: 100, symbols }], overrides: new Map(), instrumentReloadMs: 0 },
    };
    const adapter = new BinanceAdapter(config, subs, { log: silentLogger, instrumentCheckMs: 10, listingRetryMs: 300, lateCheckMs: 20 });
    stops.push(async () => {
      await adapter.stop();
      await sim.stop();
    });
    const { sink, halted } = haltRecorder(2);
    await adapter.loadInstruments();
    adapter.start(sink);
    // (A machine slow enough to bring the books up only after the delivery still sees the contract closed then.)
    await waitFor(() => {
      sim.step(1);
      return adapter.stats().topicsLive === 2 || halted.some((h) => h.index === 0);
    }, "both books live", 20_000);
    await waitFor(() => {
      sim.step(1);
      return halted.some((h) => h.index === 0) && adapter.stats().topicsLive === 1;
    }, "the delivered contract halted", 20_000);
    const h = halted.find((x) => x.index === 0)!;
    expect(h).toMatchObject({ state: BookState.HALTED, reason: StatusReason.INSTRUMENT_CLOSED });
    expect(h.atMs).toBeGreaterThanOrEqual(deliveryMs);
    expect(halted.filter((x) => x.index === 1)).toEqual([]);
    expect(adapter.stats()).toMatchObject({ topicsLive: 1, instrumentsClosed: 1 });
  });

  /**
   * Record → replay: the live run recorded as `feeder record` records it (frames, REST snapshots, socket events),
   * replayed through an adapter of the same config loaded before the delivery: the book events of both, each noted
   * with the records written (live) or fed (replay) by then, are equal. Replay watches no expiry and asks no listing:
   * the capture's ws:closed halts the contract, and the diffs its stream still sends after are not its book's.
   * Without it the delivered contract stayed LIVE in replay, moving on those diffs, where live had it halted.
   */
  test("record → replay: the delivered contract HALTED / instrument_closed at live's record; the perpetual's events equal", { timeout: 60_000 }, async () => {
    const symbols = ["BTCUSDT_260327", "BTCUSDT"];
    const sim = await startBinanceSimulator({ markets: [{ market: "linear", symbols }], seed: 8 });
    sim.setDelivery("linear", symbols[0]!, Date.now() + 1_500);
    const subs: Subscription[] = symbols.map((symbol) => ({ market: "linear", symbol, depth: 100 }));
    const config: VenueConfig = {
      ...{ venue: "binance", wsUrl: sim.wsUrl, restUrl: sim.restUrl, instrumentCachePath: join(makeTempDir("binance-delivery-replay"), "i.json") },
      ...{ markets: [{ market: "linear", depth: 100, symbols }], overrides: new Map(), instrumentReloadMs: 0 },
    };
    const replay = new BinanceAdapter(config, subs, { log: silentLogger, recheckInstruments: false });
    stops.push(() => replay.stop());
    await replay.loadInstruments();
    const rec = recordingTaps();
    const live = new BinanceAdapter(config, subs, { log: silentLogger, instrumentCheckMs: 10, listingRetryMs: 300, lateCheckMs: 20, ...rec.taps });
    stops.push(async () => {
      await live.stop();
      await sim.stop();
    });
    await live.loadInstruments();
    const replayed = replayer(replay, rec.records);
    live.start(rec.sink);
    const step = (cond: () => boolean, what: string) => stepSimUntil(sim, cond, what, 20_000);
    await step(() => rec.events.some((e) => e.endsWith(": 0 halted/instrument_closed")), "the delivered contract halted");
    const perpetual = () => rec.events.filter((e) => e.includes(": 1 ")).length;
    const before = perpetual();
    await step(() => perpetual() >= before + 2, "the perpetual's diffs");
    await live.stop();
    expect(rec.events.filter((e) => e.endsWith("instrument_closed"))).toHaveLength(1);
    expect(replayed.feed()).toEqual(rec.events);
    expect([0, 1].map((i) => replay.topicInfo(i).state)).toEqual(["halted", "live"]);
  });
});
