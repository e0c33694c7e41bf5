/**
 * The Coinbase simulator's booksAt (opts.history) hands out the same Maps for the same stored book every call, as
 * the chaos checks key their per-state conversion by them (test/support/chaos-types.ts SimSides). Until 2026-12-07
 * it parsed the stored text again per call: new Maps each time, so that cache never hit.
 */
import { expect, test } from "vitest";
import { startCoinbaseSimulator } from "../../src/sim/coinbase-sim.ts";
import { until } from "../support/until.ts";

test("booksAt: the book a frame carried, as the same Maps every call", async () => {
  const sim = await startCoinbaseSimulator({ products: ["BTC-USD"], messagesPerSecond: 0, levels: 10, seed: 3, history: true });
  const ws = new WebSocket(sim.wsUrl);
  try {
    let frames = 0;
    ws.onmessage = (ev) => void (String(ev.data).includes('"l2_data"') && frames++);
    await new Promise<void>((r, j) => {
      ws.onopen = () => r();
      ws.onerror = () => j(new Error("ws error"));
    });
    ws.send(JSON.stringify({ type: "subscribe", product_ids: ["BTC-USD"], channel: "level2" }));
    await until(() => frames >= 1, "the snapshot");
    sim.step(1);
    await until(() => frames >= 2, "the update");
    const truth = sim.book("BTC-USD");
    const first = sim.booksAt("BTC-USD", truth.seq);
    expect(first).toEqual([{ bids: truth.bids, asks: truth.asks }]);
    const again = sim.booksAt("BTC-USD", truth.seq);
    expect(again[0]!.bids).toBe(first[0]!.bids);
    expect(again[0]!.asks).toBe(first[0]!.asks);
  } finally {
    ws.close();
    await sim.stop();
  }
});
