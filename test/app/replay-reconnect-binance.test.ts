/**
 * record → replay across unplanned reconnects on Binance: the simulator drops every connection, the live run
 * publishes its books RESYNCING / DISCONNECTED and bridges them to fresh REST snapshots. The capture holds the
 * connection's close (a `ws:close` record), so the replay, with the simulator gone, publishes per book the same
 * status sequence as the live run and the same book at every update id, even where the new connection's diffs
 * chain onto the old one's (no diff is sent while the connection is down here), which a capture of frames alone
 * replayed as one unbroken LIVE stretch that ignored the recorded snapshots.
 */
import { describe, test } from "vitest";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { startBinanceSimulator } from "../../src/sim/binance-sim.ts";
import { expectReplayAsLive, reconnectConfig, runReplayReconnect } from "./replay-reconnect-run.ts";

const SYMBOLS = ["BTCUSDT", "ETHUSDT"];
const DISCONNECTS = 3;

describe("Binance record → replay across unplanned reconnects", { timeout: 90_000 }, () => {
  test("the replay publishes the live run's status sequence per book and its books at every update id", async () => {
    const sim = await startBinanceSimulator({ markets: [{ market: "spot", symbols: SYMBOLS }], seed: 23 });
    const run = await runReplayReconnect({
      venue: "binance",
      ids: SYMBOLS.map((s) => instrumentIdOf("binance", "spot", s)),
      disconnects: DISCONNECTS,
      destSeed: 67,
      // No step while the connection is down (the runner steps only to catch up): the new connection's first diffs
      // continue the old one's, the case a capture of frames alone replayed as one unbroken LIVE stretch.
      sim: { wsUrl: sim.wsUrl, restUrl: sim.restUrl, step: (n) => sim.step(n), disconnect: () => void sim.inject("disconnect", { market: "spot", symbol: SYMBOLS[0]! }), seqOf: (s) => sim.book("spot", s).u, stop: () => sim.stop() },
      adapterOptions: { resyncBackoffBaseMs: 20, resyncBackoffMaxMs: 100 },
      config: reconnectConfig("binance", { spot: { depth: 1000, symbols: SYMBOLS } }),
    });
    expectReplayAsLive(run, DISCONNECTS, DISCONNECTS);
  });
});
