/**
 * Venue metric samples (venue.ts VenueMetric) from the counters every adapter shares (cold, at scrape time).
 * Per-connection counters carry { market, connection } labels and nothing else sums them, so sum() over a name
 * never double-counts; adapter-wide counters carry no label of their own, except `connect_budget` where each market
 * has its own connect gate (`{market}`, and no unlabelled one beside it).
 * @module
 */
import type { MarketName } from "../../core/types.ts";
import type { VenueConnectionState, VenueMetric } from "../venue.ts";
import type { VenueConnection } from "./connection.ts";

export function counter(name: string, help: string, value: number, labels: Readonly<Record<string, string>> = {}): VenueMetric {
  return { name, help, type: "counter", labels, value };
}

export function gauge(name: string, help: string, value: number, labels: Readonly<Record<string, string>> = {}): VenueMetric {
  return { name, help, type: "gauge", labels, value };
}

/** One connect gate's budget (ConnectionLifecycle.connectBudgets): the venue's (market null), or one market's. */
export interface ConnectBudget {
  readonly market: MarketName | null;
  /** Connects allowed per connect window: this process's share of the host's per-IP limit. */
  readonly connectsPerWindow: number;
}

/**
 * The counters of ../common/connection.ts, one series per used connection, and `connect_budget`, one per connect gate
 * (`gates`: the lifecycle's connectBudgets()): unlabelled for the venue's one gate, `{market}` where each market has
 * its own (never both, so a sum over the name is the process's connects per window over all its hosts).
 */
export function connectionMetrics(conns: readonly VenueConnection[], gates: readonly ConnectBudget[]): VenueMetric[] {
  const out: VenueMetric[] = [];
  for (const g of gates) {
    const help = "Connects per window this process may make (its share of the per-IP budget; per market where each market is its own host)";
    out.push(gauge("connect_budget", help, g.connectsPerWindow, g.market === null ? {} : { market: g.market }));
  }
  for (const c of conns) {
    if (!c.used) continue; // never opened: counts nowhere
    const l = { market: c.market, connection: c.name };
    out.push(
      gauge("connection_up", "1 while the WebSocket connection is open", c.open ? 1 : 0, l),
      gauge("connection_topics", "Book channels assigned to the connection", c.topics.length, l),
      counter("messages_received_total", "WebSocket frames received", c.messages, l),
      counter("received_bytes_total", "Characters of WebSocket frames received", c.bytes, l),
      counter("parse_errors_total", "Frames rejected as malformed", c.parseErrors, l),
      counter("frame_errors_total", "Frames whose handling threw (contained: the books the frame names resync, every book of the connection when it names none)", c.frameErrors, l),
      counter("json_fallbacks_total", "Book frames read through the JSON fallback instead of the scanner", c.fallbacks, l),
      counter("unknown_topic_total", "Book frames for a channel not subscribed on the connection", c.unknownTopic, l),
      counter("connects_total", "WebSocket connection attempts", c.connects, l),
      counter("reconnects_total", "Connections lost or recycled (each is followed by a reconnect)", c.reconnects, l),
      counter("pongs_total", "Keepalive answers received", c.pongs, l),
      counter("pong_timeouts_total", "Connections recycled because a ping went unanswered", c.pongTimeouts, l),
      counter("ack_timeouts_total", "Connections recycled because a request went unanswered", c.ackTimeouts, l),
      counter("planned_reconnects_total", "Planned reconnects started make-before-break (venue notice or maximum age)", c.plannedReconnects, l),
      counter("planned_reconnect_failures_total", "Planned reconnects abandoned: the replacement failed, the old socket kept the connection (tried again later)", c.plannedReconnectFailures, l),
      counter("connects_refused_total", "WebSocket handshakes the venue refused with 429, 418 or 403 (each held the venue's connects, or its market's where each market is its own host: connect-hold.ts)", c.connectsRefused, l),
      counter("dead_connections_total", "Connections recycled because nothing at all arrived for the dead-connection time", c.deadConnections, l),
      counter("malformed_capture_records_total", "Replay: capture records of the connection ignored as malformed (a file head's ws:asked, a ws:req not as live writes them)", c.malformedRecords, l),
    );
  }
  return out;
}

/**
 * Per-connection counter names summed over the used connections in every venue's stats() (the status JSON):
 * connectionStats, and sumConnectionCounters for Binance and OKX, whose stats() lay out their own. Until s-smallleft
 * those two kept lists of their own, which left out `connectsRefused`.
 */
export const SUMMED_CONNECTION_COUNTERS = ["messages", "bytes", "parseErrors", "frameErrors", "fallbacks", "unknownTopic", "connects", "reconnects", "pongs", "pongTimeouts", "ackTimeouts", "deadConnections", "plannedReconnects", "plannedReconnectFailures", "connectsRefused", "malformedRecords"] as const;

/** Sets in `out` each SUMMED_CONNECTION_COUNTERS counter's sum over `used` (the used connections). */
export function sumConnectionCounters(used: readonly VenueConnection[], out: Record<string, number>): void {
  for (const k of SUMMED_CONNECTION_COUNTERS) out[k] = 0;
  for (const c of used) for (const k of SUMMED_CONNECTION_COUNTERS) out[k]! += c[k];
}
/** Per-connection keys `conn<N>.<market>.<key>` in stats(). */
const PER_CONNECTION = ["messages", "bytes", "parseErrors", "connects", "reconnects", "pongs", "pongTimeouts"] as const;

/**
 * The status JSON's connection counters: `connections` (used ones: a connection whose topics all failed to resolve
 * is never opened and counts nowhere), `connectionsOpen`, the sums over connections, and per connection
 * `conn<N>.<market>.{open,topics,…}`.
 */
export function connectionStats(all: readonly VenueConnection[]): Record<string, number> {
  const conns = all.filter((c) => c.used);
  const out: Record<string, number> = { connections: conns.length, connectionsOpen: all.filter((c) => c.open).length };
  sumConnectionCounters(conns, out);
  for (const c of conns) {
    const p = `conn${c.id}.${c.market}.`;
    out[p + "open"] = c.open ? 1 : 0;
    out[p + "topics"] = c.topics.length;
    for (const k of PER_CONNECTION) out[p + k] = c[k];
  }
  return out;
}

/** Every used connection as /readyz and the status page report it (none when replaying: nothing connects). */
export function connectionStates(conns: readonly VenueConnection[], replaying: boolean): VenueConnectionState[] {
  if (replaying) return [];
  return conns
    .filter((c) => c.used)
    .map((c) => ({ connection: c.name, market: c.market, url: c.shownUrl, up: c.open, lastError: c.open ? "" : c.lastError, downSinceMs: c.open ? 0 : c.downSinceMs }));
}
