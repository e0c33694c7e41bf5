import { describe, expect, test } from "vitest";
import { LatencyHistogram } from "../../src/core/histogram.ts";
import { histogramData, mergeHistograms, renderMetrics, type MetricsSnapshot } from "../../src/app/metrics.ts";
import { parsePrometheusText } from "../../src/app/prometheus.ts";
import type { VenueMetric } from "../../src/venues/venue.ts";
import { bybitMetrics } from "../../src/venues/bybit/metrics.ts";

function snapshot(labels: Record<string, string>, venue: VenueMetric[]): MetricsSnapshot {
  const h = new LatencyHistogram();
  h.observe(30);
  return {
    labels,
    venues: { bybit: venue },
    books: [
      { venue: "bybit", market: "linear", state: "live", count: 2 },
      { venue: "bybit", market: "linear", state: "resyncing", count: 1 },
    ],
    unresolved: [{ venue: "bybit", market: "linear", count: 0 }],
    publisher: { datagrams: 10, bytes: 1000, sendErrors: 0, messages: 20 },
    applyErrors: { bybit: 0 },
    exchangeToReceipt: { bybit: histogramData(h) },
    receiptToSend: histogramData(h),
    eventLoopLag: undefined,
    heapUsedBytes: 1 << 20,
  };
}

const counter = (name: string, labels: Record<string, string>, value: number): VenueMetric => ({ name, help: name, type: "counter", labels, value });

describe("renderMetrics", () => {
  test("venue samples get the feeder_venue_ prefix and the venue (and worker) label", () => {
    const text = renderMetrics({
      pipelines: [
        snapshot({ worker: "0" }, [counter("messages_received_total", { market: "linear", connection: "conn0" }, 5)]),
        snapshot({ worker: "1" }, [counter("messages_received_total", { market: "linear", connection: "conn0" }, 7)]),
      ],
      process: { cpuSeconds: 1.5, residentBytes: 100, virtualBytes: undefined, openFds: 9, maxFds: 1024, startTimeSeconds: 1700000000 },
    });
    const { samples, types } = parsePrometheusText(text);
    expect(samples.filter((s) => s.name === "feeder_venue_messages_received_total")).toEqual([
      { name: "feeder_venue_messages_received_total", labels: { worker: "0", venue: "bybit", market: "linear", connection: "conn0" }, value: 5 },
      { name: "feeder_venue_messages_received_total", labels: { worker: "1", venue: "bybit", market: "linear", connection: "conn0" }, value: 7 },
    ]);
    expect(types.get("feeder_venue_messages_received_total")).toBe("counter");
    // The process's own numbers once, without a worker label; absent ones (virtual memory off Linux) left out.
    expect(samples.filter((s) => s.name.startsWith("process_")).map((s) => [s.name, s.labels, s.value])).toEqual([
      ["process_cpu_seconds_total", {}, 1.5],
      ["process_resident_memory_bytes", {}, 100],
      ["process_open_fds", {}, 9],
      ["process_max_fds", {}, 1024],
      ["process_start_time_seconds", {}, 1700000000],
    ]);
    expect(samples.filter((s) => s.name === "feeder_build_info")).toHaveLength(1);
    expect(samples.filter((s) => s.name === "feeder_books" && s.labels.state === "live").map((s) => s.labels.worker)).toEqual(["0", "1"]);
  });

  test("a venue sample that breaks the rules is left out and counted, the scrape goes on", () => {
    const bad: VenueMetric[] = [
      counter("messagesIn_total", {}, 1), // camelCase
      counter("messages", {}, 1), // a counter without _total
      { name: "open_total", help: "", type: "gauge", labels: {}, value: 1 }, // a gauge with _total
      counter("x_total", { venue: "other" }, 1), // overrides the app's label
      counter("y_total", { "bad-label": "1" }, 1),
      counter("z_total", {}, NaN),
      counter("ok_total", {}, 3),
      { name: "ok_total", help: "", type: "gauge", labels: { market: "spot" }, value: 1 }, // the same name as another type
    ];
    const { samples } = parsePrometheusText(renderMetrics({ pipelines: [snapshot({}, bad)] }));
    expect(samples.filter((s) => s.name.startsWith("feeder_venue_") && s.name !== "feeder_venue_metrics_rejected")).toEqual([
      { name: "feeder_venue_ok_total", labels: { venue: "bybit" }, value: 3 },
    ]);
    expect(samples.find((s) => s.name === "feeder_venue_metrics_rejected")).toEqual({ name: "feeder_venue_metrics_rejected", labels: { venue: "bybit" }, value: 7 });
  });

  test("workers' latency histograms merge bucket by bucket", () => {
    const a = new LatencyHistogram([10, 100]);
    const b = new LatencyHistogram([10, 100]);
    for (const v of [1, 50, 500]) a.observe(v);
    for (const v of [5, 5]) b.observe(v);
    expect(mergeHistograms([histogramData(a), histogramData(b)])).toEqual({ boundsUs: [10, 100], counts: [3, 1, 1], count: 5, sumUs: 561 });
    expect(mergeHistograms([])).toBeUndefined();
  });
});

describe("Bybit venue metrics (the adapter's stats() mapped)", () => {
  const stats = {
    connections: 2,
    topics: 3,
    gaps: 4,
    messages: 30, // a total of the per-connection counts: not exported beside them
    "conn0.linear.messages": 10,
    "conn1.spot.messages": 20,
    "conn0.linear.open": 1,
    "parseErrors.bad_price": 2,
    connectBudget: 400,
  };
  const metrics = bybitMetrics(stats);

  test("per-connection counters carry market and connection; no venue-wide total beside them", () => {
    expect(metrics.filter((m) => m.name === "messages_received_total").map((m) => [m.labels, m.value])).toEqual([
      [{ market: "linear", connection: "conn0" }, 10],
      [{ market: "spot", connection: "conn1" }, 20],
    ]);
    expect(metrics.find((m) => m.name === "sequence_gaps_total")).toMatchObject({ type: "counter", labels: {}, value: 4 });
    expect(metrics.find((m) => m.name === "parse_errors_by_reason_total")).toMatchObject({ labels: { reason: "bad_price" }, value: 2 });
    expect(metrics.find((m) => m.name === "connection_up")).toMatchObject({ type: "gauge", value: 1 });
    expect(metrics.find((m) => m.name === "connect_budget")).toMatchObject({ type: "gauge", value: 400 });
  });

  test("every sample follows the rules (snake_case, counters and only counters end in _total)", () => {
    for (const m of metrics) {
      expect(m.name, m.name).toMatch(/^[a-z][a-z0-9_]*$/);
      expect(m.name.endsWith("_total"), m.name).toBe(m.type === "counter");
    }
    const { samples } = parsePrometheusText(renderMetrics({ pipelines: [snapshot({}, metrics)] }));
    expect(samples.find((s) => s.name === "feeder_venue_metrics_rejected")!.value).toBe(0);
  });
});
