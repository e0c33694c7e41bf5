/**
 * Every venue's Prometheus series are documented: each name a venue adapter exports (`metrics()` of an adapter built
 * from the registry for every market of the venue, plus the names its source passes to counter()/gauge() or lists
 * in its counter tables, which cover the series that only appear once something happened, e.g. by parse error code)
 * is in docs/operations.md § Metrics or in the venue's docs/venues/<venue>.md § Counters, as `feeder_venue_<name>`;
 * and every name a venue doc lists there is one that venue exports; every `feeder_…`/`process_…` name the rest of src/
 * writes (app, supervisor, publish guard, process) is in docs/operations.md § Metrics, workers-only ones included,
 * which a single-process scrape never shows. Each series an adapter has before it starts has the type and labels its
 * row gives (the app adds `venue`; per-connection series appear once connected: metrics-live checks those). Every
 * metric name written anywhere in README.md,
 * docs/ or deploy/ is one the code exports. (test/app/metrics-live.test.ts checks the operations.md table against a
 * running Bybit feeder.)
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, test } from "vitest";
import { ForwardBridge } from "../../src/bridge/forward-bridge.ts";
import { ReverseBridge } from "../../src/bridge/reverse-bridge.ts";
import { parsePrometheusText } from "../../src/app/prometheus.ts";
import { fromNatsMetrics, toNatsMetrics } from "../../src/cli/commands/bridge-http.ts";
import { NatsFeedReader } from "../../src/subscriber/nats-source.ts";
import { validateConfig } from "../../src/config/load.ts";
import { silentLogger } from "../../src/core/log.ts";
import type { MarketName } from "../../src/core/types.ts";
import { supportedVenues, venueSpec } from "../../src/venues/registry.ts";
import type { VenueMetric } from "../../src/venues/venue.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const read = (path: string) => readFileSync(join(ROOT, path), "utf8");

/** A `## ` section of a markdown file, from its heading to the next `## `. */
function section(text: string, heading: string): string {
  const start = text.indexOf(`\n## ${heading}`);
  if (start === -1) return "";
  const end = text.indexOf("\n## ", start + 4);
  return text.slice(start, end === -1 ? undefined : end);
}

const namesIn = (text: string) => new Set([...text.matchAll(/`feeder_venue_([a-z0-9_]*[a-z0-9])`/g)].map((m) => m[1]!));

/** One symbol per market, distinct across markets (Deribit refuses one channel twice), in the venue's spelling. */
const SYMBOLS: Record<string, Partial<Record<MarketName, string>>> = {
  bybit: { option: "BTC-27MAR26-70000-P-USDT" },
  okx: { spot: "BTC-USDT", linear: "BTC-USDT-SWAP", inverse: "BTC-USD-SWAP", option: "BTC-USD-261225-100000-C" },
  deribit: { spot: "BTC_USDC", linear: "BTC_USDC-PERPETUAL", inverse: "BTC-PERPETUAL", option: "BTC-27MAR26-70000-C" },
  coinbase: { spot: "BTC-USD" },
  upbit: { spot: "KRW-BTC" },
  bithumb: { spot: "KRW-BTC" },
};

/** The names an adapter of the venue returns from metrics() before it starts (nothing connected, nothing fetched). */
function runtimeNames(venue: string): string[] {
  return runtimeSamples(venue).map((m) => m.name);
}

/** The series an adapter of the venue returns from metrics() before it starts. */
function runtimeSamples(venue: string): VenueMetric[] {
  const spec = venueSpec(venue)!;
  const markets = Object.keys(spec.markets) as MarketName[];
  const table = Object.fromEntries(markets.map((m) => [m, { symbols: [SYMBOLS[venue]?.[m] ?? "BTCUSDT"] }]));
  const config = validateConfig({ venues: { [venue]: table } }).venues[0]!;
  const subs = config.markets.flatMap((m) => m.symbols.map((symbol) => ({ market: m.market, symbol, depth: m.depth })));
  const refuse = (async () => {
    throw new Error("no network in this test");
  }) as unknown as typeof fetch;
  const adapter = spec.create(config, subs, { log: silentLogger, fetch: refuse });
  return adapter.metrics();
}

