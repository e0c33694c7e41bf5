/**
 * feeder's Prometheus metrics, read from the pipeline's counters at scrape time.
 * Names follow Prometheus conventions: `_total` for counters, base units (seconds, bytes).
 * @module
 */
import type { BookView } from "../core/book-view.ts";
import { LatencyHistogram } from "../core/histogram.ts";
import { BOOK_STATE_NAMES } from "../core/types.ts";
import { PromWriter } from "./prometheus.ts";

/** Samples event-loop lag: how late a timer fires compared with when it was due. */
export class EventLoopLagMonitor {
  readonly histogram = new LatencyHistogram();
  lastLagUs = 0;
  maxLagUs = 0;
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly intervalMs = 100) {}

  start(): void {
    let expected = performance.now() + this.intervalMs;
    this.timer = setInterval(() => {
      const now = performance.now();
      const lagUs = Math.max(0, Math.round((now - expected) * 1000));
      expected = now + this.intervalMs;
      this.lastLagUs = lagUs;
      if (lagUs > this.maxLagUs) this.maxLagUs = lagUs;
      this.histogram.observe(lagUs);
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

export interface MetricsInput {
  venues: Record<string, Record<string, number>>;
  publisher: Record<string, number>;
  applyErrors: number;
  books: readonly BookView[];
  latency: PipelineLatency;
  lag: EventLoopLagMonitor | undefined;
  /** Extra labels such as the worker id. */
  labels?: Record<string, string>;
}

/**
 * Venue adapter stat keys look like `messages`, `bytes`, `gaps` or, per connection, `conn.<id>.messages`.
 * Known keys become named counters; anything else is exported as feeder_venue_stat{name=...}.
 */
const VENUE_COUNTERS: Record<string, [metric: string, help: string]> = {
  messages: ["feeder_venue_messages_in_total", "WebSocket messages received"],
  bytes: ["feeder_venue_bytes_in_total", "WebSocket payload bytes received"],
  parseErrors: ["feeder_venue_parse_errors_total", "frames rejected by the parser"],
  gaps: ["feeder_venue_sequence_gaps_total", "sequence gaps detected (venue sequence not last + 1)"],
  resyncs: ["feeder_venue_resyncs_total", "topic resyncs requested (unsubscribe + subscribe)"],
  reconnects: ["feeder_venue_reconnects_total", "WebSocket reconnects"],
  staleResyncs: ["feeder_venue_stale_total", "topics marked stale (no message within the expected cadence)"],
  ignoredBeforeSnapshot: ["feeder_venue_ignored_before_snapshot_total", "deltas ignored before the first snapshot"],
  subscribeRejected: ["feeder_venue_subscribe_rejected_total", "topics the venue refused to subscribe"],
  resets: ["feeder_venue_resets_total", "venue-side resets (Bybit u = 1)"],
};

export function renderMetrics(input: MetricsInput): string {
  const w = new PromWriter();
  const base = input.labels ?? {};

  for (const [venue, stats] of Object.entries(input.venues)) {
    for (const [key, value] of Object.entries(stats)) {
      const conn = /^conn\.([^.]+)\.(.+)$/.exec(key);
      const name = conn ? conn[2]! : key;
      const labels = conn ? { ...base, venue, connection: conn[1]! } : { ...base, venue };
      const known = VENUE_COUNTERS[name];
      if (known) {
        w.family(known[0], "counter", known[1]).sample(known[0], labels, value);
      } else {
        w.family("feeder_venue_stat", "gauge", "other venue adapter counters, by name").sample("feeder_venue_stat", { ...labels, name }, value);
      }
    }
  }

  const byState = new Map<string, number>(BOOK_STATE_NAMES.map((s) => [s, 0]));
  for (const b of input.books) {
    const s = BOOK_STATE_NAMES[b.state] ?? String(b.state);
    byState.set(s, (byState.get(s) ?? 0) + 1);
  }
  w.family("feeder_books", "gauge", "books by state");
  for (const [state, n] of byState) w.sample("feeder_books", { ...base, state }, n);

  const p = input.publisher;
  const out: [string, string, string][] = [
    ["datagrams", "feeder_datagrams_out_total", "datagrams sent"],
    ["bytes", "feeder_bytes_out_total", "datagram bytes sent"],
    ["sendErrors", "feeder_send_errors_total", "datagrams the kernel refused"],
    ["messages", "feeder_messages_out_total", "wire messages published"],
    ["droppedOnPurpose", "feeder_datagrams_dropped_on_purpose_total", "datagrams withheld by the test drop filter"],
  ];
  for (const [key, metric, help] of out) {
    if (p[key] !== undefined) w.family(metric, "counter", help).sample(metric, base, p[key]!);
  }
  w.family("feeder_apply_errors_total", "counter", "exceptions contained while applying a book message").sample("feeder_apply_errors_total", base, input.applyErrors);

  w.family("feeder_exchange_to_receipt_seconds", "histogram", "exchange matching-engine time (Bybit cts) to local frame receipt");
  for (const [venue, h] of input.latency.exchangeToReceipt) w.histogram("feeder_exchange_to_receipt_seconds", { ...base, venue }, h);
  w.family("feeder_receipt_to_send_seconds", "histogram", "local frame receipt to datagram sent");
  w.histogram("feeder_receipt_to_send_seconds", base, input.latency.receiptToSend);

  if (input.lag) {
    w.family("feeder_event_loop_lag_seconds", "histogram", "event-loop lag sampled every 100 ms");
    w.histogram("feeder_event_loop_lag_seconds", base, input.lag.histogram);
  }
  const mem = process.memoryUsage();
  w.family("process_resident_memory_bytes", "gauge", "resident set size").sample("process_resident_memory_bytes", base, mem.rss);
  w.family("process_heap_bytes", "gauge", "JS heap used").sample("process_heap_bytes", base, mem.heapUsed);
  return w.text();
}
