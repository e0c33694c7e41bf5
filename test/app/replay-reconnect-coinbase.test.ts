/**
 * record → replay across unplanned reconnects on Coinbase (as replay-reconnect-bybit.test.ts): the simulator drops
 * every connection; the live run publishes its books RESYNCING / DISCONNECTED, and the new connection's level2
 * snapshots make them LIVE again. The capture holds the connection's close (a `ws:close` record), so the replay, with
 * the simulator gone, publishes per book the same status sequence as the live run and the same book at every
 * sequence_num. The capture ends with one more close (the simulator stops under the live run), which no new
 * socket follows: without the recorded close the replay left those books LIVE where live had them RESYNCING.
 * A sequence gap, Coinbase's resync by reconnect, replays as live too (passed when first written).
 */
import { describe, test } from "vitest";
import { waitFor } from "../e2e/harness.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { startCoinbaseSimulator } from "../../src/sim/coinbase-sim.ts";
import { expectReplayAsLive, reconnectConfig, runReplayReconnect } from "./replay-reconnect-run.ts";

const PRODUCTS = ["BTC-USD", "ETH-USD"];
const DISCONNECTS = 3;

describe("Coinbase record → replay across unplanned reconnects", { timeout: 90_000 }, () => {
  test("the replay publishes the live run's status sequence per book and its books at every sequence_num", async () => {
    const sim = await startCoinbaseSimulator({ products: PRODUCTS, seed: 31, levels: 80, heartbeatMs: 100 });
    const run = await runReplayReconnect({
      venue: "coinbase",
      ids: PRODUCTS.map((p) => instrumentIdOf("coinbase", "spot", p)),
      disconnects: DISCONNECTS,
      destSeed: 73,
      endDisconnected: true,
      sim: { wsUrl: sim.wsUrl, restUrl: sim.restUrl, step: (n) => sim.step(n), disconnect: () => void sim.inject("disconnect"), seqOf: (p) => sim.book(p).seq, stop: () => sim.stop() },
      config: reconnectConfig("coinbase", { spot: { symbols: PRODUCTS } }),
    });
    expectReplayAsLive(run, DISCONNECTS + 1, DISCONNECTS + 1);
  });
});

describe("Coinbase record → replay: a sequence gap recycles the connection", { timeout: 90_000 }, () => {
  // Coinbase's resync is the reconnect itself (one sequence per connection): the books go RESYNCING / SEQUENCE_GAP, the
  // connection is closed (a ws:close record) and the new one's snapshots make them LIVE; no DISCONNECTED on top.
  test("the replay publishes the live run's statuses and books across the recycle", async () => {
    const sim = await startCoinbaseSimulator({ products: PRODUCTS, seed: 37, levels: 80, heartbeatMs: 100 });
    const ids = PRODUCTS.map((p) => instrumentIdOf("coinbase", "spot", p));
    const run = await runReplayReconnect({
      venue: "coinbase",
      ids,
      disconnects: 0,
      destSeed: 125,
      sim: { wsUrl: sim.wsUrl, restUrl: sim.restUrl, step: (n) => sim.step(n), disconnect: () => void sim.inject("disconnect"), seqOf: (p) => sim.book(p).seq, stop: () => sim.stop() },
      drive: async ({ stats, statuses, caughtUp }) => {
        const opened = stats().connects!;
        sim.inject("gap");
        await waitFor(() => ids.every((id) => statuses.get(id)!.includes("resyncing/sequence_gap")), "every book RESYNCING after the gap", 15_000, () => sim.step(1));
        await waitFor(() => stats().connects! > opened && stats().connectionsOpen === stats().connections, "reconnected", 15_000);
        await waitFor(caughtUp, "live books after the recycle", 15_000, () => sim.step(1));
      },
      config: reconnectConfig("coinbase", { spot: { symbols: PRODUCTS } }),
    });
    expectReplayAsLive(run, 1, [0, 0]);
  });
});
