/**
 * An OKX instId whose `state` leaves live while the feeder runs (suspend; expired at delivery): it goes silent and
 * the instruments listing no longer names it live. Before, the book went STALE (stale_feed) and was resubscribed
 * every stale period until the hourly reload, which found it missing and left it alone: STALE for good, a warning
 * and a subscribe request (out of the hourly request budget) every period. Now the stale book asks for its market's
 * listing: not live, the book is HALTED / instrument_closed, unsubscribed, logged once; live again, it is
 * subscribed and LIVE on its snapshot. Real simulator on 127.0.0.1.
 */
import { afterEach, describe, expect, test } from "vitest";
import { startOkxSimulator } from "../../../src/sim/okx-sim.ts";
import { OkxAdapter } from "../../../src/venues/okx/index.ts";
import type { Subscription } from "../../../src/venues/venue.ts";
import { CLOSED, closeThenReopen, lastStatusSink, recordedLog } from "../common/instrument-closed-scenario.ts";
import { okxConfig } from "./helpers.ts";

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
    const { log, lines } = recordedLog();
    const adapter = new OkxAdapter(okxConfig(sim, subs), subs, { log, staleAfterMs: () => 400, housekeepingMs: 50, instrumentCheckMs: 10, listingRetryMs: 300, lateCheckMs: 20 });
    cleanups.push(async () => {
      await adapter.stop();
      await sim.stop();
    });
    const { sink, last } = lastStatusSink();
    await adapter.loadInstruments();
    adapter.start(sink);
    await closeThenReopen({
      adapter,
      sim,
      lines,
      waitMs: W,
      close: () => sim.setState("BTC-USDT", "suspend"),
      reopen: () => sim.setState("BTC-USDT", "live"),
      halted: () => adapter.topicInfo(0).state === "halted",
      haltedWhat: "the suspended instId halted",
      afterHalt: () => {
        expect(last[0]).toEqual(CLOSED);
        expect(adapter.topicInfo(1).state).toBe("live");
      },
      listingChecks: () => sim.stats.restRequests,
      afterChecks: () => expect(adapter.topicInfo(0)).toMatchObject({ state: "halted", subscribed: false }),
      reopenedWhat: "live again",
    });
  });
});
