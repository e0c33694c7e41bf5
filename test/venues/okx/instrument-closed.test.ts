/**
 * An OKX instId whose `state` leaves live while the feeder runs (suspend; expired at delivery): it goes silent and
 * the instruments listing no longer names it live. Before, the book went STALE (stale_feed) and was resubscribed
 * every stale period until the hourly reload, which found it missing and left it alone: STALE for good, a warning
 * and a subscribe request (out of the hourly request budget) every period. Now the stale book asks for its market's
 * listing: not live, the book is HALTED / instrument_closed, unsubscribed, logged once; live again, it is
 * subscribed and LIVE on its snapshot. Real simulator on 127.0.0.1.
 */
import { afterEach, describe, expect, test } from "vitest";
import { createLogger } from "../../../src/core/log.ts";
import { BookState, StatusReason } from "../../../src/core/types.ts";
import { startOkxSimulator } from "../../../src/sim/okx-sim.ts";
import { OkxAdapter } from "../../../src/venues/okx/index.ts";
import type { BookSink, Subscription } from "../../../src/venues/venue.ts";
import { okxConfig, until } from "./helpers.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

const W = 20_000;

describe("okx: an instId that stops trading", { timeout: 90_000 }, () => {
  test("suspend: HALTED / instrument_closed once silent, unsubscribed, logged once; live again: LIVE", async () => {
    const symbols = ["BTC-USDT", "ETH-USDT"];
    const subs: Subscription[] = symbols.map((symbol) => ({ market: "spot", symbol, depth: 400 }));
    const sim = await startOkxSimulator({ markets: [{ market: "spot", symbols }], seed: 12 });
    const lines: string[] = [];
    const log = createLogger({ level: "info", format: "json", write: (l) => void lines.push(l) });
    const adapter = new OkxAdapter(okxConfig(sim, subs), subs, { log, staleAfterMs: () => 400, housekeepingMs: 50, instrumentCheckMs: 10, listingRetryMs: 300, lateCheckMs: 20 });
    cleanups.push(async () => {
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
    }, "both books live", W);

    sim.setState("BTC-USDT", "suspend");
    await until(() => {
      sim.step(1);
      return adapter.topicInfo(0).state === "halted";
    }, "the suspended instId halted", W);
    expect(last[0]).toEqual({ state: BookState.HALTED, reason: StatusReason.INSTRUMENT_CLOSED });
    expect(adapter.topicInfo(1).state).toBe("live");
    const rest = sim.stats.restRequests;
    const stale = adapter.stats().staleResyncs;
    await until(() => {
      sim.step(1);
      return sim.stats.restRequests >= rest + 3; // the listing checks
    }, "a few listing checks", W);
    expect(adapter.stats().staleResyncs).toBe(stale);
    expect(adapter.topicInfo(0)).toMatchObject({ state: "halted", subscribed: false });
    expect(lines.filter((l) => l.includes("no longer listed as trading"))).toHaveLength(1);

    sim.setState("BTC-USDT", "live");
    await until(() => {
      sim.step(1);
      return live() === 2;
    }, "live again", W);
    expect(adapter.stats()).toMatchObject({ instrumentsClosed: 0, instrumentReopens: 1 });
  });
});
