/**
 * record → replay across unplanned reconnects on Bithumb (replay-reconnect-harness.ts, as replay-reconnect-bybit):
 * the simulator drops every connection three times; the replay, with the simulator gone, publishes per book the live
 * run's status sequence (RESYNCING / DISCONNECTED at each recorded close) and its book at every timestamp. Without
 * the Upbit adapter's ingestConnectionEvent (which Bithumb runs) the books stayed LIVE across the recorded close.
 */
import { describe, test } from "vitest";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { startUpbitSimulator } from "../../src/sim/upbit-sim.ts";
import { BITHUMB_VENUE } from "../../src/venues/bithumb/index.ts";
import { checkReplayAcrossReconnects } from "./replay-reconnect-harness.ts";

const CODES = ["KRW-BTC", "KRW-XRP"];
const DEPTH = 15;

describe("Bithumb record → replay across unplanned reconnects", { timeout: 90_000 }, () => {
  test("the replay publishes the live run's status sequence per book and its books at every timestamp", async () => {
    const sim = await startUpbitSimulator({ venue: "bithumb", codes: CODES, seed: 37 });
    await checkReplayAcrossReconnects({
      venue: "bithumb",
      spec: BITHUMB_VENUE,
      ids: CODES.map((c) => instrumentIdOf("bithumb", "spot", c)),
      venueConfig: { spot: { depth: DEPTH, symbols: CODES } },
      wsUrl: sim.wsUrl,
      restUrl: sim.restUrl,
      atSim: (b) => b.venueSeq === sim.book(b.instrument.symbol, DEPTH).ts,
      step: () => sim.step(1),
      disconnect: () => sim.inject("disconnect"),
      stopSim: () => sim.stop(),
      seeds: [83, 84],
    });
  });
});
