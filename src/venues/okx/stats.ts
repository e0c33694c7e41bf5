/**
 * The OKX adapter's counters and their cold reads: stats() for the status JSON and metrics() for Prometheus
 * (docs/venues/okx.md, "Counters"). The adapter increments the fields on its hot path.
 * @module
 */
import { BookState } from "../../core/types.ts";
import type { VenueMetric } from "../venue.ts";
import type { ConnectionLifecycle } from "../common/connection-lifecycle.ts";
import { type ConnectBudget, connectionMetrics, counter, gauge, sumConnectionCounters } from "../common/metrics.ts";
import type { SubscriptionControl } from "../common/subscription-control.ts";
import type { TopicResync } from "../common/topic-resync.ts";
import type { OkxConnection, OkxTopic } from "./connection.ts";
import type { RestBridge } from "./rest-bridge.ts";

export class OkxCounters {
  snapshots = 0;
  deltas = 0;
  fullBooks = 0;
  gaps = 0;
  duplicates = 0;
  keepalives = 0;
  maintenanceResets = 0;
  ignoredBeforeSnapshot = 0;
  ignoredWhileUnsubscribed = 0;
  olderSnapshots = 0;
  checksumsVerified = 0;
  checksumMismatches = 0;
  unattributedParseErrors = 0;
  requestBudgetWaits = 0;
  crossedResyncs = 0;
  /**
   * books5 / bbo-tbt books made RESYNCING at a planned reconnect's end, the carrier not vouching for them, or
   * resubscribed, the carrier maybe behind a reset (adapter.ts onOverlapOver).
   */
  overlapEndHolds = 0;
  /**
   * books5 / bbo-tbt books made RESYNCING while two sockets' books interleave: a book below the one shown, in its
   * millisecond, from a socket that had not delivered it (a trail or a reset: neither time nor seqId tells; adapter.ts
   * onFullBook).
   */
  sameMsHolds = 0;
  /** REST-bridged books resynced: an update after the REST book stamped before it (book-hooks.ts updateBeforeBridgedSnapshot). */
  restTsContradicted = 0;
  readonly parseErrorsByCode = new Map<string, number>();
}

export interface StatsParts {
  lifecycle: ConnectionLifecycle;
  control: SubscriptionControl;
  books: TopicResync;
  bridge: RestBridge;
  /** The instrument counters (changes, re-checks, reloads, late symbols): common/instrument-watch.ts. */
  watch: { stats(): Record<string, number> };
  /** The instruments endpoint's budget (instruments.ts). */
  pacer: { readonly rateLimited: number; readonly waiting: number; readonly retryAfterOutOfRange: number };
}

export function okxStats(c: OkxCounters, allConns: readonly OkxConnection[], topics: readonly OkxTopic[], p: StatsParts): Record<string, number> {
  // Connections whose topics all failed to resolve are never opened: they count nowhere.
  const conns = allConns.filter((x) => x.used);
  const out: Record<string, number> = {
    connections: conns.length,
    connectionsOpen: conns.filter((x) => x.open).length,
    topics: topics.length,
    topicsLive: topics.filter((t) => t.book === BookState.LIVE).length,
    snapshots: c.snapshots,
    deltas: c.deltas,
    fullBooks: c.fullBooks,
    gaps: c.gaps,
    duplicates: c.duplicates,
    keepalives: c.keepalives,
    maintenanceResets: c.maintenanceResets,
    resyncs: p.books.resyncs,
    resyncsDelayed: p.books.resyncsDelayed,
    ignoredBeforeSnapshot: c.ignoredBeforeSnapshot,
    ignoredWhileUnsubscribed: c.ignoredWhileUnsubscribed,
    olderSnapshots: c.olderSnapshots,
    overlapEndHolds: c.overlapEndHolds,
    sameMsHolds: c.sameMsHolds,
    checksumsVerified: c.checksumsVerified,
    checksumMismatches: c.checksumMismatches,
    restSnapshots: p.bridge.fetched,
    restBridged: p.bridge.bridged,
    restRefused: p.bridge.refused,
    restNoBridge: p.bridge.noBridge,
    restTsContradicted: c.restTsContradicted,
    restOverflows: p.bridge.overflows,
    restDropped: p.bridge.dropped,
    restBufferedBytes: p.bridge.bufferedBytes,
    restBufferedBytesPeak: p.bridge.peakBufferedBytes,
    restBufferBudgetDrops: p.bridge.budgetDrops,
    restNotBufferedWhileHeld: p.bridge.notBufferedWhileHeld,
    restBuffersDroppedWhileHeld: p.bridge.droppedWhileHeld,
    restRetryAfterOutOfRange: p.bridge.retryAfterOutOfRange,
    requestBudgetWaits: c.requestBudgetWaits,
    requestsHeldForBudget: p.control.budgetHeld,
    crossedResyncs: c.crossedResyncs,
    staleResyncs: p.lifecycle.staleResyncs,
    subscribeRejected: p.control.subscribeRejected,
    subscribeRetries: p.control.subscribeRetries,
    subscribeErrors: p.control.subscribeErrors,
    rateLimited: p.control.rateLimited,
    ...p.watch.stats(),
    instrumentRestRateLimited: p.pacer.rateLimited,
    instrumentRestWaiting: p.pacer.waiting,
    instrumentRestRetryAfterOutOfRange: p.pacer.retryAfterOutOfRange,
    unattributedParseErrors: c.unattributedParseErrors,
    connectBudget: p.lifecycle.maxConnectsPerWindow,
  };
  for (const [code, n] of c.parseErrorsByCode) out[`parseErrors.${code}`] = n;
  sumConnectionCounters(conns, out); // the common list: until s-smallleft its own, without connectsRefused
  return out;
}

