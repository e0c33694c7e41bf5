/**
 * How the Bybit adapter spreads its subscriptions over connections (cold, once at construction): one run of
 * connections per market, each within the documented limits (≤ 21,000 args characters, ≤ 2000 args on option, §2.3).
 * @module
 */
import type { MarketName } from "../../core/types.ts";
import type { VenueConfig } from "../../config/types.ts";
import type { Subscription } from "../venue.ts";
import type { BybitAdapter } from "./adapter.ts";
import { BybitConnection, type BybitTopic, TopicState } from "./connection.ts";
import { MAX_ARGS_CHARS_PER_CONNECTION, OPTION_MAX_ARGS_PER_CONNECTION, bookTopic } from "./protocol.ts";

export interface ConnectionPlan {
  readonly conns: BybitConnection[];
  /** One per subscription, in subscription order (topics[i].index === i). */
  readonly topics: BybitTopic[];
}

/**
 * Fills connections of each market in subscription order, opening a new one when the next topic would breach a
 * limit. `maxTopics` is an extra cap (tests use it to force several connections). Throws on a duplicate topic.
 */
export function planConnections(
  adapter: BybitAdapter,
  config: VenueConfig,
  subscriptions: readonly Subscription[],
  maxTopics: number,
): ConnectionPlan {
  const conns: BybitConnection[] = [];
  const topics: BybitTopic[] = [];
  const seen = new Set<string>();
  const current = new Map<MarketName, BybitConnection>();
  // A market's own `ws_url` where configured, else the venue's base with the market appended (`…/v5/public/linear`).
  const urlOf = (market: MarketName) => config.markets.find((m) => m.market === market)?.wsUrl ?? `${config.wsUrl.replace(/\/+$/, "")}/${market}`;
  subscriptions.forEach((s, index) => {
    const topic = bookTopic(s.depth, s.symbol);
    const key = `${s.market}|${topic}`;
    if (seen.has(key)) throw new Error(`bybit: ${s.market} ${topic} is subscribed twice`);
    seen.add(key);
    // The args array as JSON: the quoted topic plus a comma.
    const argChars = JSON.stringify(topic).length + 1;
    const limit = Math.min(maxTopics, s.market === "option" ? OPTION_MAX_ARGS_PER_CONNECTION : Infinity);
    let conn = current.get(s.market);
    if (!conn || conn.argsChars + argChars > MAX_ARGS_CHARS_PER_CONNECTION || conn.topics.length >= limit) {
      conn = new BybitConnection(adapter, conns.length, s.market, urlOf(s.market));
      conns.push(conn);
      current.set(s.market, conn);
    }
    const t: BybitTopic = new TopicState(index, s.market, s.symbol, s.depth, topic, conn);
    conn.argsChars += argChars;
    conn.topics.push(t);
    conn.byTopic.set(topic, t);
    topics.push(t);
  });
  return { conns, topics };
}
