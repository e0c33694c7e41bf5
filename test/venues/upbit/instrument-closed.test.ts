/**
 * An Upbit or Bithumb code delisted while the feeder runs: `/v1/market/all` leaves it out and it sends nothing.
 * Before, its book went STALE (stale_feed) and stayed so, the whole request list resent every resend period and a
 * warning every stale period for as long as it lasted, nothing saying why (no reload: Upbit re-derives a tick only
 * for a code whose number did not fit). Now the stale book asks for its code's listing: not listed, the book is
 * HALTED / instrument_closed, left out of the request list, logged once; listed again, it is requested and LIVE on
 * its next book. Real simulator on 127.0.0.1.
 */
import { afterEach, describe, expect, it } from "vitest";
import { startUpbitSimulator } from "../../../src/sim/upbit-sim.ts";
import { BITHUMB_VENUE } from "../../../src/venues/bithumb/index.ts";
import { UPBIT_VENUE } from "../../../src/venues/upbit/index.ts";
import type { Subscription, VenueAdapter } from "../../../src/venues/venue.ts";
import { CLOSED, closeThenReopen, recordedLog } from "../common/instrument-closed-scenario.ts";
import { allResolved, RecordingSink, tempCachePath } from "../bybit/helpers.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!().catch(() => undefined);
});

const W = 20_000;

for (const spec of [UPBIT_VENUE, BITHUMB_VENUE]) {
  describe(`${spec.venue}: a code delisted while running`, { timeout: 90_000 }, () => {
    it("HALTED / instrument_closed once silent, out of the requests, logged once; listed again: LIVE", async () => {
      const venue = spec.venue as "upbit" | "bithumb";
      const codes = ["KRW-BTC", "KRW-ETH"];
      const subs: Subscription[] = codes.map((symbol) => ({ market: "spot", symbol, depth: 15 }));
      const sim = await startUpbitSimulator({ venue, codes, seed: 4 });
      const config = { venue, wsUrl: sim.wsUrl, restUrl: sim.restUrl, instrumentCachePath: tempCachePath(), markets: [{ market: "spot" as const, depth: 15, symbols: codes }], overrides: new Map() };
      const { log, lines } = recordedLog();
      const adapter = spec.create(config, subs, { log, staleAfterMs: () => 400, housekeepingMs: 50, resendMinMs: 100, listingRetryMs: 300, lateCheckMs: 20 }) as VenueAdapter & { topicInfo(i: number): { state: string } };
      cleanups.push(async () => {
        await adapter.stop();
        await sim.stop();
      });
      const sink = new RecordingSink(allResolved(await adapter.loadInstruments()));
      adapter.start(sink);
      await closeThenReopen({
        adapter,
        sim, // KRW-ETH goes on; KRW-BTC is silent once delisted
        lines,
        waitMs: W,
        close: () => sim.setListed("KRW-BTC", false),
        reopen: () => sim.setListed("KRW-BTC", true),
        halted: () => adapter.topicInfo(0).state === "halted",
        haltedWhat: "the delisted code halted",
        afterHalt: () => {
          expect(sink.invalid.filter((e) => e.index === 0).at(-1)).toEqual({ index: 0, ...CLOSED });
          expect(adapter.topicInfo(1).state).toBe("live");
        },
        listingChecks: () => sim.stats.restRequests,
        afterChecks: () => expect(sim.subscribed()).toEqual(["KRW-ETH"]), // the next request left it out
        reopenedWhat: "live again once listed",
      });
    });
  });
}
