/**
 * Cold-path costs of the operations endpoints, paid on the thread that runs the pipeline (workers = 1), so they
 * delay book messages while they run: one /metrics scrape (Bybit metrics of 20 connections, books of 4 markets,
 * 3 latency histograms, process_*) and one /status answer (1000 book summaries as JSON), which the status page
 * polls every second.
 *   npx bun bench/metrics.bench.ts
 */
import { BookBuilder } from "../src/book/book-builder.ts";
import { BookUpdate } from "../src/core/book-update.ts";
import { LatencyHistogram } from "../src/core/histogram.ts";
import { instrumentIdOf } from "../src/core/instrument-id.ts";
import { BookState, type Instrument } from "../src/core/types.ts";
import { summarize } from "../src/app/book-json.ts";
import { histogramData, renderMetrics, type MetricsSnapshot } from "../src/app/metrics.ts";
import { processSnapshot } from "../src/app/process-metrics.ts";
import { counter, gauge } from "../src/venues/common/metrics.ts";
import type { VenueMetric } from "../src/venues/venue.ts";
import { measure, printTable } from "./harness.ts";

const CONNECTIONS = 20;
const BOOKS = 1000;

// A Bybit-sized set of venue samples: per-connection series labelled { market, connection }, venue-wide ones bare.
const venueSamples: VenueMetric[] = [counter("sequence_gaps_total", "gaps", 3), counter("resyncs_total", "resyncs", 5), counter("snapshots_total", "snapshots", 1200), counter("deltas_total", "deltas", 9_000_000), gauge("connect_budget", "budget", 400), counter("parse_errors_by_code_total", "parse errors", 1, { code: "bad_price" })];
for (let c = 0; c < CONNECTIONS; c++) {
  const l = { market: "linear", connection: `linear-${c}` };
  for (const k of ["messages_received_total", "received_bytes_total", "parse_errors_total", "connects_total", "reconnects_total", "pongs_total", "pong_timeouts_total"]) venueSamples.push(counter(k, k, c * 1000, l));
  venueSamples.push(gauge("connection_up", "up", 1, l), gauge("connection_topics", "topics", 10, l));
}
const h = new LatencyHistogram();
for (let i = 0; i < 100_000; i++) h.observe((i * 7919) % 5000);
const markets = ["spot", "linear", "inverse", "option"];
const snapshot = (): MetricsSnapshot => ({
  labels: {},
  venues: { bybit: venueSamples },
  books: markets.flatMap((market) => ["awaiting_snapshot", "live", "resyncing", "stale", "halted"].map((state) => ({ venue: "bybit", market, state, count: BOOKS / 4 }))),
  unresolved: markets.map((market) => ({ venue: "bybit", market, count: 0 })),
  publisher: { datagrams: 1e6, bytes: 1e9, sendErrors: 0, messages: 2e6 },
  applyErrors: { bybit: 0 },
  exchangeToReceipt: { bybit: histogramData(h) },
  receiptToSend: histogramData(h),
  eventLoopLag: histogramData(h),
  heapUsedBytes: 1 << 26,
});

const builders: BookBuilder[] = [];
const u = new BookUpdate();
for (let i = 0; i < BOOKS; i++) {
  const symbol = `SYM${i}USDT`;
  const instrument: Instrument = { instrumentId: instrumentIdOf("bybit", "linear", symbol), venue: "bybit", market: "linear", symbol, priceExp: 2, qtyExp: 3, tickSize: "0.01", lotSize: "0.001" };
  const b = new BookBuilder(instrument);
  u.reset();
  u.isSnapshot = true;
  u.venueSeq = 1;
  for (let l = 0; l < 50; l++) {
    u.pushBid(1_000_000 - l, 1000 + l);
    u.pushAsk(1_000_001 + l, 1000 + l);
  }
  b.applySnapshot(u);
  builders.push(b);
}

const text = renderMetrics({ pipelines: [snapshot()], process: processSnapshot() });
const status = JSON.stringify(builders.map((b) => summarize(b, b.state === BookState.LIVE)));
console.log(`metrics bench: Bun ${Bun.version}; /metrics ${text.length.toLocaleString("en-US")} bytes, /status books ${status.length.toLocaleString("en-US")} bytes`);
printTable([
  measure(`/metrics: snapshot + render (${CONNECTIONS} connections, 3 histograms)`, () => void renderMetrics({ pipelines: [snapshot()], process: processSnapshot() }).length, { inner: 1, durationMs: 2000 }),
  measure("process_* read (/proc, cpuUsage)", () => void processSnapshot(), { inner: 1 }),
  measure(`/status: ${BOOKS} book summaries + JSON`, () => void JSON.stringify(builders.map((b) => summarize(b, b.state === BookState.LIVE))).length, { inner: 1, durationMs: 2000 }),
]);
