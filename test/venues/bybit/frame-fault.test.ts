/**
 * A frame whose handling threw (ConnectionLifecycle.frameFault) takes Bybit's own rule for a frame it refused
 * (BybitAdapter.lost, the lifecycle's frameLost hook), not the lifecycle's default. Offline: no socket, no network.
 */
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { silentLogger } from "../../../src/core/log.ts";
import { SUB_ACTIVE, type TopicState } from "../../../src/venues/common/connection.ts";
import { BybitAdapter } from "../../../src/venues/bybit/adapter.ts";
import { SCAN_ERR_SYNTAX } from "../../../src/venues/bybit/scan-codes.ts";
import { makeTempDir } from "../../support/temp-dirs.ts";

type Internals = { topics: TopicState[]; lifecycle: { frameFaultBound(conn: unknown, frame: string, err: unknown): void } };

function offlineAdapter(): BybitAdapter {
  const config = {
    venue: "bybit" as const,
    wsUrl: "ws://127.0.0.1:9/v5/public/spot",
    restUrl: "http://127.0.0.1:9",
    instrumentCachePath: join(makeTempDir("bybit-offline"), "i.json"),
    markets: [{ market: "spot" as const, depth: 50, symbols: ["AUSDT"] }],
    overrides: new Map(),
  };
  const refuse = (async () => {
    throw new Error("no network in this test");
  }) as unknown as typeof fetch;
  return new BybitAdapter(config, [{ market: "spot", symbol: "AUSDT", depth: 50 }], { log: silentLogger, fetch: refuse });
}

describe("Bybit: a frame whose handling threw follows the rule for a refused frame", () => {
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
        const frame = `{"topic":"${t.topic}","type":"delta","ts":1,"data":{"s":"AUSDT","b":[],"a":[],"u":2,"seq":3}}`;
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
