/**
 * record → replay across unplanned reconnects on OKX (as replay-reconnect-bybit.test.ts): the simulator drops every
 * connection; the live run publishes its books RESYNCING / DISCONNECTED, and the new connection's `books` snapshots
 * make them LIVE again. The capture holds the connection's close (a `ws:close` record), so the replay, with the
 * simulator gone, publishes per book the same status sequence as the live run and the same book at every seqId.
 * A capture of frames alone replayed the new connection's snapshot onto a book that had never left LIVE.
 * Without the initial snapshot (`initialSnapshot: false`) each connection's books are bridged from a REST snapshot
 * (`/api/v5/market/books`) by seqId: the capture holds those answers, and the replay bridges them as live did.
 */
import { describe, expect, test } from "vitest";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { startOkxSimulator } from "../../src/sim/okx-sim.ts";
import { expectReplayAsLive, reconnectConfig, runReplayReconnect } from "./replay-reconnect-run.ts";

const SYMBOLS = ["BTC-USDT", "ETH-USDT"];
const DEPTH = 400;
const DISCONNECTS = 3;

describe("OKX record → replay across unplanned reconnects", { timeout: 90_000 }, () => {
  test("the replay publishes the live run's status sequence per book and its books at every seqId", async () => {
    const sim = await startOkxSimulator({ markets: [{ market: "spot", symbols: SYMBOLS }], seed: 29 });
    const run = await runReplayReconnect({
      venue: "okx",
      ids: SYMBOLS.map((s) => instrumentIdOf("okx", "spot", s)),
      disconnects: DISCONNECTS,
      destSeed: 71,
      sim: { wsUrl: sim.wsUrl, restUrl: sim.restUrl, step: (n) => sim.step(n), disconnect: () => sim.inject("disconnect"), seqOf: (s) => sim.book(s, DEPTH).seqId, stop: () => sim.stop() },
      config: reconnectConfig("okx", { spot: { depth: DEPTH, symbols: SYMBOLS } }),
    });
    expectReplayAsLive(run, DISCONNECTS, DISCONNECTS);
  });

  test("without the initial snapshot (REST snapshots bridged by seqId) too", async () => {
    const sim = await startOkxSimulator({ markets: [{ market: "spot", symbols: SYMBOLS }], seed: 31, initialSnapshot: false });
    const run = await runReplayReconnect({
      venue: "okx",
      ids: SYMBOLS.map((s) => instrumentIdOf("okx", "spot", s)),
      disconnects: DISCONNECTS,
      destSeed: 73,
      sim: { wsUrl: sim.wsUrl, restUrl: sim.restUrl, step: (n) => sim.step(n), disconnect: () => sim.inject("disconnect"), seqOf: (s) => sim.book(s, DEPTH).seqId, stop: () => sim.stop() },
      config: reconnectConfig("okx", { spot: { depth: DEPTH, symbols: SYMBOLS } }),
    });
    expectReplayAsLive(run, DISCONNECTS, DISCONNECTS);
    expect(run.restAnswers).toBeGreaterThanOrEqual(SYMBOLS.length * (DISCONNECTS + 1)); // a bridge per book and connection
  });
});
