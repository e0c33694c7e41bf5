/**
 * A Binance adapter not started (no socket, no REST), one BTCUSDT stream of `market`; its warnings' details go into
 * `warnings`. For tests that feed frames to a connection by hand.
 */
import { join } from "node:path";
import type { Logger } from "../../../src/core/log.ts";
import { BookState, type StatusReason } from "../../../src/core/types.ts";
import type { VenueConfig } from "../../../src/config/types.ts";
import { BinanceAdapter } from "../../../src/venues/binance/adapter.ts";
import type { StreamTable } from "../../../src/venues/binance/index.ts";
import { SUB_ACTIVE, type TopicState } from "../../../src/venues/common/connection.ts";
import type { BookSink } from "../../../src/venues/venue.ts";
import { makeTempDir } from "../../support/temp-dirs.ts";

export function offlineAdapter(market: "spot" | "linear", warnings: string[], tempName: string): BinanceAdapter {
  const config: VenueConfig = {
    venue: "binance",
    wsUrl: "ws://127.0.0.1:9/ws",
    restUrl: "http://127.0.0.1:9",
    instrumentCachePath: join(makeTempDir(tempName), "i.json"),
    markets: [{ market, depth: 100, symbols: ["BTCUSDT"] }],
    overrides: new Map(),
  };
  const log: Logger = {
    debug() {},
    info() {},
    warn: (msg, fields) => void warnings.push(`${msg}: ${String(fields?.detail)}`),
    error() {},
    child: () => log,
  };
  const refuse = (async () => {
    throw new Error("no network in this test");
  }) as unknown as typeof fetch;
  return new BinanceAdapter(config, [{ market, symbol: "BTCUSDT", depth: 100 }], { log, fetch: refuse });
}

/** An offline adapter's BTCUSDT stream, LIVE at last id `lastSeq` and subscribed, its sink recording what it is told. */
export interface LiveStream {
  adapter: BinanceAdapter;
  t: TopicState;
  /** Feeds one frame as the connection's socket would. */
  feed(frame: string): void;
  /** venueSeq of each update applied. */
  applied: number[];
  invalid: [BookState, StatusReason][];
}

export function liveOfflineStream(market: "spot" | "linear", warnings: string[], tempName: string, lastSeq = 9): LiveStream {
  const adapter = offlineAdapter(market, warnings, tempName);
  const t = (adapter as unknown as { topics: TopicState[] }).topics[0]!;
  const applied: number[] = [];
  const invalid: [BookState, StatusReason][] = [];
  const sink: BookSink = {
    onBookUpdate: (_i, u) => void applied.push(u.venueSeq),
    onBookInvalid: (_i, state, reason) => void invalid.push([state, reason]),
    onInstrumentChanged: () => {},
  };
  (adapter as unknown as { sink: BookSink }).sink = sink;
  (adapter as unknown as { books: { sink: BookSink } }).books.sink = sink;
  t.sub = SUB_ACTIVE;
  t.book = BookState.LIVE;
  t.lastSeq = lastSeq;
  const conn = t.conn as unknown as { table: StreamTable; onFrameAt(frame: string, tsRecvUs: number): void };
  conn.table.addStream(t.topic, "BTCUSDT", t.index, 2, 5); // as its subscribe does
  return { adapter, t, feed: (frame) => conn.onFrameAt(frame, 0), applied, invalid };
}