/** Names the venue's own source and the common per-connection code give counter()/gauge() or list in counter tables. */
function sourceNames(venue: string): string[] {
  const dir = join(ROOT, "src/venues", venue);
  const files = [...readdirSync(dir).map((f) => join(dir, f)), join(ROOT, "src/venues/common/metrics.ts")];
  const out: string[] = [];
  for (const file of files) {
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(/\b(?:counter|gauge)\(\s*"([a-z][a-z0-9_]*)"/g)) out.push(m[1]!);
    // Counter tables: ["statsKey", "metric_name_total", "help", …]
    for (const m of text.matchAll(/\[\s*"[A-Za-z.]+",\s*"([a-z][a-z0-9_]*_total)",\s*"/g)) out.push(m[1]!);
  }
  return out;
}

const operations = namesIn(section(read("docs/operations.md"), "Metrics"));
/** Bithumb runs on the Upbit adapter; its doc points at Upbit's list. */
const DOC_OF: Record<string, string[]> = { bithumb: ["docs/venues/bithumb.md", "docs/venues/upbit.md"] };
const venueDocNames = (venue: string) => new Set((DOC_OF[venue] ?? [`docs/venues/${venue}.md`]).flatMap((p) => [...namesIn(section(read(p), "Counters"))]));

describe("every venue's metrics are documented", () => {
  test.each(supportedVenues().map((v) => [v]))("%s", (venue) => {
    const exported = new Set([...runtimeNames(venue), ...sourceNames(venue)]);
    expect(exported.size, `${venue}: the adapter exports series`).toBeGreaterThan(15);
    const documented = venueDocNames(venue);
    const missing = [...exported].filter((n) => !operations.has(n) && !documented.has(n)).map((n) => `feeder_venue_${n}`);
    expect(missing, `${venue}: not in docs/operations.md § Metrics nor docs/venues/${venue}.md § Counters`).toEqual([]);
    const gone = [...documented].filter((n) => !exported.has(n));
    expect(gone.map((n) => `feeder_venue_${n}`), `docs/venues/${venue}.md § Counters lists series ${venue} does not export`).toEqual([]);
  });

  test.each(supportedVenues().map((v) => [v]))("%s: each series metrics() has before start has its row's type and labels", (venue) => {
    // Rows `| \`feeder_venue_x\` | type | labels | meaning |` of operations.md § Metrics and the venue's § Counters.
    const rows = new Map<string, { type: string; labels: string[] }>();
    const texts = [section(read("docs/operations.md"), "Metrics"), ...(DOC_OF[venue] ?? [`docs/venues/${venue}.md`]).map((p) => section(read(p), "Counters"))];
    for (const text of texts) {
      for (const line of text.split("\n")) {
        const m = /^\| `feeder_venue_([a-z0-9_]+)` \| (counter|gauge) \| ([a-z_, ]*) \|/.exec(line);
        if (m) rows.set(m[1]!, { type: m[2]!, labels: m[3]!.split(", ").filter((l) => l !== "") });
      }
    }
    const wrong: string[] = [];
    let checked = 0;
    for (const sample of runtimeSamples(venue)) {
      const row = rows.get(sample.name);
      if (row === undefined) continue; // the test above names it
      const labels = ["venue", ...Object.keys(sample.labels)].sort(); // the app adds `venue`
      if (row.type !== sample.type || row.labels.sort().join() !== labels.join()) wrong.push(`feeder_venue_${sample.name}: ${sample.type} {${labels}}, documented ${row.type} {${row.labels}}`);
      checked++;
    }
    expect(wrong).toEqual([]);
    expect(checked).toBeGreaterThan(15);
  });

  test("docs/venues/bybit.md § Counters lists every stats() total of the Bybit adapter, and only those", () => {
    const text = section(read("docs/venues/bybit.md"), "Counters").replace(/\s+/g, " ");
    const totals = text.slice(text.indexOf("Totals:"), text.indexOf("; per connection"));
    const documented = [...totals.matchAll(/`([A-Za-z]+)`/g)].map((m) => m[1]!).sort();
    const spec = venueSpec("bybit")!;
    const table = Object.fromEntries(Object.keys(spec.markets).map((m) => [m, { symbols: [SYMBOLS.bybit?.[m as MarketName] ?? "BTCUSDT"] }]));
    const config = validateConfig({ venues: { bybit: table } }).venues[0]!;
    const subs = config.markets.flatMap((m) => m.symbols.map((symbol) => ({ market: m.market, symbol, depth: m.depth })));
    const adapter = spec.create(config, subs, { log: silentLogger, fetch: (async () => { throw new Error("no network in this test"); }) as unknown as typeof fetch });
    const keys = Object.keys(adapter.stats()).filter((k) => !/^conn\d/.test(k)).sort(); // per connection: conn<N>.<market>.…
    expect(documented).toEqual(keys);
  });

  test("every feeder_/process_ name src/ writes is in docs/operations.md § Metrics (the bridge's: docs/nats.md)", () => {
    const names = new Set<string>();
    const walk = (dir: string) => {
      for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
        if (e.isDirectory()) walk(join(dir, e.name));
        else for (const m of read(join(dir, e.name)).matchAll(/"((?:feeder|process)_[a-z0-9_]*[a-z0-9])"/g)) names.add(m[1]!);
      }
    };
    walk("src");
    const documented = new Set([...section(read("docs/operations.md"), "Metrics").matchAll(/`((?:feeder|process)_[a-z0-9_]*[a-z0-9])`/g)].map((m) => m[1]!));
    // The NATS bridge's own (`feeder bridge --http`) are in docs/nats.md, beside the bridge's counters they show.
    for (const m of section(read("docs/nats.md"), "Metrics and readiness").matchAll(/`(feeder_bridge_[a-z0-9_]*[a-z0-9])`/g)) documented.add(m[1]!);
    expect(names.size).toBeGreaterThan(25);
    expect([...names].filter((n) => !documented.has(n))).toEqual([]);
  });

  test("every metric name the docs mention anywhere is one the code exports", () => {
    const exported = new Set<string>();
    const walkSrc = (dir: string) => {
      for (const name of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
        const path = join(dir, name.name);
        if (name.isDirectory()) walkSrc(path);
        else for (const m of read(path).matchAll(/"((?:feeder|process)_[a-z0-9_]+)"/g)) exported.add(m[1]!);
      }
    };
    walkSrc("src");
    for (const venue of supportedVenues()) for (const n of [...runtimeNames(venue), ...sourceNames(venue)]) exported.add(`feeder_venue_${n}`);
    const docs = ["README.md", "deploy/grafana/README.md"];
    const walkDocs = (dir: string) => {
      for (const name of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
        if (name.isDirectory()) walkDocs(join(dir, name.name));
        else if (name.name.endsWith(".md")) docs.push(join(dir, name.name));
      }
    };
    walkDocs("docs");
    const unknown: string[] = [];
    for (const doc of docs) {
      for (const m of read(doc).matchAll(/\b((?:feeder|process)_[a-z0-9_]*[a-z0-9])\b/g)) {
        const name = m[1]!.replace(/_(bucket|sum|count)$/, "");
        if (name === "feeder_venue" || exported.has(name) || exported.has(m[1]!)) continue;
        unknown.push(`${doc}: ${m[1]}`);
      }
    }
    expect(unknown).toEqual([]);
  });
});

/**
 * docs/nats.md § Metrics and readiness: its table gives each family of `feeder bridge`'s /metrics with its type, labels
 * and direction. Before, only the names were checked (above): a row's type, labels or direction could be wrong unseen.
 * Both directions' metrics of bridges built, not started (no NATS needed): with --stream and without.
 */
describe("docs/nats.md lists the bridge's /metrics families as each direction exports them", () => {
  interface Row { type: string; labels: string[]; directions: string }
  const rows = new Map<string, Row>();
  for (const line of section(read("docs/nats.md"), "Metrics and readiness").split("\n")) {
    const cells = line.split("|").slice(1, -1).map((c) => c.trim());
    if (cells.length !== 5 || !cells[0]!.startsWith("`feeder_bridge_")) continue;
    for (const m of cells[0]!.matchAll(/`([a-z0-9_]+)`/g)) rows.set(m[1]!, { type: cells[1]!, labels: cells[2]!.split(",").map((l) => l.trim()).filter((l) => l !== ""), directions: cells[3]! });
  }

  function exported(direction: "to-nats" | "from-nats", stream: string | undefined): ReturnType<typeof parsePrometheusText> {
    if (direction === "to-nats") {
      const bridge = new ForwardBridge({ groups: [], servers: "127.0.0.1:1", prefix: "docs", log: silentLogger });
      bridge.counters.rejected.bad_magic = 1; // a reason appears once seen
      return parsePrometheusText(toNatsMetrics(bridge, "docs", stream));
    }
    const bridge = new ReverseBridge({ servers: ["127.0.0.1:1"], prefix: "docs", group: "239.255.0.1", port: 1, iface: "127.0.0.1", ttl: 1 });
    bridge.reader = new NatsFeedReader({ servers: ["127.0.0.1:1"], prefix: "docs" }, () => {});
    return parsePrometheusText(fromNatsMetrics(bridge, "docs", stream));
  }

  test.each([
    ["to-nats", undefined],
    ["to-nats", "S"],
    ["from-nats", undefined],
    ["from-nats", "S"],
  ] as const)("%s, --stream %s: every family has its row, with its type, labels and direction", (direction, stream) => {
    const { samples, types } = exported(direction, stream);
    const wrong: string[] = [];
    for (const [name, type] of types) {
      if (name.startsWith("process_")) continue; // the feeder's standard ones (operations.md)
      const row = rows.get(name);
      if (row === undefined) {
        wrong.push(`${name}: no row`);
        continue;
      }
      if (row.type !== type) wrong.push(`${name}: a ${type}, documented ${row.type}`);
      if (row.directions !== "both" && !row.directions.startsWith(direction)) wrong.push(`${name}: exported by ${direction}, documented ${row.directions}`);
      const labels = [...new Set(samples.filter((s) => s.name === name).flatMap((s) => Object.keys(s.labels)))].sort();
      if (samples.some((s) => s.name === name) && labels.join() !== [...row.labels].sort().join()) wrong.push(`${name}: labels {${labels}}, documented {${row.labels}}`);
    }
    expect(wrong).toEqual([]);
    expect(types.size).toBeGreaterThan(10);
  });

  test("every row's family is exported by the directions it names (`--stream` ones with a stream)", () => {
    const by = { "to-nats": exported("to-nats", "S").types, "from-nats": exported("from-nats", "S").types };
    const plain = { "to-nats": exported("to-nats", undefined).types, "from-nats": exported("from-nats", undefined).types };
    const wrong: string[] = [];
    for (const [name, row] of rows) {
      const directions = row.directions === "both" ? (["to-nats", "from-nats"] as const) : (["to-nats", "from-nats"] as const).filter((d) => row.directions.startsWith(d));
      if (directions.length === 0) wrong.push(`${name}: direction ${JSON.stringify(row.directions)}`);
      for (const d of directions) {
        if (!by[d].has(name)) wrong.push(`${name}: documented for ${d}, not exported`);
        if (!row.directions.includes("--stream") && !plain[d].has(name)) wrong.push(`${name}: not exported by ${d} without --stream, documented so`);
      }
      for (const d of ["to-nats", "from-nats"] as const) if (!directions.includes(d) && by[d].has(name)) wrong.push(`${name}: exported by ${d} too, documented ${row.directions}`);
    }
    expect(rows.size).toBeGreaterThan(25);
    expect(wrong).toEqual([]);
  });
});
