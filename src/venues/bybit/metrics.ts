/**
 * The Bybit adapter's counters as Prometheus-style samples (cold, read at scrape time). A minimal mapping of
 * `stats()`: per-connection counters carry { market, connection } and have no venue-wide total beside them, so
 * sum() never double-counts; counters that exist only venue-wide carry no extra labels.
 * @module
 */
import type { VenueMetric } from "../venue.ts";

type Kind = "counter" | "gauge";

/** Per-connection stat key → [metric name, type, help]. */
const PER_CONNECTION: Record<string, [string, Kind, string]> = {
  messages: ["messages_received_total", "counter", "WebSocket messages received"],
  bytes: ["received_bytes_total", "counter", "WebSocket payload bytes received"],
  parseErrors: ["parse_errors_total", "counter", "frames rejected by the parser"],
  connects: ["connects_total", "counter", "WebSocket connection attempts"],
  reconnects: ["reconnects_total", "counter", "WebSocket connections lost and reopened"],
  pongs: ["pongs_received_total", "counter", "pongs received (answers to the heartbeat ping)"],
  pongTimeouts: ["pong_timeouts_total", "counter", "connections recycled because no pong came in time"],
  open: ["connection_up", "gauge", "1 while the WebSocket connection is open"],
  topics: ["connection_topics", "gauge", "order-book topics assigned to the connection"],
};

/** Venue-wide stat key → [metric name, type, help]. Totals of per-connection keys are left out on purpose. */
const VENUE_WIDE: Record<string, [string, Kind, string]> = {
  snapshots: ["snapshots_total", "counter", "order-book snapshots applied"],
  deltas: ["deltas_total", "counter", "order-book deltas accepted in sequence"],
  gaps: ["sequence_gaps_total", "counter", "sequence gaps (venue sequence not last + 1); the topic is resynced"],
  duplicates: ["duplicates_total", "counter", "messages repeating an already applied venue sequence"],
  resyncs: ["resyncs_total", "counter", "topic resyncs (unsubscribe + subscribe)"],
  resyncsDelayed: ["resyncs_delayed_total", "counter", "resyncs that waited out the per-topic backoff"],
  staleResyncs: ["stale_total", "counter", "topics silent beyond their cadence, resynced"],
  venueResets: ["resets_total", "counter", "venue-side sequence resets (Bybit u = 1)"],
  ignoredBeforeSnapshot: ["ignored_before_snapshot_total", "counter", "deltas ignored before the first snapshot"],
  ignoredWhileUnsubscribed: ["ignored_while_unsubscribed_total", "counter", "book messages ignored while their topic was not subscribed"],
  repeatedSnapshots: ["repeated_snapshots_total", "counter", "snapshots repeating the last sequence (level-1 re-push)"],
  subscribeRejected: ["subscribe_rejected_total", "counter", "topics the venue refused to subscribe"],
  subscribeRetries: ["subscribe_retries_total", "counter", "subscribe requests sent again"],
  argsSizeErrors: ["args_size_errors_total", "counter", "subscribe requests refused for their size"],
  alreadySubscribed: ["already_subscribed_total", "counter", "subscribe answers saying the topic already was"],
  instrumentChanges: ["instrument_changes_total", "counter", "tick or lot size changes seen"],
  unattributedParseErrors: ["unattributed_parse_errors_total", "counter", "frames unreadable down to their topic (every live book of the connection resynced)"],
  fallbacks: ["json_fallbacks_total", "counter", "book frames the scanner handed to JSON.parse"],
  unknownTopic: ["unknown_topic_total", "counter", "frames of a topic not subscribed"],
  ackTimeouts: ["ack_timeouts_total", "counter", "connections recycled because a request was not acked in time"],
  instrumentsUnresolved: ["instruments_unresolved", "gauge", "configured symbols whose instrument could not be resolved"],
  connectBudget: ["connect_budget", "gauge", "connection attempts allowed per 5-minute window"],
};

export function bybitMetrics(stats: Readonly<Record<string, number>>): VenueMetric[] {
  const out: VenueMetric[] = [];
  for (const [key, value] of Object.entries(stats)) {
    const conn = /^(conn\d+)\.([a-z]+)\.(.+)$/.exec(key);
    if (conn) {
      const m = PER_CONNECTION[conn[3]!];
      if (m) out.push({ name: m[0], type: m[1], help: m[2], labels: { market: conn[2]!, connection: conn[1]! }, value });
      continue;
    }
    const reason = /^parseErrors\.(.+)$/.exec(key);
    if (reason) {
      // A breakdown of parse_errors_total by another dimension, under its own name: never summed with it.
      out.push({ name: "parse_errors_by_reason_total", type: "counter", help: "frames rejected by the parser, by reason", labels: { reason: reason[1]! }, value });
      continue;
    }
    const m = VENUE_WIDE[key];
    if (m) out.push({ name: m[0], type: m[1], help: m[2], labels: {}, value });
  }
  return out;
}