/** Per-connection series from the common counters; the adapter-wide ones unlabelled (no total beside its parts). */
export function okxMetrics(s: Record<string, number>, c: OkxCounters, conns: readonly OkxConnection[], gates: readonly ConnectBudget[]): VenueMetric[] {
  const parseCodes = [...c.parseErrorsByCode].map(([code, n]) => counter("parse_errors_by_code_total", "Frames rejected, by result code (all connections)", n, { code }));
  return [
    ...connectionMetrics(conns, gates),
    gauge("topics", "Book channels configured", s.topics!),
    gauge("topics_live", "Book channels whose book is LIVE", s.topicsLive!),
    counter("snapshots_total", "Snapshots applied (WebSocket and REST)", s.snapshots!),
    counter("deltas_total", "Incremental messages applied", s.deltas!),
    counter("full_books_total", "books5 / bbo-tbt full books applied as replace", s.fullBooks!),
    counter("sequence_gaps_total", "Sequence breaks (each resyncs its book)", s.gaps!),
    counter("duplicates_total", "Repeats of messages the book has (delivered twice, or by the lagging socket of a planned reconnect), ignored", s.duplicates!),
    counter("keepalives_total", "Empty prevSeqId == seqId keepalive messages", s.keepalives!),
    counter("maintenance_resets_total", "seqId < prevSeqId maintenance resets accepted (and older snapshots on the book's one socket)", s.maintenanceResets!),
    counter("resyncs_total", "Book resyncs started", s.resyncs!),
    counter("checksums_verified_total", "Non-zero checksums verified", s.checksumsVerified!),
    counter("checksum_mismatches_total", "Checksums that disagreed with the book", s.checksumMismatches!),
    counter("rest_snapshots_total", "REST book snapshots fetched for bridging", s.restSnapshots!),
    counter("rest_bridged_total", "REST snapshots bridged to the update stream", s.restBridged!),
    counter("rest_snapshots_refused_total", "REST book snapshots refused (429, an error) or unreadable: fetched again after a backoff", s.restRefused!),
    counter("rest_snapshots_not_bridging_total", "REST book snapshots older than the buffered updates: fetched again", s.restNoBridge!),
    counter("rest_snapshots_ts_contradicted_total", "REST-bridged books resynced because an update after the REST snapshot was stamped before its ts (also in sequence_gaps_total)", s.restTsContradicted!),
    counter("rest_buffer_overflows_total", "Books resynced because no REST snapshot bridged before 1000 updates were buffered", s.restOverflows!),
    gauge("rest_buffered_bytes", "Bytes of updates all books buffer now for their REST snapshots (bounded by rest_bridge_buffer_bytes, 256 MiB by default)", s.restBufferedBytes!),
    counter("rest_buffer_budget_drops_total", "Books resynced because an update did not fit in the byte budget of all books' buffered updates", s.restBufferBudgetDrops!),
    counter("rest_updates_not_buffered_while_held_total", "Updates of books waiting for a REST snapshot not buffered because REST was held (a 429's Retry-After) for more than 5 s more", s.restNotBufferedWhileHeld!),
    counter("rest_buffers_dropped_while_held_total", "REST bridges whose buffered updates were dropped because REST was held for more than 5 s more", s.restBuffersDroppedWhileHeld!),
    counter("rest_retry_after_out_of_range_total", "REST book snapshots' limit answers (429 or 418) whose Retry-After was not held as given: out of 1 s to 3 days (clamped) or unreadable (the default held); each logged", s.restRetryAfterOutOfRange!),
    counter("rest_snapshots_dropped_total", "REST book snapshots answered (or failed) after their bridge ended (a resync, a dropped connection): neither used nor recorded, nor retried", s.restDropped!),
    counter("instrument_rest_rate_limited_total", "Instrument REST limit answers (429 or 418): every instrument request waits for Retry-After (or 2 s)", s.instrumentRestRateLimited!),
    counter("instrument_rest_retry_after_out_of_range_total", "Instrument REST limit answers (429 or 418) whose Retry-After was not held as given: out of 1 s to 3 days (clamped) or unreadable (2 s held); each logged", s.instrumentRestRetryAfterOutOfRange!),
    gauge("instrument_rest_waiting", "Instrument REST requests waiting for the endpoint's budget (20 per 2 s, or a 429's Retry-After)", s.instrumentRestWaiting!),
    counter("stale_resyncs_total", "Books resynced because they went silent", s.staleResyncs!),
    counter("subscribe_rejected_total", "Subscriptions refused by OKX (book halted)", s.subscribeRejected!),
    counter("subscribe_errors_total", "Single-topic subscribes refused for a reason that may pass: sent again after a backoff (1 s doubling to 60 s), never given up", s.subscribeErrors!),
    counter("rate_limited_total", "Requests refused with 60014 (requests too frequent): sent again after a backoff, or once the hour's count has room, nothing rejected", s.rateLimited!),
    counter("request_budget_waits_total", "Resyncs delayed by the 480 requests per hour per connection", s.requestBudgetWaits!),
    counter("requests_held_for_budget_total", "Requests held when the connection's 480 per hour had no room as they were to go (a resync's owed subscribe, a closed book's unsubscribe, a reopened book's subscribe), each sent once it has", s.requestsHeldForBudget!),
    counter("crossed_resyncs_total", "Crossed books reported by the app (call auctions: at most one resync per 10 s)", s.crossedResyncs!),
    ...parseCodes,
  ];
}
