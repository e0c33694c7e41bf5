/**
 * feeder's Prometheus metrics. Each pipeline (the process, or each worker) produces a plain, cloneable
 * MetricsSnapshot from its counters; renderMetrics turns one or several (labelled by worker) into text.
 * Names follow Prometheus conventions: `_total` for counters, base units (seconds, bytes).
 * @module
 */
import { LatencyHistogram } from "../core/histogram.ts";
import { BOOK_STATE_NAMES } from "../core/types.ts";
import { PromWriter, type HistogramData } from "./prometheus.ts";

/** Samples event-loop lag: how late a timer fires compared with when it was due. */
export class EventLoopLagMonitor {
  readonly histogram = new LatencyHistogram();
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly intervalMs = 100) {}

  start(): void {
    let expected = performance.now() + this.intervalMs;
    this.timer = setInterval(() => {
      const now = performance.now();
      this.histogram.observe(Math.max(0, Math.round((now - expected) * 1000)));
      expected = now + this.intervalMs;
    }, this.intervalMs);
    this.timer.unref?.();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** Latency histograms the pipeline fills on its hot path (observe() is allocation-free). */
export class PipelineLatency {
  /** Exchange matching-engine time (Bybit cts) → local frame receipt, per venue. */
  readonly exchangeToReceipt = new Map<string, LatencyHistogram>();
  /** Local frame receipt → datagram handed to the kernel. */
  readonly receiptToSend = new LatencyHistogram();

  forVenue(venue: string): LatencyHistogram {
    let h = this.exchangeToReceipt.get(venue);
    if (!h) {
      h = new LatencyHistogram();
      this.exchangeToReceipt.set(venue, h);
    }
    return h;
  }
}

/** One pipeline's counters at one moment: plain data, so a worker can post it to the main thread. */
export interface MetricsSnapshot {
  labels: Record<string, string>;
  venues: Record<string, Record<string, number>>;
  publisher: Record<string, number>;
  applyErrors: number;
  /** Index = BookState value. */
  booksByState: number[];
  exchangeToReceipt: Record<string, HistogramData>;
  receiptToSend: HistogramData;
  eventLoopLag: HistogramData | undefined;
  memory: { rss: number; heapUsed: number };
}

/**
 * Venue adapter stat keys look like `messages`, `bytes`, `gaps`, per connection `conn<id>.<market>.messages`,
 * or per parse-error reason `parseErrors.<reason>`.
 * Known keys become named counters; anything else is exported as feeder_venue_stat{name=...}.
 */
const VENUE_COUNTERS: Record<string, [metric: string, help: string]> = {
  messages: ["feeder_venue_messages_in_total", "WebSocket messages received"],
  bytes: ["feeder_venue_bytes_in_total", "WebSocket payload bytes received"],
  parseErrors: ["feeder_venue_parse_errors_total", "frames rejected by the parser"],
  gaps: ["feeder_venue_sequence_gaps_total", "sequence gaps detected (venue sequence not last + 1)"],
  resyncs: ["feeder_venue_resyncs_total", "topic resyncs requested (unsubscribe + subscribe)"],
  resyncsDelayed: ["feeder_venue_resyncs_delayed_total", "topic resyncs that waited out a per-topic backoff (the topic kept failing)"],
  connects: ["feeder_venue_connects_total", "WebSocket connection attempts"],
  reconnects: ["feeder_venue_reconnects_total", "WebSocket reconnects"],
  pongs: ["feeder_venue_pongs_total", "pongs received (answers to the heartbeat ping)"],
  staleResyncs: ["feeder_venue_stale_total", "topics marked stale (no message within the expected cadence)"],
  ignoredBeforeSnapshot: ["feeder_venue_ignored_before_snapshot_total", "deltas ignored before the first snapshot"],
  subscribeRejected: ["feeder_venue_subscribe_rejected_total", "topics the venue refused to subscribe"],
  venueResets: ["feeder_venue_resets_total", "venue-side resets (Bybit u = 1)"],
  duplicates: ["feeder_venue_duplicates_total", "messages repeating an already applied venue sequence"],
};

const PUBLISHER_COUNTERS: [key: string, metric: string, help: string][] = [
  ["datagrams", "feeder_datagrams_out_total", "datagrams sent"],
  ["bytes", "feeder_bytes_out_total", "datagram bytes sent"],
  ["sendErrors", "feeder_send_errors_total", "datagrams the kernel refused"],
  ["messages", "feeder_messages_out_total", "wire messages published"],
  ["droppedOnPurpose", "feeder_datagrams_dropped_on_purpose_total", "datagrams withheld by the test drop filter"],
];

export function renderMetrics(snapshots: readonly MetricsSnapshot[], extra?: (w: PromWriter) => void): string {
  const w = new PromWriter();
  for (const s of snapshots) {
    const base = s.labels;
    for (const [venue, stats] of Object.entries(s.venues)) {
      for (const [key, value] of Object.entries(stats)) {
        const conn = /^(conn\d+)\.([a-z]+)\.(.+)$/.exec(key);
        const byReason = /^parseErrors\.(.+)$/.exec(key);
        if (byReason) {
          w.family("feeder_venue_parse_errors_by_reason_total", "counter", "frames rejected by the parser, by reason")
            .sample("feeder_venue_parse_errors_by_reason_total", { ...base, venue, reason: byReason[1]! }, value);
          continue;
        }
        const name = conn ? conn[3]! : key;
        const labels = conn ? { ...base, venue, connection: conn[1]!, market: conn[2]! } : { ...base, venue };
        const known = VENUE_COUNTERS[name];
        if (known) w.family(known[0], "counter", known[1]).sample(known[0], labels, value);
        else w.family("feeder_venue_stat", "gauge", "other venue adapter counters, by name").sample("feeder_venue_stat", { ...labels, name }, value);
      }
    }
    w.family("feeder_books", "gauge", "books by state");
    BOOK_STATE_NAMES.forEach((state, i) => w.sample("feeder_books", { ...base, state }, s.booksByState[i] ?? 0));
    for (const [key, metric, help] of PUBLISHER_COUNTERS) {
      if (s.publisher[key] !== undefined) w.family(metric, "counter", help).sample(metric, base, s.publisher[key]!);
    }
    w.family("feeder_apply_errors_total", "counter", "exceptions contained while applying a book message").sample("feeder_apply_errors_total", base, s.applyErrors);
    w.family("feeder_exchange_to_receipt_seconds", "histogram", "exchange matching-engine time (Bybit cts) to local frame receipt");
    for (const [venue, h] of Object.entries(s.exchangeToReceipt)) w.histogram("feeder_exchange_to_receipt_seconds", { ...base, venue }, h);
    w.family("feeder_receipt_to_send_seconds", "histogram", "local frame receipt to datagram sent").histogram("feeder_receipt_to_send_seconds", base, s.receiptToSend);
    if (s.eventLoopLag) {
      w.family("feeder_event_loop_lag_seconds", "histogram", "event-loop lag sampled every 100 ms").histogram("feeder_event_loop_lag_seconds", base, s.eventLoopLag);
    }
    w.family("process_resident_memory_bytes", "gauge", "resident set size").sample("process_resident_memory_bytes", base, s.memory.rss);
    w.family("process_heap_bytes", "gauge", "JS heap used").sample("process_heap_bytes", base, s.memory.heapUsed);
  }
  extra?.(w);
  return w.text();
}

/** Copies a histogram into plain data (for postMessage). */
export function histogramData(h: LatencyHistogram): HistogramData {
  return { boundsUs: [...h.boundsUs], counts: Array.from(h.counts), count: h.count, sumUs: h.sumUs };
}
