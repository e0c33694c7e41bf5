import { describe, expect, test } from "vitest";
import { LatencyHistogram } from "../../src/core/histogram.ts";
import { parsePrometheusText, PromWriter } from "../../src/app/prometheus.ts";

describe("prometheus text format", () => {
  test("counters, gauges and labels round-trip, with escaping", () => {
    const w = new PromWriter();
    w.family("feeder_x_total", "counter", "an x\ncounter").sample("feeder_x_total", { venue: 'by"bit', path: "a\\b\nc" }, 42);
    w.family("feeder_g", "gauge", "g").sample("feeder_g", {}, 1.5).sample("feeder_g", { k: "v" }, NaN);
    const text = w.text();
    expect(text).toContain('# HELP feeder_x_total an x\\ncounter');
    const { samples, types } = parsePrometheusText(text);
    expect(types.get("feeder_x_total")).toBe("counter");
    expect(samples[0]).toEqual({ name: "feeder_x_total", labels: { venue: 'by"bit', path: "a\\b\nc" }, value: 42 });
    expect(samples[1]).toEqual({ name: "feeder_g", labels: {}, value: 1.5 });
    expect(Number.isNaN(samples[2]!.value)).toBe(true);
  });

  test("label values with a backslash before n or a quote round-trip as they were", () => {
    const values = ["a\\nb", 'x\\"y', "\\\\", "end\\", "\n\\n\n", 'q"\\\n'];
    const w = new PromWriter().family("feeder_v", "gauge", "v");
    values.forEach((v, i) => w.sample("feeder_v", { v, i }, i));
    expect(parsePrometheusText(w.text()).samples.map((s) => s.labels.v)).toEqual(values);
  });

  test("histogram buckets are cumulative in seconds and end with +Inf = count", () => {
    const h = new LatencyHistogram([10, 100, 1000]);
    for (const v of [1, 10, 11, 500, 5000, 5000]) h.observe(v);
    const w = new PromWriter().family("lat_seconds", "histogram", "latency").histogram("lat_seconds", { venue: "bybit" }, h);
    const { samples } = parsePrometheusText(w.text());
    const buckets = samples.filter((s) => s.name === "lat_seconds_bucket").map((s) => [s.labels.le, s.value]);
    expect(buckets).toEqual([
      ["0.00001", 2],
      ["0.0001", 3],
      ["0.001", 4],
      ["+Inf", 6],
    ]);
    expect(samples.find((s) => s.name === "lat_seconds_count")!.value).toBe(6);
    expect(samples.find((s) => s.name === "lat_seconds_sum")!.value).toBeCloseTo(10522 / 1e6, 12);
    expect(h.quantileUpperBoundUs(0.5)).toBe(100);
    expect(h.quantileUpperBoundUs(0.99)).toBe(Infinity);
  });

  test("the parser rejects malformed lines", () => {
    expect(() => parsePrometheusText("feeder_x{a=\"1\" 3\n")).toThrow(/malformed/);
    expect(() => parsePrometheusText("feeder_x abc\n")).toThrow(/malformed value/);
    expect(() => new PromWriter().family("bad-name", "gauge", "x")).toThrow(/invalid metric name/);
  });
});
