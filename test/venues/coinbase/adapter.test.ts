/**
 * The Coinbase adapter against its simulator over real loopback WebSockets: multi-product frames, snapshots before
 * or after the subscriptions event, a product missing from that event, heartbeats, error frames, the instrument
 * REST, replay of recorded frames, and the simulator's own protocol rules seen by a raw client.
 */
import { afterEach, describe, expect, test } from "vitest";
import { parseConfigText } from "../../../src/config/load.ts";
import { silentLogger } from "../../../src/core/log.ts";
import { BookState, StatusReason, type Instrument } from "../../../src/core/types.ts";
import { startCoinbaseSimulator } from "../../../src/sim/coinbase-sim.ts";
import { createCoinbaseAdapter, type CoinbaseAdapter } from "../../../src/venues/coinbase/index.ts";
import { coinbaseConfig, Sink, startIntoSink, subsOf, waitFor } from "./helpers.ts";

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!().catch(() => undefined);
});

async function setup(products: string[], simOpts: Partial<Parameters<typeof startCoinbaseSimulator>[0]> = {}, adapterOpts: Record<string, unknown> = {}, overrides = new Map()) {
  const sim = await startCoinbaseSimulator({ products: simOpts.products ?? products, seed: 21, levels: 40, ...simOpts });
  const config = { ...coinbaseConfig(sim, products), overrides };
  const adapter: CoinbaseAdapter = createCoinbaseAdapter(config, subsOf(products), { log: silentLogger, reconnectBaseMs: 5, reconnectMaxMs: 20, ...adapterOpts });
  cleanup.push(async () => {
    await adapter.stop();
    await sim.stop();
  });
  const loaded = await adapter.loadInstruments();
  const sink = new Sink(loaded as Instrument[]);
  return { sim, adapter, sink };
}

