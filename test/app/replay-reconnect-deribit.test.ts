/**
 * record → replay across unplanned reconnects on Deribit (replay-reconnect-harness.ts, as replay-reconnect-bybit):
 * the simulator drops every connection three times; the replay, with the simulator gone, publishes per book the live
 * run's status sequence (RESYNCING / DISCONNECTED at each recorded close) and its book at every change_id. Without
 * the adapter's ingestConnectionEvent the books stayed LIVE across the recorded close.
 */
import { describe, test } from "vitest";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import type { MarketName } from "../../src/core/types.ts";
import { startDeribitSimulator } from "../../src/sim/deribit-sim.ts";
import { DERIBIT_VENUE } from "../../src/venues/deribit/index.ts";
import { checkReplayAcrossReconnects } from "./replay-reconnect-harness.ts";

const BOOKS: { market: MarketName; symbol: string; depth: number }[] = [
  { market: "inverse", symbol: "BTC-PERPETUAL", depth: 0 },
  { market: "inverse", symbol: "ETH-PERPETUAL", depth: 0 },
  { market: "option", symbol: "BTC-27MAR26-70000-C", depth: 10 },
];

describe("Deribit record → replay across unplanned reconnects", { timeout: 90_000 }, () => {
  test("the replay publishes the live run's status sequence per book and its books at every change_id", async () => {
    const sim = await startDeribitSimulator({ markets: [{ market: "inverse", symbols: ["BTC-PERPETUAL", "ETH-PERPETUAL"] }, { market: "option", symbols: ["BTC-27MAR26-70000-C"] }], seed: 29 });
    await checkReplayAcrossReconnects({
      venue: "deribit",
      spec: DERIBIT_VENUE,
      ids: BOOKS.map((b) => instrumentIdOf("deribit", b.market, b.symbol)),
      venueConfig: { inverse: { depth: 0, symbols: ["BTC-PERPETUAL", "ETH-PERPETUAL"] }, option: { depth: 10, symbols: ["BTC-27MAR26-70000-C"] } },
      wsUrl: sim.wsUrl,
      restUrl: sim.restUrl,
      atSim: (b) => {
        const x = BOOKS.find((y) => y.symbol === b.instrument.symbol)!;
        return b.venueSeq === sim.book(x.market, x.symbol, x.depth).changeId;
      },
      step: () => sim.step(1),
      disconnect: () => sim.inject("disconnect"),
      stopSim: () => sim.stop(),
      seeds: [74, 75],
    });
  });
});
