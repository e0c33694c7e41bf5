/**
 * A Bybit adapter in replay mode on one linear book (BTCUSDT, tick 0.1, lot 0.001) with frames fed straight into its
 * connection: `feed(type, u, px, old)` delivers a snapshot or delta on the connection's socket, or (old = true) on
 * the old socket of a planned reconnect's overlap, told apart as the planned reconnect does (fromRetiring).
 */
import { silentLogger } from "../../../src/core/log.ts";
import type { MarketName } from "../../../src/core/types.ts";
import type { BybitConnection } from "../../../src/venues/bybit/connection.ts";
import { createBybitAdapter } from "../../../src/venues/bybit/index.ts";
import { allResolved, RecordingSink, subsOf, venueConfig } from "./helpers.ts";

export async function replayedBybit(depth: number) {
  const markets: { market: MarketName; depth: number; symbols: string[] }[] = [{ market: "linear", depth, symbols: ["BTCUSDT"] }];
  const overrides = new Map([["linear:BTCUSDT", { tickSize: "0.1", lotSize: "0.001" }]]);
  const noServer = { wsUrl: "ws://127.0.0.1:1/v5/public", restUrl: "http://127.0.0.1:1" };
  const adapter = createBybitAdapter(venueConfig(noServer, markets, { overrides }), subsOf(markets), { log: silentLogger, recheckInstruments: false });
  const sink = new RecordingSink(allResolved(await adapter.loadInstruments()));
  adapter.startReplay(sink);
  const conn = (adapter as unknown as { conns: BybitConnection[] }).conns[0]!;
  const frame = (type: string, u: number, px: string) =>
    `{"topic":"orderbook.${depth}.BTCUSDT","type":"${type}","ts":1,"data":{"s":"BTCUSDT","b":[["${px}","1.000"]],"a":[["200.0","1.000"]],"u":${u},"seq":1},"cts":1}`;
  /** A frame on the connection's socket, or (old = true) on the old socket of an overlap. */
  const feed = (type: string, u: number, px: string, old = false) => {
    conn.fromRetiring = old;
    try {
      conn.onFrameAt(frame(type, u, px), 1);
    } finally {
      conn.fromRetiring = false;
    }
  };
  /** A recorded frame through replay's own path (ingestFrame): a `ws:old` event before it makes it the old socket's. */
  const ingest = (type: string, u: number, px: string) => adapter.ingestFrame("linear", conn.name, frame(type, u, px), 1);
  /** A recorded socket event of the connection (`ws:sockets`, `ws:swap`, `ws:old`, `ws:retired`, `ws:state`, `ws:back`). */
  const socketEvent = (url: string) => adapter.ingestConnectionEvent("linear", conn.name, url, 1);
  return { adapter, sink, conn, feed, ingest, socketEvent };
}
