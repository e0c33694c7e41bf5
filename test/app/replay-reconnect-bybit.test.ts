/**
 * record → replay across unplanned reconnects on Bybit (replay-reconnect-run.ts): the simulator drops every
 * connection; the live run publishes its books RESYNCING / DISCONNECTED, and the new connection's snapshots make them
 * LIVE again. The capture holds the connection's close (a `ws:close` record), so the replay, with the simulator gone,
 * publishes per book the same status sequence as the live run and the same book at every update id. A capture of
 * frames alone replayed the new connection's snapshot onto a book that had never left LIVE: no disconnected status.
 * A connection dropped while a book's resync waits out its backoff (dropWhileResyncing) replays as live too (passed
 * when first written).
 */
import { describe, test } from "vitest";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { startBybitSimulator } from "../../src/sim/bybit-sim.ts";
import { dropWhileResyncing, expectReplayAsLive, reconnectConfig, runReplayReconnect } from "./replay-reconnect-run.ts";

const SYMBOLS = ["BTCUSDT", "ETHUSDT"];
const DISCONNECTS = 3;

describe("Bybit record → replay across unplanned reconnects", { timeout: 90_000 }, () => {
  test("the replay publishes the live run's status sequence per book and its books at every update id", async () => {
    const sim = await startBybitSimulator({ markets: [{ market: "spot", symbols: SYMBOLS }], seed: 23 });
    const run = await runReplayReconnect({
      venue: "bybit",
      ids: SYMBOLS.map((s) => instrumentIdOf("bybit", "spot", s)),
      disconnects: DISCONNECTS,
      destSeed: 69,
      sim: { wsUrl: sim.wsUrl, restUrl: sim.restUrl, step: (n) => sim.step(n), disconnect: () => void sim.inject("disconnect"), seqOf: (s) => sim.book("spot", s, 50).u, stop: () => sim.stop() },
      config: reconnectConfig("bybit", { spot: { depth: 50, symbols: SYMBOLS } }),
    });
    expectReplayAsLive(run, DISCONNECTS, DISCONNECTS);
  });
});

describe("Bybit record → replay: a connection dropped while a book's resync backs off", { timeout: 90_000 }, () => {
  test("the book resubscribed after its backoff on the new connection, in replay as live", async () => {
    const sim = await startBybitSimulator({ markets: [{ market: "spot", symbols: SYMBOLS }], seed: 43 });
    const [btc, eth] = SYMBOLS.map((s) => instrumentIdOf("bybit", "spot", s)) as [number, number];
    const reconnectSim = { wsUrl: sim.wsUrl, restUrl: sim.restUrl, step: (n?: number) => sim.step(n), disconnect: () => void sim.inject("disconnect"), seqOf: (s: string) => sim.book("spot", s, 50).u, stop: () => sim.stop() };
    const run = await runReplayReconnect({
      venue: "bybit",
      ids: [btc, eth],
      disconnects: 0,
      destSeed: 121,
      sim: reconnectSim,
      adapterOptions: { resyncBackoffBaseMs: 8000, resyncBackoffMaxMs: 8000 },
      drive: dropWhileResyncing(reconnectSim, () => void sim.inject("gap", { market: "spot", symbol: SYMBOLS[0]! }), btc, eth),
      config: reconnectConfig("bybit", { spot: { depth: 50, symbols: SYMBOLS } }),
    });
    expectReplayAsLive(run, 1, [0, 1]);
  });
});
