/**
 * A frame whose handling threw (ConnectionLifecycle.frameFault) takes Deribit's own rule for a frame it refused
 * (DeribitAdapter.lost, the lifecycle's frameLost hook), not the lifecycle's default. Offline: no socket, no network.
 */
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { silentLogger } from "../../../src/core/log.ts";
import { SUB_ACTIVE, type TopicState } from "../../../src/venues/common/connection.ts";
import { DeribitAdapter } from "../../../src/venues/deribit/adapter.ts";
import { SCAN_ERR_SYNTAX } from "../../../src/venues/deribit/scanner.ts";
import { makeTempDir } from "../../support/temp-dirs.ts";

type Internals = { topics: TopicState[]; lifecycle: { frameFaultBound(conn: unknown, frame: string, err: unknown): void } };

function offlineAdapter(): DeribitAdapter {
  const config = {
    venue: "deribit" as const,
    wsUrl: "ws://127.0.0.1:9/ws/api/v2",
    restUrl: "http://127.0.0.1:9",
    instrumentCachePath: join(makeTempDir("deribit-offline"), "i.json"),
    markets: [{ market: "inverse" as const, depth: 0, symbols: ["BTC-PERPETUAL"] }],
    overrides: new Map(),
  };
  const refuse = (async () => {
    throw new Error("no network in this test");
  }) as unknown as typeof fetch;
  return new DeribitAdapter(config, [{ market: "inverse", symbol: "BTC-PERPETUAL", depth: 0 }], { log: silentLogger, fetch: refuse });
}

describe("Deribit: a frame whose handling threw follows the rule for a refused frame", () => {
  test("naming a book replay holds (a recorded unsubscribe, its subscribe not yet): spared as a refused frame of it is", () => {
    // Replay keeps a held book subscribed (live's is SUB_UNSUBSCRIBING, its frames ignored): onParseError spares it,
    // the lifecycle's default resynced it on a thrown frame (until s-faulthook2: resyncs 1 for 0), replay then
    // diverging from live. Held or not, each way's count: [refused, thrown].
    const resyncs = (held: boolean) =>
      [false, true].map((thrown) => {
        const adapter = offlineAdapter();
        const t = (adapter as unknown as Internals).topics[0]!;
        t.sub = SUB_ACTIVE;
        t.replayUnsubscribing = held;
        const frame = `{"jsonrpc":"2.0","method":"subscription","params":{"channel":"${t.topic}","data":{"type":"change","timestamp":1,"change_id":2,"prev_change_id":1,"bids":[],"asks":[]}}}`;
        if (thrown) (adapter as unknown as Internals).lifecycle.frameFaultBound(t.conn, frame, new Error("thrown"));
        else adapter.onParseError(t.conn as never, -1, SCAN_ERR_SYNTAX, frame);
        return adapter.stats().resyncs;
      });
    expect(resyncs(true)).toEqual([0, 0]);
    expect(resyncs(false)).toEqual([1, 1]); // not held: both resync it
  });

  test("naming none: every book of the connection resyncs but one replay holds (live's is unsubscribing, spared)", () => {
    // Until s-faulthook2 resyncAll resynced the held book in replay, refused frame or thrown (resyncs [1,1] for [0,0]),
    // where live spares its unsubscribing one.
    const resyncs = (held: boolean) =>
      [false, true].map((thrown) => {
        const adapter = offlineAdapter();
        const t = (adapter as unknown as Internals).topics[0]!;
        t.sub = SUB_ACTIVE;
        t.replayUnsubscribing = held;
        if (thrown) (adapter as unknown as Internals).lifecycle.frameFaultBound(t.conn, "{}", new Error("thrown"));
        else adapter.onParseError(t.conn as never, -1, SCAN_ERR_SYNTAX, "{");
        return adapter.stats().resyncs;
      });
    expect(resyncs(true)).toEqual([0, 0]);
    expect(resyncs(false)).toEqual([1, 1]);
  });
});