describe("coinbase adapter", () => {
  test("a frame with several products' events gives their updates in order, with the frame's sequence_num", async () => {
    const products = ["BTC-USD", "ETH-USD"];
    const { sim, adapter, sink } = await setup(products);
    adapter.start(sink);
    await waitFor(() => products.every((p, i) => sink.matches(sim, i, p)), "both books live");
    sink.log.length = 0;
    sim.step(3);
    await waitFor(() => sink.log.length === 6, "six updates");
    // One connection, one frame per step carrying both products: pairs share a sequence_num, BTC first.
    expect(sink.log.map(([i]) => i)).toEqual([0, 1, 0, 1, 0, 1]);
    for (let k = 0; k < 6; k += 2) expect(sink.log[k]![1]).toBe(sink.log[k + 1]![1]);
    expect(products.every((p, i) => sink.matches(sim, i, p))).toBe(true);
    expect(adapter.stats().connections).toBe(1);
  });

  for (const ackFirst of [false, true]) {
    test(`books go live whether the snapshot comes ${ackFirst ? "after" : "before"} the subscriptions event`, async () => {
      const products = ["BTC-USD", "ETH-USD", "SOL-USD"];
      const { sim, adapter, sink } = await setup(products, { ackFirst }, { maxProductsPerConnection: 2 });
      adapter.start(sink);
      sim.step(2);
      await waitFor(() => products.every((p, i) => sink.matches(sim, i, p)), "books live");
      await waitFor(() => [0, 1, 2].every((i) => adapter.topicState(i).subscribed), "subscriptions acknowledged");
      expect(sink.invalid).toEqual([]);
      expect(adapter.stats().connections).toBe(2);
    });
  }

  test("a product missing from the subscriptions event is HALTED / SUBSCRIBE_REJECTED alone", async () => {
    const products = ["BTC-USD", "NOPE-USD", "ETH-USD"];
    // The simulator serves BTC and ETH only; NOPE-USD resolves through an override, so it is subscribed.
    const { sim, adapter, sink } = await setup(products, { products: ["BTC-USD", "ETH-USD"] }, {}, new Map([["spot:NOPE-USD", { tickSize: "0.01", lotSize: "0.01" }]]));
    adapter.start(sink);
    sim.step(1);
    await waitFor(() => sink.invalid.length > 0 && sink.matches(sim, 0, "BTC-USD") && sink.matches(sim, 2, "ETH-USD"), "rejection and live books");
    expect(sink.invalid).toEqual([{ index: 1, state: BookState.HALTED, reason: StatusReason.SUBSCRIBE_REJECTED }]);
    expect(adapter.topicState(1).rejected).toBe(true);
    sim.step(5);
    await waitFor(() => sink.matches(sim, 0, "BTC-USD") && sink.matches(sim, 2, "ETH-USD"), "others go on");
    expect(adapter.stats().subscribeRejected).toBe(1);
  });

  test("connections open no faster than their two subscribes fit the 8 messages/s: none idles past the subscribe deadline", async () => {
    // Eight connections at start. Before, the connect budget alone paced them (8 a second): all opened at once, and
    // their 16 subscribes (level2, heartbeats) queued behind the 8 messages/s, the last level2 one ~0.9 s after its
    // socket opened; past Coinbase's 5 s subscribe deadline from ~40 connections on (~800 products at 20 each), here
    // past the simulator's 0.5 s. Now 4 connects a second: each socket's subscribes go as it opens.
    const products = ["BTC-USD", "ETH-USD", "SOL-USD", "ADA-USD", "XRP-USD", "LTC-USD", "DOT-USD", "AVAX-USD"];
    const { sim, adapter, sink } = await setup(products, { levels: 2, subscribeDeadlineMs: 500 }, { maxProductsPerConnection: 1 });
    adapter.start(sink);
    sim.step(1);
    await waitFor(() => products.every((p, i) => sink.matches(sim, i, p)), "books live");
    expect(sim.stats.idleClosedNoSubscribe).toBe(0);
    expect(sim.stats.overRateIp).toBe(0); // 8 messages per second per IP, over all connections
    expect(adapter.stats().reconnects).toBe(0);
    expect(adapter.stats().connections).toBe(8);
  });

  test("heartbeats are subscribed on every connection, counted and sequenced; an error frame is counted and changes no book", async () => {
    const products = ["BTC-USD", "ETH-USD"];
    const { sim, adapter, sink } = await setup(products, { heartbeatMs: 20 }, { maxProductsPerConnection: 1 });
    adapter.start(sink);
    sim.step(1);
    await waitFor(() => (adapter.stats().heartbeats ?? 0) >= 6, "heartbeats");
    expect(adapter.stats().heartbeatCounterBreaks).toBe(0);
    expect(adapter.stats().gaps).toBe(0);
    sim.inject("error", "BTC-USD");
    await waitFor(() => adapter.stats().errorFrames === 1, "error frame counted");
    sim.step(2);
    await waitFor(() => products.every((p, i) => sink.matches(sim, i, p)), "books equal");
    expect(sink.invalid).toEqual([]);
    const names = new Set(adapter.metrics().map((m) => m.name));
    for (const n of ["heartbeats_total", "sequence_gaps_total", "duplicates_total", "error_frames_total", "connection_up"]) expect(names).toContain(n);
  });

  test("symbols_per_connection from the config bounds the products on one connection (a gap's reach)", async () => {
    const products = ["BTC-USD", "ETH-USD", "SOL-USD"];
    const sim = await startCoinbaseSimulator({ products, seed: 21, levels: 40 });
    const base = coinbaseConfig(sim, products);
    const config = { ...base, markets: [{ ...base.markets[0]!, symbolsPerConnection: 1 }] };
    const adapter: CoinbaseAdapter = createCoinbaseAdapter(config, subsOf(products), { log: silentLogger, reconnectBaseMs: 5, reconnectMaxMs: 20 });
    const sink = await startIntoSink(sim, adapter, cleanup);
    sim.step(1);
    await waitFor(() => products.every((p, i) => sink.matches(sim, i, p)), "books live");
    expect(adapter.connections()).toHaveLength(3);
    const parsed = parseConfigText('[venues.coinbase.spot]\nsymbols = ["BTC-USD"]\nsymbols_per_connection = 2\n');
    expect(parsed.venues[0]!.markets[0]!.symbolsPerConnection).toBe(2);
    expect(() => parseConfigText('[venues.coinbase.spot]\nsymbols = ["BTC-USD"]\nsymbols_per_connection = 0\n')).toThrow(/venues\.coinbase\.spot\.symbols_per_connection: 0/);
  });

  test("a sequence gap across the products of one connection reconnects it; the other connection is untouched", async () => {
    const products = ["BTC-USD", "ETH-USD", "SOL-USD", "XRP-USD"];
    const { sim, adapter, sink } = await setup(products, {}, { maxProductsPerConnection: 2 });
    adapter.start(sink);
    sim.step(1);
    await waitFor(() => products.every((p, i) => sink.matches(sim, i, p)), "books live");
    const connects = sim.stats.connectionsTotal;
    sim.inject("gap", "SOL-USD");
    sim.step(1);
    await waitFor(() => sink.invalid.length === 2, "gap noticed");
    expect(sink.invalid).toEqual([
      { index: 2, state: BookState.RESYNCING, reason: StatusReason.SEQUENCE_GAP },
      { index: 3, state: BookState.RESYNCING, reason: StatusReason.SEQUENCE_GAP },
    ]);
    sim.step(2);
    await waitFor(() => products.every((p, i) => sink.matches(sim, i, p)), "books equal again");
    expect(sim.stats.connectionsTotal).toBe(connects + 1);
    expect(adapter.stats().gaps).toBe(1);
  });

  test("ten resyncs at once (20 messages) keep the 8 messages per second per IP in every second", async () => {
    // Before 2026-12-06 a token bucket of 8 refilled at 8/s sent 8 at once and 8 more within the second.
    const products = ["BTC-USD", "ETH-USD", "SOL-USD", "ADA-USD", "XRP-USD", "LTC-USD", "DOT-USD", "AVAX-USD", "LINK-USD", "UNI-USD"];
    const { sim, adapter, sink } = await setup(products, { levels: 2 });
    adapter.start(sink);
    sim.step(1);
    await waitFor(() => products.every((p, i) => sink.matches(sim, i, p)), "books live");
    for (let i = 0; i < products.length; i++) adapter.requestResync(i, StatusReason.CROSSED_BOOK);
    await waitFor(() => sim.stats.unsubscribes === products.length && products.every((_, i) => adapter.topicState(i).subscribed), "every product resubscribed");
    expect(sim.stats.overRateIp).toBe(0);
  });

  test("requestResync unsubscribes and subscribes that product alone on its connection (no reconnect)", async () => {
    const products = ["BTC-USD", "ETH-USD"];
    const { sim, adapter, sink } = await setup(products);
    adapter.start(sink);
    sim.step(1);
    await waitFor(() => products.every((p, i) => sink.matches(sim, i, p)), "books live");
    const connects = sim.stats.connectionsTotal;
    adapter.requestResync(1, StatusReason.CROSSED_BOOK);
    await waitFor(() => sim.stats.unsubscribes === 1 && adapter.topicState(1).subscribed && sink.log.filter(([i, , s]) => i === 1 && s).length === 2, "resubscribed with a new snapshot");
    sim.step(2);
    await waitFor(() => products.every((p, i) => sink.matches(sim, i, p)), "books equal");
    expect(sink.invalid).toEqual([{ index: 1, state: BookState.RESYNCING, reason: StatusReason.CROSSED_BOOK }]);
    expect(sim.stats.connectionsTotal).toBe(connects);
  });

  test("recorded frames replayed through a second adapter rebuild the same books, gaps included", async () => {
    const products = ["BTC-USD", "ETH-USD"];
    const frames: [string, string, number][] = [];
    const { sim, adapter, sink } = await setup(products, {}, { onRawFrame: (_m: string, c: string, f: string, ts: number) => frames.push([c, f, ts]) });
    adapter.start(sink);
    sim.step(1);
    await waitFor(() => products.every((p, i) => sink.matches(sim, i, p)), "books live");
    sim.step(3);
    sim.inject("gap", "BTC-USD");
    sim.step(1);
    await waitFor(() => sink.invalid.length > 0, "gap");
    sim.step(3);
    await waitFor(() => products.every((p, i) => sink.matches(sim, i, p)), "books equal after the reconnect");
    const replay = createCoinbaseAdapter(coinbaseConfig(sim, products), subsOf(products), { log: silentLogger });
    const rs = new Sink((await replay.loadInstruments()) as Instrument[]);
    replay.startReplay(rs);
    for (const [c, f, ts] of frames) replay.ingestFrame("spot", c, f, ts);
    expect(products.every((p, i) => rs.matches(sim, i, p))).toBe(true);
    expect(rs.invalid.map((e) => e.reason)).toContain(StatusReason.SEQUENCE_GAP);
    await replay.stop();
  });

  test("instruments: price_increment / base_increment from the products REST; a product not online is named", async () => {
    const sim = await startCoinbaseSimulator({ products: ["BTC-USD", "OLD-USD"], productStatus: { "OLD-USD": "delisted" }, specs: { "BTC-USD": { tickSize: "0.01", lotSize: "0.00000001", typicalLots: 5_000_000 } } });
    cleanup.push(() => sim.stop());
    const adapter = createCoinbaseAdapter(coinbaseConfig(sim, ["BTC-USD", "OLD-USD"]), subsOf(["BTC-USD", "OLD-USD"]), { log: silentLogger });
    const loaded = await adapter.loadInstruments();
    expect(loaded[0]).toMatchObject({ symbol: "BTC-USD", tickSize: "0.01", lotSize: "0.00000001", priceExp: 2, qtyExp: 8, venue: "coinbase", market: "spot" });
    expect(loaded[1]).toBeUndefined();
    const none = createCoinbaseAdapter(coinbaseConfig(sim, ["OLD-USD"]), subsOf(["OLD-USD"]), { log: silentLogger });
    await expect(none.loadInstruments()).rejects.toThrow(/spot:OLD-USD \(not listed \(or not online\)/);
  });
});

describe("coinbase simulator, raw clients", () => {
  async function raw(url: string): Promise<{ ws: WebSocket; frames: string[]; closed: Promise<number> }> {
    const ws = new WebSocket(url);
    const frames: string[] = [];
    ws.onmessage = (ev) => frames.push(String(ev.data));
    const closed = new Promise<number>((r) => ws.addEventListener("close", (ev) => r((ev as CloseEvent).code)));
    await new Promise((r, j) => {
      ws.onopen = r;
      ws.onerror = j;
    });
    return { ws, frames, closed };
  }

  test("a client that does not subscribe within the deadline is closed; one that subscribes stays", async () => {
    const sim = await startCoinbaseSimulator({ products: ["BTC-USD"], subscribeDeadlineMs: 100 });
    cleanup.push(() => sim.stop());
    const idle = await raw(sim.wsUrl);
    // An unsubscribe is not a subscribe: it does not escape the deadline (it used to, for heartbeats).
    const unsub = await raw(sim.wsUrl);
    unsub.ws.send(JSON.stringify({ type: "unsubscribe", channel: "heartbeats" }));
    const busy = await raw(sim.wsUrl);
    busy.ws.send(JSON.stringify({ type: "subscribe", product_ids: ["BTC-USD"], channel: "heartbeats" }));
    expect(await idle.closed).toBe(1008);
    expect(await unsub.closed).toBe(1008);
    expect(sim.stats.idleClosedNoSubscribe).toBe(2);
    expect(busy.ws.readyState).toBe(WebSocket.OPEN);
    busy.ws.close();
  });

  test("level2 subscribe: snapshot (seq 0) before the subscriptions event (seq 1); bad requests get error frames", async () => {
    const sim = await startCoinbaseSimulator({ products: ["BTC-USD"] });
    cleanup.push(() => sim.stop());
    const c = await raw(sim.wsUrl);
    c.ws.send(JSON.stringify({ type: "subscribe", product_ids: ["BTC-USD", "NOPE-USD"], channel: "level2" }));
    await waitFor(() => c.frames.length >= 2, "snapshot and ack");
    const [snap, ack] = c.frames.map((f) => JSON.parse(f));
    expect(snap).toMatchObject({ channel: "l2_data", sequence_num: 0, events: [{ type: "snapshot", product_id: "BTC-USD" }] });
    expect(new Set(snap.events[0].updates.map((u: { side: string }) => u.side))).toEqual(new Set(["bid", "offer"]));
    expect(ack).toMatchObject({ channel: "subscriptions", sequence_num: 1, events: [{ subscriptions: { level2: ["BTC-USD"] } }] });
    c.ws.send("not json");
    c.ws.send(JSON.stringify({ type: "subscribe", channel: "level3", product_ids: [] }));
    await waitFor(() => c.frames.length >= 4, "two errors");
    expect(c.frames.slice(2).map((f) => JSON.parse(f).type)).toEqual(["error", "error"]);
    c.ws.close();
  });
});
