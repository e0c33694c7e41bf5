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
import { createLogger } from "../../../src/core/log.ts";
import { BookState, StatusReason } from "../../../src/core/types.ts";
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

describe("Binance: a symbol that stops trading", () => {
  test("BREAK: HALTED / instrument_closed once its stream goes silent, unsubscribed, logged once; TRADING again: LIVE", async () => {
    const symbols = ["BTCUSDT", "ETHUSDT"];
    const sim = await startBinanceSimulator({ markets: [{ market: "spot", symbols }], seed: 5 });
    const subs: Subscription[] = symbols.map((symbol) => ({ market: "spot", symbol, depth: 100 }));
    const config: VenueConfig = {
      venue: "binance",
      wsUrl: sim.wsUrl,
      restUrl: sim.restUrl,
      instrumentCachePath: join(makeTempDir("binance-closed"), "i.json"),
      markets: [{ market: "spot", depth: 100, symbols }],
      overrides: new Map(),
      instrumentReloadMs: 0, // no periodic reload: only the stale book's question finds the halt
    };
    const lines: string[] = [];
    const log = createLogger({ level: "info", format: "json", write: (l) => void lines.push(l) });
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
    const last: { state: BookState; reason: StatusReason }[] = [];
    const sink: BookSink = { onBookUpdate: () => {}, onBookInvalid: (i, state, reason) => void (last[i] = { state, reason }), onInstrumentChanged: () => {} };
    await adapter.loadInstruments();
    adapter.start(sink);
    const live = () => adapter.stats().topicsLive;
    await until(() => {
      sim.step(1);
      return live() === 2;
    }, "both books live");

    sim.setTrading("spot", "BTCUSDT", false);
    // ETHUSDT keeps trading (its stream never goes stale); BTCUSDT's is silent from now on.
    await until(() => {
      sim.step(1);
      return last[0]?.state === BookState.HALTED;
    }, "the halted symbol's book HALTED");
    expect(last[0]).toEqual({ state: BookState.HALTED, reason: StatusReason.INSTRUMENT_CLOSED });
    expect(live()).toBe(1);
    expect(adapter.stats()).toMatchObject({ instrumentsClosed: 1, instrumentClosures: 1 });
    // Several stale periods later: no stale resync, no new warning, still halted.
    const staleResyncs = adapter.stats().staleResyncs;
    const asked = infoRequests;
    await until(() => {
      sim.step(1);
      return infoRequests >= asked + 3; // the listing checks (every 300 ms)
    }, "a few listing checks");
    expect(adapter.stats().staleResyncs).toBe(staleResyncs);
    expect(last[0]!.state).toBe(BookState.HALTED);
    expect(lines.filter((l) => l.includes("no longer listed as trading"))).toHaveLength(1);

    sim.setTrading("spot", "BTCUSDT", true);
    await until(() => {
      sim.step(1);
      return live() === 2;
    }, "live again once TRADING");
    expect(adapter.stats()).toMatchObject({ instrumentsClosed: 0, instrumentReopens: 1 });
  });
});
