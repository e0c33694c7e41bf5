/**
 * Level 1 sends only snapshots (§4.2). After a venue reset whose u = 1 snapshot never arrived, every later snapshot
 * is below the live book's u. Ignoring them (as a make-before-break's trailing replacement snapshot is) left the book
 * LIVE at its old best levels until the topic went stale. On the socket that delivered the last u (TCP is ordered)
 * an older full snapshot can only mean the venue reset: it replaces the book at once (Bybit: "on any new snapshot,
 * reset the local book"), counted in venueResets; the book never leaves LIVE and no resync is needed. A level 1
 * re-push (the same u) still changes nothing. Scripted WebSocket server on 127.0.0.1.
 */
import type { Server, ServerWebSocket } from "bun";
import { afterEach, describe, expect, test } from "vitest";
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
  test("a snapshot below the live book's u on the socket that delivered it replaces the book at once", async () => {
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
          else if (msg.op === "subscribe") ws.send(snapshot(++resetU, "99.5")); // a resync (none expected)
          else if (msg.op === "ping" && subscribes === 1) {
            // Before the reset, two re-pushes of u 500; after it, one snapshot per ping (far more often than the
            // stale threshold), the first below u 500.
            ws.send(++pings <= 2 ? snapshot(u, "100.5") : snapshot(++resetU, "99.5"));
          }
        },
      },
    });
    cleanups.push(() => server.stop(true));
    const { adapter, sink } = await startPingedAAAUSDT(server.port!, 1, cleanups);
    // Old: the reset's snapshots were ignored (olderSnapshots) until the topic went stale and was resubscribed.
    await waitFor(() => sink.bids[0]?.has(995) === true, "the venue's book after the reset");
    expect(adapter.stats()).toMatchObject({ repeatedSnapshots: 2, olderSnapshots: 0, venueResets: 1, staleResyncs: 0, resyncs: 0 });
    expect(sink.invalid).toEqual([]); // replaced in place: never shown other than the venue's book, never left LIVE
    expect(subscribes).toBe(1);
    expect(sink.bids[0]).toEqual(new Map([[995, 15]]));
    expect(adapter.topicInfo(0)).toMatchObject({ state: "live" });
    expect(sink.lastU[0]).toBeLessThan(u);
  });
});
