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

  // Every test that reads a scrape parses it with parsePrometheusText, so it checks the whole exposition as the format
  // (0.0.4) has it. Before, it read line by line and took each of these: a test could not see them in a scrape.
  test.each([
    ["a second HELP", "# HELP x a\n# HELP x b\nx 1\n", /second HELP/],
    ["a second TYPE", "# TYPE x gauge\n# TYPE x counter\nx 1\n", /second TYPE/],
    ["a TYPE after the samples", "x 1\n# TYPE x gauge\n", /TYPE of x after its samples/],
    ["a family's lines in two groups", "# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na{k=\"v\"} 2\n", /lines of a are not one group/],
    ["a series twice", "x{a=\"1\",b=\"2\"} 1\nx{b=\"2\",a=\"1\"} 2\n", /series given twice/],
    ["a label twice", "x{a=\"1\",a=\"2\"} 1\n", /a given twice/],
    ["an escape the format has not", "x{a=\"\\t\"} 1\n", /escape/],
    ["a reserved label name", "x{__name__=\"y\"} 1\n", /label name/],
    ["a hexadecimal value", "x 0x10\n", /malformed value/],
    ["no newline after the last line", "x 1", /newline/],
    ["histogram: buckets not cumulative", "# TYPE h histogram\nh_bucket{le=\"1\"} 5\nh_bucket{le=\"+Inf\"} 3\nh_sum 1\nh_count 3\n", /not cumulative/],
    ["histogram: no +Inf bucket", "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n", /no \+Inf/],
    ["histogram: le not increasing", "# TYPE h histogram\nh_bucket{le=\"2\"} 1\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n", /not above/],
    ["histogram: _count not the +Inf bucket", "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n", /_count 3/],
    ["histogram: no _sum", "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_count 2\n", /no _sum/],
    ["histogram: a sample without a suffix", "# TYPE h histogram\nh 1\n", /without _bucket/],
    ["histogram: a bucket without le", "# TYPE h histogram\nh_bucket 1\n", /le belongs/],
  ])("the parser refuses %s", (_what, text, error) => {
    expect(() => parsePrometheusText(text)).toThrow(error);
  });

  test("what the format allows is read: blanks between tokens, a trailing comma, a timestamp, other comments, Inf and NaN", () => {
    const text = '# a comment\n# HELP x the \\\\ and\\n x\n# TYPE x gauge\nx { a = "1" , b="q\\"\\\\\\n", } 2.5e3 1700000000000\nx{a="2"}\t-Inf\nx NaN\n\n';
    const { samples, types, help } = parsePrometheusText(text);
    expect(types.get("x")).toBe("gauge");
    expect(help.get("x")).toBe("the \\ and\n x");
    expect(samples.slice(0, 2)).toEqual([
      { name: "x", labels: { a: "1", b: 'q"\\\n' }, value: 2500 },
      { name: "x", labels: { a: "2" }, value: -Infinity },
    ]);
    expect(Number.isNaN(samples[2]!.value)).toBe(true);
  });

  test("randomized: whatever the writer is given (labels of any characters, histograms, families in any order) parses back as given", () => {
    let seed = 7;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % n;
    const ALPHABET = ["a", "Z", "0", " ", "\\", '"', "\n", "n", "{", "}", ",", "=", "#", "é", "\u{1F600}", "\t"];
    for (let round = 0; round < 200; round++) {
      const w = new PromWriter();
      const expected: { name: string; labels: Record<string, string>; value: number }[] = [];
      const histograms: { name: string; labels: Record<string, string>; h: LatencyHistogram }[] = [];
      const seen = new Set<string>();
      for (let i = 0; i < 1 + rnd(12); i++) {
        const family = `f${rnd(4)}`;
        const type = (["counter", "gauge", "histogram"] as const)[Number(family.slice(1)) % 3]!;
        const name = type === "counter" ? `${family}_total` : family;
        w.family(name, type, `help ${ALPHABET[rnd(ALPHABET.length)]}`);
        const labels: Record<string, string> = {};
        for (let k = 0; k < rnd(3); k++) labels[`l${k}`] = Array.from({ length: rnd(6) }, () => ALPHABET[rnd(ALPHABET.length)]).join("");
        const key = name + JSON.stringify(labels);
        if (seen.has(key)) continue;
        seen.add(key);
        if (type === "histogram") {
          const h = new LatencyHistogram([10, 100, 1000]);
          for (let k = 0; k < rnd(20); k++) h.observe(rnd(3000));
          w.histogram(name, labels, h);
          histograms.push({ name, labels, h });
        } else {
          const value = rnd(4) === 0 ? rnd(1000) / 7 : rnd(1e6);
          w.sample(name, labels, value);
          expected.push({ name, labels, value });
        }
      }
      const parsed = parsePrometheusText(w.text()).samples;
      expect(parsed.filter((s) => !/_(bucket|sum|count)$/.test(s.name))).toEqual(expect.arrayContaining(expected));
      expect(parsed.filter((s) => !/_(bucket|sum|count)$/.test(s.name))).toHaveLength(expected.length);
      for (const { name, labels, h } of histograms) {
        const count = parsed.find((s) => s.name === `${name}_count` && JSON.stringify(s.labels) === JSON.stringify(labels));
        expect(count?.value).toBe(h.count);
      }
    }
  });
});
