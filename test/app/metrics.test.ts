import { describe, expect, test } from "vitest";
import { LatencyHistogram } from "../../src/core/histogram.ts";
import { histogramData, mergeHistograms, renderMetrics, type MetricsSnapshot } from "../../src/app/metrics.ts";
import { parsePrometheusText } from "../../src/app/prometheus.ts";
import type { VenueMetric } from "../../src/venues/venue.ts";

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

// The Bybit adapter's own samples (names, labels, no double counting) are tested in test/venues/bybit/metrics.test.ts.
