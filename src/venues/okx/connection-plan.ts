/**
 * OKX topics → connections: per market, at most maxTopics per connection (OKX: fewer than 30 channels,
 * docs/venues/okx.md [F2]); each market's URL is its own `ws_url` or the venue's (one public URL for all). Cold.
 * @module
 */
import type { MarketName } from "../../core/types.ts";
import type { VenueConfig } from "../../config/types.ts";
import { TopicState } from "../common/connection.ts";
import type { Subscription } from "../venue.ts";
import type { OkxAdapter } from "./adapter.ts";
import { OkxConnection, type OkxTopic } from "./connection.ts";
import { channelOf, topicName } from "./protocol.ts";

export function planConnections(adapter: OkxAdapter, config: VenueConfig, subscriptions: readonly Subscription[], maxTopics: number): { conns: OkxConnection[]; topics: OkxTopic[] } {
  const per = Math.max(1, maxTopics);
  const byMarket = new Map<MarketName, number[]>();
  subscriptions.forEach((s, i) => {
    const list = byMarket.get(s.market) ?? [];
    list.push(i);
    byMarket.set(s.market, list);
  });
  const conns: OkxConnection[] = [];
  const topics: OkxTopic[] = new Array(subscriptions.length);
  for (const [market, indexes] of byMarket) {
    const url = config.markets.find((m) => m.market === market)?.wsUrl ?? config.wsUrl;
    for (let k = 0; k < indexes.length; k += per) {
      const conn = new OkxConnection(adapter, conns.length, market, url);
      conns.push(conn);
      for (const i of indexes.slice(k, k + per)) {
        const s = subscriptions[i]!;
        const t = new TopicState<OkxConnection>(i, market, s.symbol, s.depth, topicName(channelOf(s.depth), s.symbol), conn);
        conn.topics.push(t);
        conn.byTopic.set(t.topic, t);
        topics[i] = t;
      }
    }
  }
  return { conns, topics };
}
