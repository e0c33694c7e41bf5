/**
 * A Coinbase product that stops trading while the feeder runs (status delisted or offline, trading_disabled): its
 * level2 updates stop. Before, the book went STALE (stale_feed) and was resubscribed every stale period for as long
 * as the feeder ran (Coinbase has no instrument reload: only a price that did not fit asked REST), a warning each
 * time, nothing saying why. Now the stale book asks for its products: not online, the book is HALTED /
 * instrument_closed, unsubscribed, logged once; online again, it is subscribed and LIVE on its snapshot. Real
 * simulator on 127.0.0.1.
 */
import { afterEach, describe, expect, test } from "vitest";
import { createLogger } from "../../../src/core/log.ts";
import { BookState, StatusReason } from "../../../src/core/types.ts";
import { startCoinbaseSimulator } from "../../../src/sim/coinbase-sim.ts";
import { createCoinbaseAdapter } from "../../../src/venues/coinbase/index.ts";
import type { BookSink } from "../../../src/venues/venue.ts";
import { waitFor } from "../../e2e/harness.ts";
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
    const lines: string[] = [];
    const log = createLogger({ level: "info", format: "json", write: (l) => void lines.push(l) });
    const adapter = createCoinbaseAdapter(coinbaseConfig(sim, products), subsOf(products), { log, staleAfterMs: () => 400, housekeepingMs: 50, listingRetryMs: 300, lateCheckMs: 20 });
    cleanups.push(async () => {
      await adapter.stop();
      await sim.stop();
    });
    const last: { state: BookState; reason: StatusReason }[] = [];
    const sink: BookSink = { onBookUpdate: () => {}, onBookInvalid: (i, state, reason) => void (last[i] = { state, reason }), onInstrumentChanged: () => {} };
    await adapter.loadInstruments();
    adapter.start(sink);
    const live = () => adapter.stats().topicsLive;
    await waitFor(() => {
      sim.step(1);
      return live() === 2;
    }, "both books live", W);

    sim.setProductStatus("BTC-USD", "delisted");
    await waitFor(() => {
      sim.step(1);
      return last[0]?.state === BookState.HALTED;
    }, "the delisted product halted", W);
    expect(last[0]).toEqual({ state: BookState.HALTED, reason: StatusReason.INSTRUMENT_CLOSED });
    expect(live()).toBe(1);
    const rest = sim.stats.restRequests;
    const stale = adapter.stats().staleResyncs;
    await waitFor(() => {
      sim.step(1);
      return sim.stats.restRequests >= rest + 3; // the listing checks
    }, "a few listing checks", W);
    expect(adapter.stats().staleResyncs).toBe(stale);
    expect(last[0]!.state).toBe(BookState.HALTED);
    expect(lines.filter((l) => l.includes("no longer listed as trading"))).toHaveLength(1);

    sim.setProductStatus("BTC-USD", "online");
    await waitFor(() => {
      sim.step(1);
      return live() === 2;
    }, "live again", W);
    expect(adapter.stats()).toMatchObject({ instrumentsClosed: 0, instrumentReopens: 1 });
  });
});
