/**
 * record → replay across unplanned reconnects on Coinbase (as replay-reconnect-bybit.test.ts): the simulator drops
 * every connection; the live run publishes its books RESYNCING / DISCONNECTED, and the new connection's level2
 * snapshots make them LIVE again. The capture holds the connection's close (a `ws:close` record), so the replay, with
 * the simulator gone, publishes per book the same status sequence as the live run and the same book at every
 * sequence_num. The capture ends with one more close (the simulator stops under the live run), which no new
 * socket follows: without the recorded close the replay left those books LIVE where live had them RESYNCING.
 */
import { describe, expect, test } from "vitest";
import { validateConfig } from "../../src/config/load.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { startCoinbaseSimulator } from "../../src/sim/coinbase-sim.ts";
import { runReplayReconnect } from "./replay-reconnect-run.ts";

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
      config: (dest, wsUrl, restUrl, cache) =>
        validateConfig({
          log: { level: "warn", format: "json" },
          http: { enabled: false },
          publish: { heartbeat_interval_ms: 60_000, snapshot_interval_ms: 0, destinations: [{ name: "e2e", ...dest, interface: "127.0.0.1", ttl: 1, channel: 3 }] },
          venues: { coinbase: { ws_url: wsUrl, rest_url: restUrl, instrument_cache: cache, spot: { symbols: PRODUCTS } } },
        }),
    });
    expect(run.closesRecorded).toBe(DISCONNECTS + 1);
    for (const id of run.ids) expect(run.live.statuses.get(id)!.filter((s) => s === "resyncing/disconnected").length).toBe(DISCONNECTS + 1);
    expect(run.result).toMatchObject({ skipped: 0, truncated: [], unknownRecords: [] });
    expect(run.replay.finalBooks).toEqual(run.live.finalBooks);
    expect(run.replay.statuses).toEqual(run.live.statuses);
    const differing = [...run.replay.books].filter(([k, levels]) => run.live.books.get(k) !== levels).map(([k]) => k);
    expect(differing).toEqual([]);
    expect(run.replay.books.size).toBe(run.live.books.size);
  });
});
