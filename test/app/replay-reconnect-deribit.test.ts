/**
 * record → replay across unplanned reconnects on Deribit (replay-reconnect-run.ts, as replay-reconnect-okx): the
 * simulator drops every connection three times (two connections: inverse and option); the replay, with the simulator
 * gone, publishes per book the live run's status sequence (RESYNCING / DISCONNECTED at each recorded close) and its
 * book at every change_id. Without the adapter's ingestConnectionEvent the books stayed LIVE across the recorded close.
 */
import { describe, test } from "vitest";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import type { MarketName } from "../../src/core/types.ts";
import { startDeribitSimulator } from "../../src/sim/deribit-sim.ts";
import { expectReplayAsLive, reconnectConfig, runReplayReconnect } from "./replay-reconnect-run.ts";

const BOOKS: { market: MarketName; symbol: string; depth: number }[] = [
  { market: "inverse", symbol: "BTC-PERPETUAL", depth: 0 },
  { market: "inverse", symbol: "ETH-PERPETUAL", depth: 0 },
  { market: "option", symbol: "BTC-27MAR26-70000-C", depth: 10 },
];
const DISCONNECTS = 3;
const CONNECTIONS = 2;

describe("Deribit record → replay across unplanned reconnects", { timeout: 90_000 }, () => {
  test("the replay publishes the live run's status sequence per book and its books at every change_id", async () => {
    const sim = await startDeribitSimulator({ markets: [{ market: "inverse", symbols: ["BTC-PERPETUAL", "ETH-PERPETUAL"] }, { market: "option", symbols: ["BTC-27MAR26-70000-C"] }], seed: 29 });
    const book = (symbol: string) => BOOKS.find((b) => b.symbol === symbol)!;
    const run = await runReplayReconnect({
      venue: "deribit",
      ids: BOOKS.map((b) => instrumentIdOf("deribit", b.market, b.symbol)),
      disconnects: DISCONNECTS,
      destSeed: 85,
      sim: {
        wsUrl: sim.wsUrl,
        restUrl: sim.restUrl,
        step: (n) => sim.step(n),
        disconnect: () => void sim.inject("disconnect"),
        seqOf: (s) => sim.book(book(s).market, s, book(s).depth).changeId,
        stop: () => sim.stop(),
      },
      config: reconnectConfig("deribit", { inverse: { depth: 0, symbols: ["BTC-PERPETUAL", "ETH-PERPETUAL"] }, option: { depth: 10, symbols: ["BTC-27MAR26-70000-C"] } }),
    });
    expectReplayAsLive(run, DISCONNECTS * CONNECTIONS, DISCONNECTS);
  });
});
