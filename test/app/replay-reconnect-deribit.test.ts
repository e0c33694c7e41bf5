/**
 * record → replay across unplanned reconnects on Deribit (replay-reconnect-run.ts, as replay-reconnect-okx): the
 * simulator drops every connection three times (two connections: inverse and option); the replay, with the simulator
 * gone, publishes per book the live run's status sequence (RESYNCING / DISCONNECTED at each recorded close) and its
 * book at every change_id. Without the adapter's ingestConnectionEvent the books stayed LIVE across the recorded close.
 * A connection dropped while a book's resync waits out its backoff (dropWhileResyncing) replays as live too (passed
 * when first written).
 */
import { describe, test } from "vitest";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import type { MarketName } from "../../src/core/types.ts";
import { startDeribitSimulator } from "../../src/sim/deribit-sim.ts";
import { dropWhileResyncing, expectReplayAsLive, reconnectConfig, runReplayReconnect } from "./replay-reconnect-run.ts";

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

describe("Deribit record → replay: a connection dropped while a book's resync backs off", { timeout: 90_000 }, () => {
  test("the book resubscribed after its backoff on the new connection, in replay as live", async () => {
    const symbols = ["BTC-PERPETUAL", "ETH-PERPETUAL"];
    const sim = await startDeribitSimulator({ markets: [{ market: "inverse", symbols }], seed: 47 });
    const [btc, eth] = symbols.map((s) => instrumentIdOf("deribit", "inverse", s)) as [number, number];
    const reconnectSim = { wsUrl: sim.wsUrl, restUrl: sim.restUrl, step: (n?: number) => sim.step(n), disconnect: () => void sim.inject("disconnect"), seqOf: (s: string) => sim.book("inverse", s, 0).changeId, stop: () => sim.stop() };
    const run = await runReplayReconnect({
      venue: "deribit",
      ids: [btc, eth],
      disconnects: 0,
      destSeed: 123,
      sim: reconnectSim,
      adapterOptions: { resyncBackoffBaseMs: 8000, resyncBackoffMaxMs: 8000 },
      drive: dropWhileResyncing(reconnectSim, () => void sim.inject("gap", { market: "inverse", symbol: symbols[0]! }), btc, eth),
      config: reconnectConfig("deribit", { inverse: { depth: 0, symbols } }),
    });
    expectReplayAsLive(run, 1, [0, 1]);
  });
});
