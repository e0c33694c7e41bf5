/**
 * A frame whose handling threw (ConnectionLifecycle.frameFault) takes Coinbase's own rule for a frame it could not
 * read (the lifecycle's frameLost hook, adapter.ts frameLost): naming no single product, its sequence_num or its book
 * is unknown, so the connection resyncs (one reconnect, its books subscribed afresh by the new socket's one
 * subscribe), as an unreadable frame's does (onParseError). Before, the lifecycle's default resynced each book alone
 * (an unsubscribe and a subscribe each: ~2 messages a book against the 8-a-second budget) on the same socket. Real
 * simulator on 127.0.0.1.
 */
import { afterEach, describe, expect, test } from "vitest";
import { BookState, StatusReason } from "../../../src/core/types.ts";
import type { VenueConnection } from "../../../src/venues/common/connection.ts";
import { startSimAndAdapter, waitFor } from "./helpers.ts";

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!().catch(() => undefined);
});

const PRODUCTS = ["BTC-USD", "ETH-USD", "SOL-USD"];

async function liveRig() {
  const rig = await startSimAndAdapter({ products: PRODUCTS, levels: 5, seed: 11, heartbeatMs: 20 }, cleanup);
  rig.sim.step(1);
  const allMatch = () => PRODUCTS.every((p, i) => rig.sink.matches(rig.sim, i, p));
  await waitFor(allMatch, "books live");
  const conn = (rig.adapter as unknown as { conns: VenueConnection[] }).conns[0]!;
  return { ...rig, conn, allMatch };
}

describe("coinbase: a frame whose handling threw", { timeout: 20_000 }, () => {
  test("naming no single product: the connection resyncs (one reconnect), no book resynced alone", async () => {
    const { sim, adapter, sink, conn, allMatch } = await liveRig();
    const before = adapter.stats();
    conn.frameFailed('{"channel":"heartbeats","sequence_num":99}', new Error("thrown (test)"));
    const s = adapter.stats();
    // Before: resyncs +3 (an unsubscribe and a subscribe each), connectionResyncs and reconnects unchanged.
    expect([s.resyncs! - before.resyncs!, s.connectionResyncs! - before.connectionResyncs!, s.reconnects! - before.reconnects!]).toEqual([0, 1, 1]);
    expect(sink.invalid.map((x) => [x.index, x.state, x.reason])).toEqual(PRODUCTS.map((_, i) => [i, BookState.RESYNCING, StatusReason.PARSE_ERROR]));
    sim.step(2);
    await waitFor(allMatch, "books equal again from the new socket's snapshots");
  });
});

describe("coinbase: an event of a product not on the connection", { timeout: 20_000 }, () => {
  test("counted in unknown_topic_total as the other venues' unknown topics, not as a parse error; the connection resyncs as before", async () => {
    const { sim, adapter, sink, conn, allMatch } = await liveRig();
    const before = adapter.stats();
    (conn as unknown as { onFrame(data: string): void }).onFrame(
      '{"channel":"l2_data","client_id":"","timestamp":"2026-01-01T00:00:00Z","sequence_num":999999,"events":[{"type":"update","product_id":"DOGE-USD","updates":[]}]}',
    );
    const s = adapter.stats();
    // Before: parseErrors +1 and parseErrors.unknown_product 1, unknownTopic unchanged.
    expect([s.unknownTopic! - before.unknownTopic!, s.parseErrors! - before.parseErrors!, s["parseErrors.unknown_product"]]).toEqual([1, 0, undefined]);
    expect([s.connectionResyncs! - before.connectionResyncs!, s.reconnects! - before.reconnects!]).toEqual([1, 1]);
    expect(sink.invalid.map((x) => [x.index, x.state, x.reason])).toEqual(PRODUCTS.map((_, i) => [i, BookState.RESYNCING, StatusReason.PARSE_ERROR]));
    sim.step(2);
    await waitFor(allMatch, "books equal again from the new socket's snapshots");
  });
});
