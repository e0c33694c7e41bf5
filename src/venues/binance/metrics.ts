/**
 * The Binance adapter's metric samples (cold, at scrape time), from its stats() counters and the per-connection
 * series of ../common/metrics.ts (with `connect_budget{market}`: each market its own host, its own connect gate).
 * Venue-wide counters carry no label; per-connection ones are the common ones; the instrument schedule's (reloads,
 * changes, re-checks, per market) come from the InstrumentWatch.
 * @module
 */
import type { VenueMetric } from "../venue.ts";
import type { VenueConnection } from "../common/connection.ts";
import { type ConnectBudget, connectionMetrics, counter, gauge } from "../common/metrics.ts";

export function binanceMetrics(s: Record<string, number>, conns: readonly VenueConnection[], gates: readonly ConnectBudget[]): VenueMetric[] {
  const v = (k: string) => s[k] ?? 0;
  const parseCodes = Object.keys(s)
    .filter((k) => k.startsWith("parseErrors."))
    .map((k) => counter("parse_errors_by_code_total", "Frames rejected, by scanner result code (all connections)", v(k), { code: k.slice("parseErrors.".length) }));
  return [
    ...connectionMetrics(conns, gates),
    gauge("topics", "Diff streams configured", v("topics")),
    gauge("topics_live", "Diff streams whose book is LIVE", v("topicsLive")),
    gauge("rest_waiting", "REST requests waiting for the weight budget (snapshots of a reconnect queue here)", v("restWaiting")),
    counter("snapshots_total", "REST snapshots applied (bridged)", v("snapshots")),
    counter("deltas_total", "Diffs applied", v("deltas")),
    counter("sequence_gaps_total", "Diffs that broke the chain (book resynced)", v("gaps")),
    counter("duplicates_total", "Diffs at or below the book's update id (ignored)", v("duplicates")),
    counter("overlap_held_total", "Diffs held during a planned reconnect's overlap: ahead of the book (the other socket's path was slower), or the replacement's while the book is bridged; each once, also if held again", v("overlapHeld")),
    counter("overlap_held_applied_total", "Those held diffs the book applied, each once: from the hold once the gap was filled, or through the REST bridge they were handed to", v("overlapHeldApplied")),
    gauge("overlap_held_bytes", "Bytes of the diffs held now during planned reconnects' overlaps (bounded by a quarter of rest_bridge_buffer_bytes)", v("overlapHeldBytes")),
    counter("overlap_hold_over_budget_total", "Diffs of an overlap not held because they did not fit in its byte budget: ahead of a live book a break (resynced), for a bridged book buffered by the bridge", v("overlapHoldOverBudget")),
    counter("resyncs_total", "Book resyncs started", v("resyncs")),
    counter("resyncs_delayed_total", "Resyncs that waited out the per-topic backoff", v("resyncsDelayed")),
    counter("ignored_while_unsubscribed_total", "Diffs in flight for a stream not subscribed", v("ignoredWhileUnsubscribed")),
    gauge("bridge_buffered_bytes", "Bytes of diffs the REST bridges of all streams buffer now (bounded by half of rest_bridge_buffer_bytes, 128 MiB by default)", v("bridgeBufferedBytes")),
    counter("bridge_budget_drops_total", "Bridges whose buffered diffs were dropped because a diff did not fit in the byte budget (the book resynced)", v("bridgeBudgetDrops")),
    counter("diffs_not_buffered_while_rest_held_total", "Diffs of resyncing books not buffered because the market's REST was held (429 / 418) for more than 5 s more", v("diffsNotBufferedWhileHeld")),
    counter("buffers_dropped_while_rest_held_total", "Bridges whose buffered diffs were dropped because the market's REST was held for more than 5 s more", v("buffersDroppedWhileHeld")),
    counter("rest_snapshots_fetched_total", "REST depth snapshots received (resyncs' and depth refreshes')", v("snapshotsFetched")),
    counter("rest_snapshots_refused_total", "REST depth snapshots refused or unreadable", v("snapshotsRefused")),
    counter("rest_snapshots_not_bridging_total", "REST depth snapshots the buffered diffs did not bridge", v("snapshotsNotBridging")),
    counter("rest_snapshots_abandoned_total", "REST depth snapshot requests dropped because their bridge restarted, its connection dropped or its depth refresh gave way (unspent while still queued; answered later: neither used nor recorded)", v("snapshotsAbandoned")),
    counter("levels_beyond_depth_total", "Diff levels dropped as beyond the snapshot's depth", v("levelsBeyondDepth")),
    counter("depth_refreshes_total", "LIVE books whose side bounded by the snapshot's depth ran low, refreshed by a new REST snapshot bridged while they stayed LIVE", v("depthRefreshes")),
    counter("depth_refresh_failures_total", "Those refreshes that ended without one (refused, not bridging): the book stayed LIVE as it was, tried again a second later", v("depthRefreshFailures")),
    gauge("depth_refresh_buffered_bytes", "Bytes of diffs the depth refreshes of LIVE books buffer now for their REST snapshots (bounded by a quarter of rest_bridge_buffer_bytes, 64 MiB by default)", v("depthRefreshBufferedBytes")),
    counter("depth_exhausted_total", "Books resynced (RESYNCING / depth_exhausted) because a side bounded by the snapshot's depth had no level left", v("depthExhausted")),
    counter("rest_weight_blocks_total", "Times X-MBX-USED-WEIGHT-1M (the IP's weight) reached 80 % of the limit and REST waited for the next minute", v("usedWeightBlocks")),
    counter("rest_rate_limited_total", "REST answers 429 or 418 (requests wait for Retry-After)", v("restRateLimited") + v("restBanned")),
    counter("rest_retry_after_out_of_range_total", "REST 429 / 418 answers whose Retry-After was not held as given: out of 1 s to 3 days (clamped), unreadable (the default held) or a 418's below 1 s (the ban default held); each logged", v("restRetryAfterOutOfRange")),
    counter("stale_resyncs_total", "Books resynced because their stream went silent", v("staleResyncs")),
    counter("subscribe_rejected_total", "Subscriptions the venue refused", v("subscribeRejected")),
    counter("subscribe_errors_total", "Single-topic subscribes refused for a reason that may pass: sent again after a backoff (1 s doubling to 60 s), never given up", v("subscribeErrors")),
    counter("messages_paced_total", "Requests that waited for the per-connection message budget", v("messagesPaced")),
    counter("unattributed_parse_errors_total", "Malformed frames whose stream could not be read", v("unattributedParseErrors")),
    ...parseCodes,
  ];
}
