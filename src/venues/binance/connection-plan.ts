/**
 * How the Binance adapter spreads its streams over connections (cold, once at construction): per market, runs of
 * at most PLANNED_STREAMS_PER_CONNECTION streams (the limit is 1024: docs/venues/binance.md, "Limits").
 * @module
 */
import type { MarketName } from "../../core/types.ts";
import type { VenueConfig } from "../../config/types.ts";
import type { Subscription } from "../venue.ts";
import type { BinanceAdapter } from "./adapter.ts";
import { BinanceConnection, BinanceTopic } from "./connection.ts";
import { MAX_STREAMS_PER_CONNECTION, PLANNED_STREAMS_PER_CONNECTION, depthStream, marketWsUrl } from "./protocol.ts";

export interface ConnectionPlan {
  readonly conns: BinanceConnection[];
  /** One per subscription, in subscription order. */
  readonly topics: BinanceTopic[];
}

/**
 * Fills connections of each market in subscription order. Two depths of one symbol share its one diff stream on
 * the venue, but each is its own topic with its own snapshot depth: they go on different connections (a
 * connection carries a stream once). Throws on a symbol configured twice at one depth.
 */
export function planConnections(adapter: BinanceAdapter, config: VenueConfig, subscriptions: readonly Subscription[], maxStreams: number): ConnectionPlan {
  const conns: BinanceConnection[] = [];
  const topics: BinanceTopic[] = [];
  const seen = new Set<string>();
  const limit = Math.min(maxStreams, MAX_STREAMS_PER_CONNECTION);
  const urlOf = (market: MarketName) => config.markets.find((m) => m.market === market)?.wsUrl ?? marketWsUrl(config.wsUrl, market);
  subscriptions.forEach((s, index) => {
    const stream = depthStream(s.symbol);
    const key = `${s.market}|${s.symbol}|${s.depth}`;
    if (seen.has(key)) throw new Error(`binance: ${s.market} ${s.symbol} at depth ${s.depth} is subscribed twice`);
    seen.add(key);
    let conn = conns.find((c) => c.market === s.market && c.topics.length < limit && !c.byTopic.has(stream));
    if (!conn) {
      conn = new BinanceConnection(adapter, conns.length, s.market, urlOf(s.market));
      conns.push(conn);
    }
    const t = new BinanceTopic(index, s.market, s.symbol, s.depth, stream, conn);
    conn.topics.push(t);
    conn.byTopic.set(stream, t);
    topics.push(t);
  });
  return { conns, topics };
}

export { PLANNED_STREAMS_PER_CONNECTION };
