/**
 * A venue reset whose u = 1 snapshot never arrived (chaos-shards seed 1202: the simulator's whole-server stall ate
 * the reset's snapshot; the deltas after it restart from u = 2): every later delta is below the live book's u.
 * Bybit's "u < local u: ignore" would leave the book LIVE at the old u until the topic went stale (60 s at depth 50),
 * the venue having moved on. On the socket that delivered the last u (TCP is ordered) such a delta can only be a
 * reset: the book is resynced at once (VENUE_RESET), counted once in venueResets. Scripted WebSocket server on 127.0.0.1.
 */
import type { Server, ServerWebSocket } from "bun";
import { afterEach, describe, expect, test } from "vitest";
import { BookState, StatusReason } from "../../../src/core/types.ts";
import { startPingedAAAUSDT, waitFor } from "./helpers.ts";

const TOPIC = "orderbook.50.AAAUSDT";
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

function book(type: "snapshot" | "delta", u: number, px: string): string {
  return `{"topic":"${TOPIC}","type":"${type}","ts":1700000000000,"data":{"s":"AAAUSDT","b":[["${px}","1.5"]],"a":[["101.0","2"]],"u":${u},"seq":${u * 7}},"cts":1699999999990}`;
}

describe("bybit: a reset whose snapshot was lost", { timeout: 15_000 }, () => {
  test("a delta below the live book's u on the socket that delivered it resyncs the book at once (VENUE_RESET)", async () => {
    let subscribes = 0;
    let u = 500;
    let resetU = 1; // the venue after its reset: u restarted, its u = 1 snapshot lost
    const server: Server<unknown> = Bun.serve<unknown>({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (req, srv) => (srv.upgrade(req, { data: {} }) ? undefined : new Response("nope", { status: 404 })),
      websocket: {
        message: (ws: ServerWebSocket<unknown>, m) => {
          const msg = JSON.parse(String(m)) as { op: string; req_id?: string };
          ws.send(JSON.stringify({ success: true, ret_msg: msg.op === "ping" ? "pong" : "", conn_id: "c", req_id: msg.req_id ?? "", op: msg.op }));
          if (msg.op === "subscribe" && ++subscribes === 1) {
            ws.send(book("snapshot", u, "100.5"));
            for (let i = 0; i < 3; i++) ws.send(book("delta", ++u, "100.5"));
          } else if (msg.op === "subscribe") ws.send(book("snapshot", ++resetU, "99.5")); // the resync: the venue's book now
          // After the reset, one delta per ping (far more often than the stale threshold), every one below u 503.
          else if (msg.op === "ping" && subscribes === 1) ws.send(book("delta", ++resetU, "99.5"));
        },
      },
    });
    cleanups.push(() => server.stop(true));
    const { adapter, sink } = await startPingedAAAUSDT(server.port!, 50, cleanups);
    await waitFor(() => subscribes === 2 && adapter.topicInfo(0).state === "live", "resynced after the reset");
    // Old: each delta was ignored as a duplicate; the book stayed LIVE at u 503 until it went stale (STALE_FEED).
    expect(sink.invalid[0]).toEqual({ index: 0, state: BookState.RESYNCING, reason: StatusReason.VENUE_RESET });
    expect(adapter.stats()).toMatchObject({ staleResyncs: 0, duplicates: 0, venueResets: 1 });
    expect(sink.lastU[0]).toBe(resetU); // the venue's book after the reset, not the one at u 503
    expect(sink.bids[0]).toEqual(new Map([[995, 15]]));
  });
});
