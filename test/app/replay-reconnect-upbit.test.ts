/**
 * record → replay across unplanned reconnects on Upbit (replay-reconnect-harness.ts, as replay-reconnect-bybit):
 * the simulator drops every connection three times; the replay, with the simulator gone, publishes per book the live
 * run's status sequence (RESYNCING / DISCONNECTED at each recorded close) and its book at every timestamp. Without
 * the Upbit adapter's ingestConnectionEvent (which Upbit runs) the books stayed LIVE across the recorded close.
 */
import { describe, test } from "vitest";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { startUpbitSimulator } from "../../src/sim/upbit-sim.ts";
import { UPBIT_VENUE } from "../../src/venues/upbit/index.ts";
import { checkReplayAcrossReconnects } from "./replay-reconnect-harness.ts";

const CODES = ["KRW-BTC", "KRW-XRP"];
const DEPTH = 15;

describe("Upbit record → replay across unplanned reconnects", { timeout: 90_000 }, () => {
  test("the replay publishes the live run's status sequence per book and its books at every timestamp", async () => {
    const sim = await startUpbitSimulator({ venue: "upbit", codes: CODES, seed: 31 });
    await checkReplayAcrossReconnects({
      venue: "upbit",
      spec: UPBIT_VENUE,
      ids: CODES.map((c) => instrumentIdOf("upbit", "spot", c)),
      venueConfig: { spot: { depth: DEPTH, symbols: CODES } },
      wsUrl: sim.wsUrl,
      restUrl: sim.restUrl,
      atSim: (b) => b.venueSeq === sim.book(b.instrument.symbol, DEPTH).ts,
      step: () => sim.step(1),
      disconnect: () => sim.inject("disconnect"),
      stopSim: () => sim.stop(),
      seeds: [76, 79],
    });
  });
});
