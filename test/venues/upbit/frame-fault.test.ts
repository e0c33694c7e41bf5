/**
 * A frame whose handling threw (ConnectionLifecycle.frameFault) takes Upbit's (and Bithumb's) own rule for a frame it
 * refused (UpbitAdapter.lost, the lifecycle's frameLost hook), not the lifecycle's default; a book of a code not on the
 * connection is counted once (unknown-topic-rule.ts). Offline: no socket.
 */
import { describe, expect, test } from "vitest";
import { BookState } from "../../../src/core/types.ts";
import { SUB_ACTIVE, SUB_PENDING, type TopicState } from "../../../src/venues/common/connection.ts";
import { UpbitAdapter, UPBIT_DIALECT } from "../../../src/venues/upbit/index.ts";
import { SCAN_ERR_SYNTAX } from "../../../src/venues/upbit/scanner.ts";
import { unknownTopicRuleTests } from "../common/unknown-topic-rule.ts";
import { offlineVenue } from "../common/offline-venue.ts";

type Internals = { topics: TopicState[]; lifecycle: { frameFaultBound(conn: unknown, frame: string, err: unknown): void } };

function offlineAdapter(symbols: string[]): UpbitAdapter {
  const o = offlineVenue("upbit", "spot", 30, symbols, "/websocket/v1");
  return new UpbitAdapter(o.config, o.subscriptions, UPBIT_DIALECT, o.options);
}

describe("Upbit: a frame whose handling threw follows the rule for a refused frame", () => {
  test("naming no code: only the connection's LIVE books resync, not one still waiting for its first book", () => {
    // Each Upbit book frame is a whole book: one not LIVE loses nothing it has not already. onParseError resyncs only
    // the LIVE ones; until s-faulthook2 a thrown frame naming none resynced the waiting one too (resyncs 2 for 1).
    // Each way's [resyncs, the waiting book's resyncs]: [refused, thrown].
    const counts = [false, true].map((thrown) => {
      const adapter = offlineAdapter(["KRW-AAA", "KRW-BBB"]);
      const [live, waiting] = (adapter as unknown as Internals).topics;
      live!.sub = SUB_ACTIVE;
      live!.book = BookState.LIVE;
      waiting!.sub = SUB_PENDING;
      expect(waiting!.conn).toBe(live!.conn);
      if (thrown) (adapter as unknown as Internals).lifecycle.frameFaultBound(live!.conn, "{}", new Error("thrown"));
      else adapter.onParseError(live!.conn as never, -1, SCAN_ERR_SYNTAX, "{");
      return [adapter.stats().resyncs, waiting!.resyncs];
    });
    expect(counts).toEqual([
      [1, 0],
      [1, 0],
    ]);
  });
});

// KRW-AAA's book, its code garbled.
const garbled = `{"ty":"orderbook","cd":"KRW-AAX","tms":1,"tas":1,"tbs":1,"obu":[{"ap":2,"bp":1,"as":1,"bs":1}],"st":"REALTIME","lv":0}`;
unknownTopicRuleTests("Upbit", () => offlineAdapter(["KRW-AAA", "KRW-BBB"]), garbled, (adapter, conn, frame) => adapter.onUnknownCode(conn as never, frame), {
  topic: "KRW-CCC",
  frame: `{"ty":"orderbook","cd":"KRW-CCC","tms":1,"tas":1,"tbs":1,"obu":[{"ap":2,"bp":1,"as":1,"bs":1}],"st":"REALTIME","lv":0}`,
});
