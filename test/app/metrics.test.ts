import { describe, expect, test } from "vitest";
import { LatencyHistogram } from "../../src/core/histogram.ts";
import { CounterCarry, histogramData, mergeHistograms, renderMetrics, type MetricsSnapshot } from "../../src/app/metrics.ts";
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
      // Before, these three were written as given: the scrape had a series twice (the strict parser refuses it).
      counter("ok_total", {}, 4), // the same series again
      { name: "metrics_rejected", help: "", type: "gauge", labels: {}, value: 0 }, // the app's own feeder_venue_metrics_rejected{venue}
      counter("parts_total", { market: "spot", connection: "c0" }, 1),
      counter("parts_total", { connection: "c0", market: "spot" }, 1), // the same series, its labels in another order
      counter("parts_total", {}, 2), // a total beside its parts
      // A type other than counter or gauge (typed away, but a worker's samples come cloned): before, a histogram's bare
      // sample was written in a family declared histogram, and the whole scrape was malformed.
      { name: "lat_seconds", help: "", type: "histogram" as "gauge", labels: {}, value: 1 },
      { name: "u", help: "", type: "untyped" as "gauge", labels: {}, value: 1 },
      // Not of a sample's shape (before, each threw and the whole scrape was a 500).
      { name: "no_labels", help: "", type: "gauge", labels: null as unknown as Record<string, string>, value: 1 },
      { name: undefined as unknown as string, help: "", type: "gauge", labels: {}, value: 1 },
      { name: "no_help", help: 7 as unknown as string, type: "gauge", labels: {}, value: 1 },
      { name: "object_label", help: "", type: "gauge", labels: { k: Object.create(null) as string }, value: 1 },
    ];
    const { samples } = parsePrometheusText(renderMetrics({ pipelines: [snapshot({}, bad)] }));
    expect(samples.filter((s) => s.name.startsWith("feeder_venue_") && s.name !== "feeder_venue_metrics_rejected")).toEqual([
      { name: "feeder_venue_ok_total", labels: { venue: "bybit" }, value: 3 },
      { name: "feeder_venue_parts_total", labels: { venue: "bybit", market: "spot", connection: "c0" }, value: 1 },
    ]);
    expect(samples.filter((s) => s.name === "feeder_venue_metrics_rejected")).toEqual([{ name: "feeder_venue_metrics_rejected", labels: { venue: "bybit" }, value: 17 }]);
  });

  test("venues may give one name different labels (Coinbase counts sequence gaps per connection); workers repeat none", () => {
    const gaps = (labels: Record<string, string>, value: number) => counter("sequence_gaps_total", labels, value);
    const pipeline = (worker: string) => ({ ...snapshot({ worker }, []), venues: { bybit: [gaps({}, 1)], coinbase: [gaps({ market: "spot", connection: "conn0.spot" }, 2)] } });
    const { samples } = parsePrometheusText(renderMetrics({ pipelines: [pipeline("0"), pipeline("1")] }));
    expect(samples.filter((s) => s.name === "feeder_venue_sequence_gaps_total").map((s) => [s.labels.worker, s.labels.venue, s.value])).toEqual([
      ["0", "bybit", 1],
      ["0", "coinbase", 2],
      ["1", "bybit", 1],
      ["1", "coinbase", 2],
    ]);
    expect(samples.filter((s) => s.name === "feeder_venue_metrics_rejected").map((s) => s.value)).toEqual([0, 0]);
  });

  test("workers' latency histograms merge bucket by bucket", () => {
    const a = new LatencyHistogram([10, 100]);
    const b = new LatencyHistogram([10, 100]);
    for (const v of [1, 50, 500]) a.observe(v);
    for (const v of [5, 5]) b.observe(v);
    expect(mergeHistograms([histogramData(a), histogramData(b)])).toEqual({ boundsUs: [10, 100], counts: [3, 1, 1], count: 5, sumUs: 561 });
    expect(mergeHistograms([])).toBeUndefined();
  });

  test("a restarted worker's counters and histograms are carried, gauges are not; HELP and TYPE once per family", () => {
    const carries = [new CounterCarry(), new CounterCarry()];
    const scrape = (w1: MetricsSnapshot) => renderMetrics({ pipelines: [snapshot({ worker: "0" }, []), w1], carries });
    const valuesOf = (text: string, name: string) => parsePrometheusText(text).samples.filter((s) => s.name === name && s.labels.worker === "1").map((s) => s.value);
    const labels = { market: "linear", connection: 'c"0\\n\n' };
    const first = scrape(snapshot({ worker: "1" }, [counter("messages_received_total", labels, 7)]));
    carries[1]!.restarted();
    const fresh = { ...snapshot({ worker: "1" }, [counter("messages_received_total", labels, 2)]), heapUsedBytes: 5 };
    fresh.publisher = { datagrams: 1, bytes: 100, sendErrors: 0, messages: 3 };
    const second = scrape(fresh);
    expect(valuesOf(first, "feeder_datagrams_sent_total")).toEqual([10]);
    expect(valuesOf(second, "feeder_datagrams_sent_total")).toEqual([11]);
    expect(parsePrometheusText(second).samples.filter((s) => s.name === "feeder_venue_messages_received_total" && s.labels.worker === "1")).toEqual([
      { name: "feeder_venue_messages_received_total", labels: { worker: "1", venue: "bybit", ...labels }, value: 9 },
    ]);
    expect(valuesOf(second, "feeder_receipt_to_send_seconds_count")).toEqual([2]);
    expect(valuesOf(second, "feeder_receipt_to_send_seconds_bucket").at(-1)).toBe(2);
    expect(valuesOf(second, "feeder_js_heap_used_bytes")).toEqual([5]); // a gauge: the new worker's own
    expect(valuesOf(second, "feeder_books")).toEqual([2, 1]);
    // Worker 0 was not restarted: its own numbers.
    expect(parsePrometheusText(second).samples.find((s) => s.name === "feeder_datagrams_sent_total" && s.labels.worker === "0")?.value).toBe(10);
    for (const text of [first, second]) {
      const help = text.split("\n").filter((l) => l.startsWith("# HELP ")).map((l) => l.split(" ")[2]);
      const type = text.split("\n").filter((l) => l.startsWith("# TYPE ")).map((l) => l.split(" ")[2]);
      expect(new Set(help).size).toBe(help.length);
      expect(type).toEqual(help);
    }
  });

  test("s-rev61: a carried series the successor has not written yet (a venue it has not resolved or connected) is still shown, no dip and no jump; histograms stay whole", () => {
    const carry = new CounterCarry();
    const scrape = (s: MetricsSnapshot) => parsePrometheusText(renderMetrics({ pipelines: [s], carries: [carry] })).samples;
    const h = new LatencyHistogram();
    for (const us of [30, 3_000, 300_000]) h.observe(us);
    const old = snapshot({ worker: "1" }, [counter("messages_received_total", { market: "linear", connection: "linear-0" }, 7)]);
    old.exchangeToReceipt = { bybit: histogramData(h) };
    const was = scrape(old);
    carry.restarted();
    // The new worker has not connected bybit yet: no venue sample, no exchange_to_receipt histogram for it.
    const fresh = { ...snapshot({ worker: "1" }, []), venues: {}, exchangeToReceipt: {} };
    const key = (x: { name: string; labels: Record<string, string> }) => x.name + JSON.stringify(x.labels);
    const carried = (samples: ReturnType<typeof scrape>) =>
      samples.filter((x) => x.name.startsWith("feeder_venue_messages_received_total") || x.name.startsWith("feeder_exchange_to_receipt_seconds"));
    for (let i = 0; i < 2; i++) {
      const now = scrape(fresh);
      const values = (samples: ReturnType<typeof scrape>) => new Map(carried(samples).map((x) => [key(x), x.value]));
      expect(values(now)).toEqual(values(was)); // families may come in another order: a family's lines stay together
      expect(values(now).size).toBe(26);
      carry.restarted(); // a second restart with nothing written by the worker in between: still carried
    }
    const buckets = scrape(fresh).filter((x) => x.name === "feeder_exchange_to_receipt_seconds_bucket").map((x) => x.value);
    expect(buckets.at(-1)).toBe(3);
    expect(buckets.every((v, i) => i === 0 || v >= buckets[i - 1]!)).toBe(true);
    // Once it connects and counts 2: 9, in one series.
    const joined = scrape(snapshot({ worker: "1" }, [counter("messages_received_total", { market: "linear", connection: "linear-0" }, 2)]));
    expect(joined.filter((x) => x.name === "feeder_venue_messages_received_total").map((x) => x.value)).toEqual([9]);
  });

  test("s-rev69: a silent slot (writeLast) across restarts: its last values, carried once, histograms whole; a slot never answered writes nothing", () => {
    const carry = new CounterCarry();
    const never = new CounterCarry();
    const answered = (s: MetricsSnapshot) => parsePrometheusText(renderMetrics({ pipelines: [s], carries: [carry], silent: [never] })).samples;
    const silent = () => parsePrometheusText(renderMetrics({ pipelines: [], silent: [carry, never] })).samples;
    const worker1 = (samples: ReturnType<typeof silent>) => new Map(samples.filter((x) => x.labels.worker === "1").map((x) => [x.name + JSON.stringify(x.labels), x.value]));
    const h = new LatencyHistogram();
    for (const us of [30, 3_000, 300_000]) h.observe(us);
    const old = snapshot({ worker: "1" }, [counter("messages_received_total", { market: "linear", connection: "linear-0" }, 7)]);
    old.receiptToSend = histogramData(h);
    const gauges = ["feeder_books", "feeder_symbols_unresolved", "feeder_js_heap_used_bytes"];
    const counters = new Map([...worker1(answered(old))].filter(([k]) => !gauges.includes(k.slice(0, k.indexOf("{")))));
    expect(counters.size).toBeGreaterThan(20);
    // Hung (not restarted yet), then exited, then its successor exited before answering: the same values each time.
    expect(worker1(silent())).toEqual(counters);
    carry.restarted();
    expect(worker1(silent())).toEqual(counters);
    carry.restarted();
    expect(worker1(silent())).toEqual(counters);
    // The successor answers with lower counts: added to the carried values once.
    const fresh = snapshot({ worker: "1" }, [counter("messages_received_total", { market: "linear", connection: "linear-0" }, 2)]);
    const now = answered(fresh);
    expect(now.find((x) => x.name === "feeder_venue_messages_received_total")?.value).toBe(9);
    expect(now.find((x) => x.name === "feeder_datagrams_sent_total")?.value).toBe(20);
    const count = now.find((x) => x.name === "feeder_receipt_to_send_seconds_count")!.value;
    const buckets = now.filter((x) => x.name === "feeder_receipt_to_send_seconds_bucket").map((x) => x.value);
    expect(count).toBe(4);
    expect(buckets.at(-1)).toBe(count);
    expect(buckets.every((v, i) => i === 0 || v >= buckets[i - 1]!)).toBe(true);
    // Silent again: what the successor last showed, not carried + shown.
    expect(worker1(silent()).get('feeder_datagrams_sent_total{"worker":"1"}')).toBe(20);
    expect(silent().filter((x) => x.labels.worker === undefined && x.name.startsWith("feeder_datagrams"))).toEqual([]);
  });

  test("s-leftops: a silent slot's books as last shown, each market's all counted stale (its other states 0), its unresolved as shown", () => {
    const states = (counts: Record<string, number>) => Object.entries(counts).map(([state, count]) => ({ state, count }));
    const books = [
      ...states({ awaiting_snapshot: 1, live: 3, resyncing: 0, stale: 1, halted: 2, unreadable: 0 }).map((b) => ({ venue: "bybit", market: "linear", ...b })),
      ...states({ awaiting_snapshot: 0, live: 4, resyncing: 1, stale: 0, halted: 0, unreadable: 0 }).map((b) => ({ venue: "bybit", market: "spot", ...b })),
    ];
    const text = renderMetrics({ pipelines: [], silent: [new CounterCarry()], silentBooks: [{ labels: { worker: "1" }, books, unresolved: [{ venue: "bybit", market: "spot", count: 2 }] }] });
    const shown = parsePrometheusText(text).samples.filter((x) => x.name === "feeder_books" || x.name === "feeder_symbols_unresolved");
    const value = (name: string, labels: Record<string, string>) => shown.find((x) => x.name === name && JSON.stringify(x.labels) === JSON.stringify({ worker: "1", ...labels }))?.value;
    for (const state of ["awaiting_snapshot", "live", "resyncing", "halted", "unreadable"]) {
      expect([state, value("feeder_books", { venue: "bybit", market: "linear", state }), value("feeder_books", { venue: "bybit", market: "spot", state })]).toEqual([state, 0, 0]);
    }
    expect(value("feeder_books", { venue: "bybit", market: "linear", state: "stale" })).toBe(7);
    expect(value("feeder_books", { venue: "bybit", market: "spot", state: "stale" })).toBe(5);
    expect(value("feeder_symbols_unresolved", { venue: "bybit", market: "spot" })).toBe(2);
    expect(shown.length).toBe(13);
  });

  test("send errors by destination: each worker's, labelled by the destination's name, carried across a restart like the others", () => {
    const withDestinations = (worker: string, desk: number, backup: number): MetricsSnapshot => ({
      ...snapshot({ worker }, []),
      destinations: [
        { destination: "desk", sendErrors: desk },
        { destination: "backup", sendErrors: backup },
      ],
    });
    const carries = [new CounterCarry(), new CounterCarry()];
    const series = (pipelines: MetricsSnapshot[]) =>
      parsePrometheusText(renderMetrics({ pipelines, carries }))
        .samples.filter((s) => s.name === "feeder_destination_send_errors_total")
        .map((s) => [s.labels.worker, s.labels.destination, s.value]);
    const first = parsePrometheusText(renderMetrics({ pipelines: [withDestinations("0", 3, 0)] }));
    expect(first.types.get("feeder_destination_send_errors_total")).toBe("counter");
    expect(series([withDestinations("0", 3, 0), withDestinations("1", 5, 1)])).toEqual([
      ["0", "desk", 3],
      ["0", "backup", 0],
      ["1", "desk", 5],
      ["1", "backup", 1],
    ]);
    carries[1]!.restarted(); // worker 1's successor counts from 0: its series go on from 5 and 1
    expect(series([withDestinations("0", 4, 0), withDestinations("1", 2, 0)])).toEqual([
      ["0", "desk", 4],
      ["0", "backup", 0],
      ["1", "desk", 7],
      ["1", "backup", 1],
    ]);
  });
});

// The Bybit adapter's own samples (names, labels, no double counting) are tested in test/venues/bybit/metrics.test.ts.
