/**
 * A Bybit adapter in replay mode on one linear book (BTCUSDT, tick 0.1, lot 0.001) with frames fed straight into its
 * connection: `feed(type, u, px, old)` delivers a snapshot or delta on the connection's socket, or (old = true) on
 * the old socket of a planned reconnect's overlap, told apart as the planned reconnect does (fromRetiring).
 */
import { expect } from "vitest";
import { type Logger, silentLogger } from "../../../src/core/log.ts";
import type { MarketName } from "../../../src/core/types.ts";
import type { BybitConnection } from "../../../src/venues/bybit/connection.ts";
import { createBybitAdapter } from "../../../src/venues/bybit/index.ts";
import { allResolved, RecordingSink, subsOf, venueConfig } from "./helpers.ts";

export async function replayedBybit(depth: number, opts: { now?: () => number; log?: Logger } = {}) {
  const markets: { market: MarketName; depth: number; symbols: string[] }[] = [{ market: "linear", depth, symbols: ["BTCUSDT"] }];
  const overrides = new Map([["linear:BTCUSDT", { tickSize: "0.1", lotSize: "0.001" }]]);
  const noServer = { wsUrl: "ws://127.0.0.1:1/v5/public", restUrl: "http://127.0.0.1:1" };
  const adapter = createBybitAdapter(venueConfig(noServer, markets, { overrides }), subsOf(markets), { log: silentLogger, recheckInstruments: false, ...opts });
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

/** One record of a live run's capture: a frame (`url` undefined) or a connection event (ws:open, ws:swap, ws:req …). */
type CaptureRecord = { conn: string; frame: string; url?: undefined } | { conn: string; url: string; body: string };

/**
 * A live Bybit adapter (linear BTCUSDT at `depth`) on FakeWs sockets (the caller stubs the global WebSocket) whose
 * taps record a capture as `feeder record` does (every frame as received, every socket event and written request),
 * and a replay adapter of the same config: `replayUpTo()` feeds it the records not fed yet, so a test compares the
 * two books after every step of the live run.
 */
export async function liveAndReplayedBybit(depth: number, sockets: () => { readyState: number; sent: string[]; onopen: (() => void) | null; onmessage: ((ev: { data: string }) => void) | null; onclose: ((ev: { code: number; reason: string }) => void) | null }[]) {
  const markets: { market: MarketName; depth: number; symbols: string[] }[] = [{ market: "linear", depth, symbols: ["BTCUSDT"] }];
  const overrides = new Map([["linear:BTCUSDT", { tickSize: "0.1", lotSize: "0.001" }]]);
  const noServer = { wsUrl: "ws://127.0.0.1:1/v5/public", restUrl: "http://127.0.0.1:1" };
  const records: CaptureRecord[] = [];
  const live = createBybitAdapter(venueConfig(noServer, markets, { overrides }), subsOf(markets), {
    log: silentLogger,
    recheckInstruments: false,
    housekeepingMs: 3_600_000, // no round runs during the test: every step is the test's
    onRawFrame: (_market, conn, frame) => void records.push({ conn, frame }),
    onRawRest: (_market, conn, url, body) => void records.push({ conn, url, body }),
  });
  const liveSink = new RecordingSink(allResolved(await live.loadInstruments()));
  const replay = createBybitAdapter(venueConfig(noServer, markets, { overrides }), subsOf(markets), { log: silentLogger, recheckInstruments: false });
  const replaySink = new RecordingSink(allResolved(await replay.loadInstruments()));
  replay.startReplay(replaySink);
  live.start(liveSink);
  const conn = (live as unknown as { conns: BybitConnection[] }).conns[0]!;
  const planned = (live as unknown as { lifecycle: { planned: { start(c: BybitConnection, why: string): void } } }).lifecycle.planned;
  const frame = (type: string, u: number, px: string) =>
    `{"topic":"orderbook.${depth}.BTCUSDT","type":"${type}","ts":1,"data":{"s":"BTCUSDT","b":[["${px}","1.000"]],"a":[["200.0","1.000"]],"u":${u},"seq":1},"cts":1}`;
  /** Socket `i` (0: the first, 1: a planned reconnect's replacement …) receives `data`. */
  const deliver = (i: number, data: string) => sockets()[i]!.onmessage!({ data });
  /** Socket `i` acks its last written request (linear's shape, by req_id). */
  const ack = (i: number) => {
    const sent = sockets()[i]!.sent.filter((s) => s.includes('"subscribe"') || s.includes('"unsubscribe"'));
    const req = JSON.parse(sent[sent.length - 1]!) as { req_id: string; op: string };
    deliver(i, JSON.stringify({ success: true, ret_msg: "", conn_id: "c", req_id: req.req_id, op: req.op }));
  };
  let fed = 0;
  const replayUpTo = () => {
    for (; fed < records.length; fed++) {
      const r = records[fed]!;
      if (r.url === undefined) replay.ingestFrame("linear", r.conn, r.frame, 1);
      else replay.ingestConnectionEvent("linear", r.conn, r.url, 1, r.body);
    }
  };
  /** The two books (state, u, bid levels) after the records so far. */
  const books = () => {
    replayUpTo();
    const view = (a: typeof live, s: RecordingSink) => ({ state: a.topicInfo(0).state, lastU: a.topicInfo(0).lastU, bids: a.topicInfo(0).state === "live" ? s.bids[0] : undefined });
    return { live: view(live, liveSink), replay: view(replay, replaySink) };
  };
  /** books(), replay's asserted equal to live's, and the invalid books each published: live's book. */
  const same = (what: string) => {
    const b = books();
    expect(b.replay, what).toEqual(b.live);
    expect(replaySink.invalid, what).toEqual(liveSink.invalid);
    return b.live;
  };
  return { live, replay, liveSink, replaySink, conn, records, frame, deliver, ack, books, same, replanned: () => planned.start(conn, "test"), stop: () => {
    for (const ws of sockets()) ws.readyState = 3; // closed: the stop waits for no close event of a fake socket
    return Promise.all([live.stop(), replay.stop()]);
  } };
}
