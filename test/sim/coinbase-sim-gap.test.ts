/**
 * The Coinbase simulator's gap and malformed faults lose (or garble) a frame on the target connection only: a
 * `sequence_num` gap there. Another connection carrying a product that moved still gets the change, as on Coinbase,
 * where each connection has its own stream.
 */
import { expect, test } from "vitest";
import { startCoinbaseSimulator } from "../../src/sim/coinbase-sim.ts";
import { until } from "../support/until.ts";

/** A raw client applying every l2_data event to its books (absolute sizes, "0" removes), keeping its sequence_nums. */
async function client(url: string, products: string[]) {
  const ws = new WebSocket(url);
  const books = new Map<string, { bids: Map<string, string>; asks: Map<string, string> }>();
  const seqs: number[] = [];
  ws.onmessage = (ev) => {
    let m: any;
    try {
      m = JSON.parse(String(ev.data));
    } catch {
      return; // a garbled frame
    }
    if (typeof m.sequence_num === "number") seqs.push(m.sequence_num);
    if (m.channel !== "l2_data") return;
    for (const e of m.events) {
      if (e.type === "snapshot") books.set(e.product_id, { bids: new Map(), asks: new Map() });
      const b = books.get(e.product_id)!;
      for (const u of e.updates) {
        const side = u.side === "bid" ? b.bids : b.asks;
        if (Number(u.new_quantity) === 0) side.delete(u.price_level);
        else side.set(u.price_level, u.new_quantity);
      }
    }
  };
  await new Promise<void>((r, j) => {
    ws.onopen = () => r();
    ws.onerror = () => j(new Error("ws error"));
  });
  ws.send(JSON.stringify({ type: "subscribe", product_ids: products, channel: "level2" }));
  await until(() => products.every((p) => books.has(p)), "the snapshots");
  return { ws, books, seqs };
}

const sorted = (m: Map<string, string>) => [...m].sort();

test.each(["gap", "malformed"] as const)("%s on one connection: another carrying a product that moved gets the change", async (fault) => {
  const sim = await startCoinbaseSimulator({ products: ["BTC-USD", "ETH-USD"], messagesPerSecond: 0, levels: 20, seed: 7 });
  try {
    const a = await client(sim.wsUrl, ["BTC-USD", "ETH-USD"]);
    const b = await client(sim.wsUrl, ["ETH-USD"]);
    const equal = (c: typeof b, product: string) => {
      const want = sim.book(product);
      const got = c.books.get(product)!;
      return JSON.stringify([sorted(got.bids), sorted(got.asks)]) === JSON.stringify([sorted(want.bids), sorted(want.asks)]);
    };
    await until(() => equal(a, "ETH-USD") && equal(b, "ETH-USD"), "both connections hold ETH-USD");
    const aSeqs = a.seqs.length;
    expect(sim.inject(fault, "BTC-USD").connections).toBe(1); // a alone carries BTC-USD
    // b carried ETH-USD, which moved with the lost frame: it holds the book the simulator publishes, without a gap.
    // Before, the change went to no connection but the target, and b's ETH-USD differed from then on.
    await until(() => equal(b, "ETH-USD"), "b's ETH-USD equal to the simulator's after the fault", 5_000);
    for (let i = 1; i < b.seqs.length; i++) expect(b.seqs[i]).toBe(b.seqs[i - 1]! + 1);
    // The target lost one frame: its next sequence_num skips one.
    sim.step(1);
    await until(() => a.seqs.length > aSeqs, "a's next frame");
    expect(a.seqs[aSeqs]).toBe(a.seqs[aSeqs - 1]! + 2);
    a.ws.close();
    b.ws.close();
  } finally {
    await sim.stop();
  }
});
