/**
 * A Coinbase product that stops trading while the feeder runs (status delisted or offline, trading_disabled): its
 * level2 updates stop. Before, the book went STALE (stale_feed) and was resubscribed every stale period for as long
 * as the feeder ran (Coinbase has no instrument reload: only a price that did not fit asked REST), a warning each
 * time, nothing saying why. Now the stale book asks for its products: not online, the book is HALTED /
 * instrument_closed, unsubscribed, logged once; online again, it is subscribed and LIVE on its snapshot. Real
 * simulator on 127.0.0.1.
 */
import { afterEach, describe, expect, test } from "vitest";
import { BookState } from "../../../src/core/types.ts";
import { startCoinbaseSimulator } from "../../../src/sim/coinbase-sim.ts";
import { createCoinbaseAdapter } from "../../../src/venues/coinbase/index.ts";
import { CLOSED, closeThenReopen, lastStatusSink, recordedLog } from "../common/instrument-closed-scenario.ts";
import { coinbaseConfig, subsOf } from "./helpers.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

const W = 20_000;

describe("coinbase: a product that stops trading", { timeout: 90_000 }, () => {
  test("delisted: HALTED / instrument_closed once silent, unsubscribed, logged once; online again: LIVE", async () => {
    const products = ["BTC-USD", "ETH-USD"];
    const sim = await startCoinbaseSimulator({ products, seed: 8, levels: 20 });
    const { log, lines } = recordedLog();
    const adapter = createCoinbaseAdapter(coinbaseConfig(sim, products), subsOf(products), { log, staleAfterMs: () => 400, housekeepingMs: 50, listingRetryMs: 300, lateCheckMs: 20 });
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
      close: () => sim.setProductStatus("BTC-USD", "delisted"),
      reopen: () => sim.setProductStatus("BTC-USD", "online"),
      halted: () => last[0]?.state === BookState.HALTED,
      haltedWhat: "the delisted product halted",
      afterHalt: () => {
        expect(last[0]).toEqual(CLOSED);
        expect(adapter.stats().topicsLive).toBe(1);
      },
      listingChecks: () => sim.stats.restRequests,
      afterChecks: () => expect(last[0]!.state).toBe(BookState.HALTED),
      reopenedWhat: "live again",
    });
  });
});
