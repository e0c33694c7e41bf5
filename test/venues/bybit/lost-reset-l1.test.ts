/**
 * Level 1 sends only snapshots (§4.2). After a venue reset whose u = 1 snapshot never arrived, every later snapshot
 * is below the live book's u: Bybit's rule ignores it (`olderSnapshots`), and if those ignored snapshots counted as
 * liveness the book would stay LIVE at its old best levels for good, the venue having moved on. They do not: the
 * topic goes stale after staleAfterMs and is resynced, as lost-reset.test.ts has it for deltas at depth 50. A level 1
 * re-push (the same u) still counts. Scripted WebSocket server on 127.0.0.1.
 */
import type { Server, ServerWebSocket } from "bun";
import { afterEach, describe, expect, test } from "vitest";
import { BookState, StatusReason } from "../../../src/core/types.ts";
import { startPingedAAAUSDT, waitFor } from "./helpers.ts";

const TOPIC = "orderbook.1.AAAUSDT";
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** Level 1 as spot and futures level 1 send it: `ts` before `type` (§4.2), one level a side. */
function snapshot(u: number, px: string): string {
  return `{"topic":"${TOPIC}","ts":1700000000000,"type":"snapshot","data":{"s":"AAAUSDT","b":[["${px}","1.5"]],"a":[["101.0","2"]],"u":${u},"seq":${u * 7}},"cts":1699999999990}`;
}

describe("bybit level 1: a reset whose snapshot was lost", { timeout: 15_000 }, () => {
  test("snapshots that restarted below the live book's u are ignored, not liveness: the topic goes stale and resyncs", async () => {
    let subscribes = 0;
    let pings = 0;
    const u = 500;
    let resetU = 1; // the venue after its reset: u restarted, its u = 1 snapshot lost
    const server: Server<unknown> = Bun.serve<unknown>({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (req, srv) => (srv.upgrade(req, { data: {} }) ? undefined : new Response("nope", { status: 404 })),
      websocket: {
        message: (ws: ServerWebSocket<unknown>, m) => {
          const msg = JSON.parse(String(m)) as { op: string; req_id?: string };
          ws.send(JSON.stringify({ success: true, ret_msg: msg.op === "ping" ? "pong" : "", conn_id: "c", req_id: msg.req_id ?? "", op: msg.op }));
          if (msg.op === "subscribe" && ++subscribes === 1) ws.send(snapshot(u, "100.5"));
          else if (msg.op === "subscribe") ws.send(snapshot(++resetU, "99.5")); // the resync: the venue's book now
          else if (msg.op === "ping" && subscribes === 1) {
            // Before the reset, two re-pushes of u 500 (liveness); after it, one snapshot per ping (far more often
            // than the stale threshold), every one below u 500.
            ws.send(++pings <= 2 ? snapshot(u, "100.5") : snapshot(++resetU, "99.5"));
          }
        },
      },
    });
    cleanups.push(() => server.stop(true));
    const { adapter, sink } = await startPingedAAAUSDT(server.port!, 1, cleanups);
    // Old: every ignored snapshot refreshed the topic's liveness; it stayed LIVE at u 500 (bid 100.5) for good.
    await waitFor(() => subscribes === 2 && adapter.topicInfo(0).state === "live", "resynced after the ignored snapshots");
    expect(adapter.stats().repeatedSnapshots).toBe(2);
    expect(adapter.stats().olderSnapshots).toBeGreaterThan(0);
    expect(adapter.stats().staleResyncs).toBe(1);
    expect(sink.invalid[0]).toEqual({ index: 0, state: BookState.STALE, reason: StatusReason.STALE_FEED });
    expect(sink.lastU[0]).toBe(resetU); // the venue's book after the reset, not the one at u 500
    expect(sink.bids[0]).toEqual(new Map([[995, 15]]));
  });
});
