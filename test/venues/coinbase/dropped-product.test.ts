/**
 * A `subscriptions` event lists every level2 product of the connection [F2]. A product subscribed and answered
 * (no request of it out) that an event no longer lists is no longer sent by the venue: its book, LIVE, would be held
 * by the socket's in-sequence heartbeats (the quiet rule) for up to 5 stale times at levels the venue moved on from.
 * It is resubscribed at once. Before, only the answered request's products were read from the event. A hand-driven
 * server on 127.0.0.1; the simulator serves the REST.
 */
import { afterEach, describe, expect, test } from "vitest";
import type { ServerWebSocket } from "bun";
import { silentLogger } from "../../../src/core/log.ts";
import { BookState, StatusReason, type Instrument } from "../../../src/core/types.ts";
import { startCoinbaseSimulator } from "../../../src/sim/coinbase-sim.ts";
import { createCoinbaseAdapter } from "../../../src/venues/coinbase/index.ts";
import { coinbaseConfig, Sink, subsOf, waitFor } from "./helpers.ts";

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!()?.catch(() => undefined);
});

const TS = "2026-12-07T00:00:00.000000Z";
const snapshot = (seq: number, product: string) =>
  `{"channel":"l2_data","client_id":"","timestamp":"${TS}","sequence_num":${seq},"events":[{"type":"snapshot","product_id":"${product}","updates":[{"side":"bid","event_time":"${TS}","price_level":"100.00","new_quantity":"1.5"},{"side":"offer","event_time":"${TS}","price_level":"101.00","new_quantity":"2"}]}]}`;
const subscriptions = (seq: number, level2: string[]) =>
  `{"channel":"subscriptions","client_id":"","timestamp":"${TS}","sequence_num":${seq},"events":[{"subscriptions":{"level2":${JSON.stringify(level2)},"heartbeats":["heartbeats"]}}]}`;

describe("coinbase: a product the subscriptions event no longer lists", { timeout: 20_000 }, () => {
  test("its LIVE book resyncs and is resubscribed; the listed one stays LIVE; one whose unsubscribe the event answers is not resynced again", async () => {
    const products = ["BTC-USD", "ETH-USD", "SOL-USD"];
    const sim = await startCoinbaseSimulator({ products, levels: 5, seed: 4 }); // its REST only
    const sockets: ServerWebSocket<unknown>[] = [];
    const received: string[] = [];
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (req, srv) => (srv.upgrade(req) ? undefined : new Response("no", { status: 400 })),
      websocket: { open: (ws) => void sockets.push(ws), message: (_ws, m) => void received.push(String(m)) },
    });
    const adapter = createCoinbaseAdapter(coinbaseConfig({ wsUrl: `ws://127.0.0.1:${server.port}`, restUrl: sim.restUrl }, products), subsOf(products), { log: silentLogger, now: () => 1_000_000, housekeepingMs: 5 });
    cleanup.push(async () => {
      await adapter.stop();
      server.stop(true);
      await sim.stop();
    });
    const sink = new Sink((await adapter.loadInstruments()) as Instrument[]);
    adapter.start(sink);
    await waitFor(() => received.length === 2, "the heartbeats and level2 subscribes");
    const ws = sockets[0]!;
    ws.send(subscriptions(0, []));
    ws.send(snapshot(1, "BTC-USD"));
    ws.send(snapshot(2, "ETH-USD"));
    ws.send(snapshot(3, "SOL-USD"));
    ws.send(subscriptions(4, products));
    await waitFor(() => [0, 1, 2].every((i) => adapter.topicState(i).state === "live"), "every book LIVE");

    adapter.requestResync(0, StatusReason.CROSSED_BOOK); // BTC-USD: its unsubscribe goes
    await waitFor(() => received.length === 3, "BTC-USD's unsubscribe");
    expect(JSON.parse(received[2]!)).toMatchObject({ type: "unsubscribe", product_ids: ["BTC-USD"] });
    // Its answer lists SOL-USD alone: BTC-USD gone as asked, ETH-USD dropped by the venue (no request of it out).
    ws.send(subscriptions(5, ["SOL-USD"]));
    await waitFor(() => received.some((m) => m.includes("ETH-USD") && m.includes('"unsubscribe"')), "ETH-USD resubscribed (its unsubscribe first)");
    expect(adapter.topicState(1).state).not.toBe("live");
    // Each book invalidated once: BTC-USD for the asked resync only (its unsubscribe out: not "dropped"), ETH-USD
    // when the event stopped listing it.
    expect(sink.invalid.filter((x) => x.index === 1)).toEqual([{ index: 1, state: BookState.RESYNCING, reason: StatusReason.SUBSCRIBE_REJECTED }]);
    expect(sink.invalid.filter((x) => x.index === 0)).toEqual([{ index: 0, state: BookState.RESYNCING, reason: StatusReason.CROSSED_BOOK }]);
    // The listed one is untouched: LIVE, never invalidated, no request of it since the first subscribe.
    expect(adapter.topicState(2).state).toBe("live");
    expect(sink.invalid.filter((e) => e.index === 2)).toEqual([]);
    expect(received.slice(2).filter((m) => m.includes("SOL-USD"))).toEqual([]);
    expect(adapter.stats().reconnects).toBe(0);
  });
});
