/**
 * record → replay across unplanned reconnects on Upbit and Bithumb (which runs Upbit's adapter; replay-reconnect-run.ts,
 * as replay-reconnect-okx): the simulator drops every connection three times; the replay, with the simulator gone,
 * publishes per book the live run's status sequence (RESYNCING / DISCONNECTED at each recorded close) and its book at
 * every timestamp. Without the adapter's ingestConnectionEvent the books stayed LIVE across the recorded close.
 */
import { describe, test } from "vitest";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { startUpbitSimulator } from "../../src/sim/upbit-sim.ts";
import { expectReplayAsLive, reconnectConfig, runReplayReconnect } from "./replay-reconnect-run.ts";

const CODES = ["KRW-BTC", "KRW-XRP"];
const DEPTH = 15;
const DISCONNECTS = 3;

for (const [venue, seed, destSeed] of [["upbit", 31, 76], ["bithumb", 37, 83]] as const) {
  describe(`${venue} record → replay across unplanned reconnects`, { timeout: 90_000 }, () => {
    test("the replay publishes the live run's status sequence per book and its books at every timestamp", async () => {
      const sim = await startUpbitSimulator({ venue, codes: CODES, seed });
      const run = await runReplayReconnect({
        venue,
        ids: CODES.map((c) => instrumentIdOf(venue, "spot", c)),
        disconnects: DISCONNECTS,
        destSeed,
        sim: { wsUrl: sim.wsUrl, restUrl: sim.restUrl, step: (n) => sim.step(n), disconnect: () => void sim.inject("disconnect"), seqOf: (c) => sim.book(c, DEPTH).ts, stop: () => sim.stop() },
        config: reconnectConfig(venue, { spot: { depth: DEPTH, symbols: CODES } }),
      });
      expectReplayAsLive(run, DISCONNECTS, DISCONNECTS);
    });
  });
}
