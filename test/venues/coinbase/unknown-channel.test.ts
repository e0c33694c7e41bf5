/**
 * A frame on a channel the adapter does not read (neither l2_data, heartbeats, subscriptions nor an error) whose
 * events name products of the connection, as book data would under a channel name the adapter does not know (one
 * Coinbase renamed or added). Coinbase's only sequence is the connection's, so the frame's sequence_num is taken and
 * nothing shows what it held: before, it was ignored (a debug line) and the books it named stayed LIVE without its
 * updates, different from the venue's. Now each book it names resyncs alone (the sequence is intact), counted under
 * parse error `channel`. Real simulator behind a proxy that renames the channel of one l2_data frame.
 */
import { afterEach, describe, expect, test } from "vitest";
import { BookState, StatusReason } from "../../../src/core/types.ts";
import { startCoinbaseSimulator } from "../../../src/sim/coinbase-sim.ts";
import { startRewritten, waitFor } from "./helpers.ts";

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanup.length > 0) await Promise.resolve(cleanup.pop()!()).catch(() => undefined);
});

const PRODUCTS = ["BTC-USD", "ETH-USD", "SOL-USD"];

describe("coinbase: a frame on a channel the adapter does not read", { timeout: 20_000 }, () => {
  test("naming products of the connection: each of their books resyncs alone (no reconnect); the other books stay LIVE", async () => {
    const sim = await startCoinbaseSimulator({ products: PRODUCTS, seed: 7, levels: 10, heartbeatMs: 50 });
    let armed = false;
    let renamed = "";
    const rewrite = (f: string): string => {
      // The first connection's next frame carrying BTC-USD's update (ETH-USD's too when it moved), its channel renamed.
      if (!armed || !f.startsWith('{"channel":"l2_data"') || !f.includes('"type":"update","product_id":"BTC-USD"')) return f;
      armed = false;
      renamed = f.replace('{"channel":"l2_data"', '{"channel":"l2_data_v2"');
      return renamed;
    };
    const { adapter, sink, allMatch } = await startRewritten(sim, PRODUCTS, rewrite, cleanup);
    expect(adapter.connectionOf(0)).toBe(adapter.connectionOf(1));
    expect(adapter.connectionOf(2)).not.toBe(adapter.connectionOf(0));
    const before = adapter.stats();

    armed = true;
    // Steps until a frame of the first connection carries BTC-USD's update (it need not move every step).
    await waitFor(() => {
      if (armed) sim.step(1);
      return !armed;
    }, "a frame renamed");
    const named = [0, 1].filter((i) => renamed.includes(`"product_id":"${PRODUCTS[i]}"`));
    // Each book the frame named left LIVE (its update lost), and only those.
    await waitFor(() => named.every((i) => sink.invalid.some((x) => x.index === i)), "the named books invalidated");
    for (const i of named) expect(sink.invalid.find((x) => x.index === i)).toMatchObject({ state: BookState.RESYNCING, reason: StatusReason.PARSE_ERROR });
    expect(sink.invalid.filter((x) => !named.includes(x.index))).toEqual([]);
    // Resubscribed on the same socket: LIVE and equal again.
    sim.step(2);
    await waitFor(() => allMatch() && PRODUCTS.every((_, i) => adapter.topicState(i).state === "live"), "books live and equal again");
    const s = adapter.stats();
    expect([s.reconnects, s.gaps, s.connectionResyncs]).toEqual([before.reconnects, 0, 0]);
    expect(s["parseErrors.channel"]).toBe(1);
    expect(s.resyncs).toBe(before.resyncs! + named.length);
  });
});
