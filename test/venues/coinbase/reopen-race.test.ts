/**
 * A product closed (its listing no longer trading) while its subscribe is out, its snapshot then arriving, and
 * reopened before that subscribe's answer: Coinbase sends a subscribe's snapshots before its subscriptions event [F2],
 * so the snapshot came while the book was closed (ignored), and the answer made it subscribed with no snapshot to come.
 * Before, the book stayed AWAITING_SNAPSHOT until its stale time (60 s). Now the answer finds the snapshot of that
 * subscribe ignored and resubscribes the product at once. A hand-driven server on 127.0.0.1; the simulator serves
 * the REST.
 */
import { afterEach, describe, expect, test } from "vitest";
import type { ServerWebSocket } from "bun";
import { silentLogger } from "../../../src/core/log.ts";
import { StatusReason, type Instrument } from "../../../src/core/types.ts";
import { startCoinbaseSimulator } from "../../../src/sim/coinbase-sim.ts";
import { createCoinbaseAdapter } from "../../../src/venues/coinbase/index.ts";
import type { TopicMembership } from "../../../src/venues/common/connection-lifecycle.ts";
import type { TopicState } from "../../../src/venues/common/connection.ts";
import { coinbaseConfig, Sink, subsOf, waitFor } from "./helpers.ts";

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!()?.catch(() => undefined);
});

const TS = "2026-12-07T00:00:00.000000Z";
const snapshot = (seq: number, product: string) =>
  `{"channel":"l2_data","client_id":"","timestamp":"${TS}","sequence_num":${seq},"events":[{"type":"snapshot","product_id":"${product}","updates":[{"side":"bid","event_time":"${TS}","price_level":"100.00","new_quantity":"1.5"},{"side":"offer","event_time":"${TS}","price_level":"101.00","new_quantity":"2"}]}]}`;
const subscriptions = (seq: number, level2: string[], heartbeats: boolean) =>
  `{"channel":"subscriptions","client_id":"","timestamp":"${TS}","sequence_num":${seq},"events":[{"subscriptions":{"level2":${JSON.stringify(level2)}${heartbeats ? ',"heartbeats":["heartbeats"]' : ""}}}]}`;

describe("coinbase: a product closed and reopened while its subscribe is out", { timeout: 20_000 }, () => {
  test("its snapshot, come while it was closed, is not waited for: the subscribe's answer resubscribes it", async () => {
    const products = ["BTC-USD"];
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
    expect(JSON.parse(received[1]!)).toMatchObject({ type: "subscribe", channel: "level2", product_ids: products });
    const ws = sockets[0]!;
    const inner = adapter as unknown as { lifecycle: TopicMembership; topics: TopicState[] };
    const t = inner.topics[0]!;

    ws.send(subscriptions(0, [], true)); // the heartbeats subscribe's answer
    inner.lifecycle.retire(t, StatusReason.INSTRUMENT_CLOSED); // closed: its subscribe is out, unanswered
    ws.send(snapshot(1, "BTC-USD")); // that subscribe's snapshot: ignored, the book closed
    await waitFor(() => adapter.stats().messages === 2, "the snapshot taken");
    inner.lifecycle.activate(t); // listed as trading again: that subscribe's answer will make it subscribed
    ws.send(subscriptions(2, products, true));
    // Before: the answer made it subscribed and nothing more was sent, the book AWAITING_SNAPSHOT until its stale time.
    await waitFor(() => received.length === 3, "the product resubscribed (its unsubscribe first)");
    expect(JSON.parse(received[2]!)).toMatchObject({ type: "unsubscribe", channel: "level2", product_ids: products });
    ws.send(subscriptions(3, [], true));
    await waitFor(() => received.length === 4, "the subscribe again");
    expect(JSON.parse(received[3]!)).toMatchObject({ type: "subscribe", channel: "level2", product_ids: products });
    ws.send(snapshot(4, "BTC-USD"));
    ws.send(subscriptions(5, products, true));
    await waitFor(() => adapter.topicState(0).state === "live", "the book LIVE on the new snapshot");
    expect(adapter.stats().reconnects).toBe(0);
  });
});
