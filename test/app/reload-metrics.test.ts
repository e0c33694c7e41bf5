/**
 * The instrument schedule's counters in /metrics for every venue (src/venues/common/instrument-watch.ts metrics()):
 * `feeder_venue_instrument_reloads_total`, `…_reload_failures_total`, `…_changes_total` and `…_rechecks_total`, one
 * counter series per venue and market (zeros included), never a venue-wide total beside them, summing to the venue's
 * own status counters; and `feeder_venue_connect_budget`, one gauge per connect gate for every venue (until 2026-12-07
 * only Bybit, Upbit and Bithumb had one). A real runtime over HTTP with the seven venues' simulators (Bybit and
 * Binance with two markets: Bybit's share one gate, Binance's are two hosts with one each); a tick
 * change at Bybit (u back to 1: a re-check, a reload, the new tick applied) makes its linear series move. Before, only
 * Binance and OKX exported reloads (one unlabelled series each), and changes had one unlabelled series per venue.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { join } from "node:path";
import { startRuntime, type Runtime } from "../../src/app/runtime.ts";
import { parsePrometheusText, type ParsedSample } from "../../src/app/prometheus.ts";
import { validateConfig } from "../../src/config/load.ts";
import { silentLogger } from "../../src/core/log.ts";
import { startBinanceSimulator } from "../../src/sim/binance-sim.ts";
import { startBybitSimulator, type BybitSim } from "../../src/sim/bybit-sim.ts";
import { startCoinbaseSimulator } from "../../src/sim/coinbase-sim.ts";
import { startDeribitSimulator } from "../../src/sim/deribit-sim.ts";
import { startOkxSimulator } from "../../src/sim/okx-sim.ts";
import { startUpbitSimulator } from "../../src/sim/upbit-sim.ts";
import { OkxAdapter } from "../../src/venues/okx/index.ts";
import { tempDir, uniqueDestination, waitFor } from "../e2e/harness.ts";

/** Venue → its configured markets. */
const MARKETS: Record<string, string[]> = {
  bybit: ["linear", "spot"],
  okx: ["spot"],
  binance: ["spot", "linear"],
  deribit: ["inverse"],
  coinbase: ["spot"],
  upbit: ["spot"],
  bithumb: ["spot"],
};
const FAMILIES = ["instrument_reloads_total", "instrument_reload_failures_total", "instrument_changes_total", "instrument_rechecks_total"].map((n) => `feeder_venue_${n}`);
/** The status JSON's key for each family (the same quantity, summed over markets). */
const STATS_KEY: Record<string, string> = {
  feeder_venue_instrument_reloads_total: "instrumentReloads",
  feeder_venue_instrument_reload_failures_total: "instrumentReloadFailures",
  feeder_venue_instrument_changes_total: "instrumentChanges",
  feeder_venue_instrument_rechecks_total: "instrumentRechecks",
};

const stops: (() => Promise<void>)[] = [];
let bybit: BybitSim;
let runtime: Runtime;
let samples: ParsedSample[];
let types: Map<string, string>;

beforeAll(async () => {
  bybit = await startBybitSimulator({ markets: [{ market: "linear", symbols: ["BTCUSDT"] }, { market: "spot", symbols: ["BTCUSDT"] }], seed: 41 });
  const okx = await startOkxSimulator({ markets: [{ market: "spot", symbols: ["BTC-USDT"] }], seed: 41 });
  const binance = await startBinanceSimulator({ markets: [{ market: "spot", symbols: ["BTCUSDT"] }, { market: "linear", symbols: ["BTCUSDT"] }], seed: 41 });
  const deribit = await startDeribitSimulator({ markets: [{ market: "inverse", symbols: ["BTC-PERPETUAL"] }], seed: 41, heartbeatIntervalMs: 300 });
  const coinbase = await startCoinbaseSimulator({ products: ["BTC-USD"], seed: 41, levels: 50, heartbeatMs: 100 });
  const upbit = await startUpbitSimulator({ venue: "upbit", codes: ["KRW-BTC"], seed: 41 });
  const bithumb = await startUpbitSimulator({ venue: "bithumb", codes: ["KRW-BTC"], seed: 42 });
  stops.push(() => bybit.stop(), () => okx.stop(), () => binance.stop(), () => deribit.stop(), () => coinbase.stop(), () => upbit.stop(), () => bithumb.stop());
  const cache = (venue: string) => join(tempDir(`reload-metrics-${venue}-`), "instruments.json");
  const at = (sim: { wsUrl: string; restUrl: string }, venue: string) => ({ ws_url: sim.wsUrl, rest_url: sim.restUrl, instrument_cache: cache(venue) });
  const { group, port } = uniqueDestination(94);
  const config = validateConfig({
    log: { level: "warn", format: "json" },
    http: { enabled: true, listen: "127.0.0.1:0" },
    publish: { heartbeat_interval_ms: 200, snapshot_interval_ms: 1000, destinations: [{ name: "t", group, port, interface: "127.0.0.1", ttl: 1, channel: 7 }] },
    venues: {
      bybit: { ...at(bybit, "bybit"), linear: { depth: 50, symbols: ["BTCUSDT"] }, spot: { depth: 50, symbols: ["BTCUSDT"] } },
      okx: { ...at(okx, "okx"), spot: { depth: 400, symbols: ["BTC-USDT"] } },
      binance: { ...at(binance, "binance"), spot: { depth: 1000, symbols: ["BTCUSDT"] }, linear: { depth: 1000, symbols: ["BTCUSDT"] } },
      deribit: { ...at(deribit, "deribit"), inverse: { depth: 0, symbols: ["BTC-PERPETUAL"] } },
      coinbase: { ...at(coinbase, "coinbase"), spot: { symbols: ["BTC-USD"] } },
      upbit: { ...at(upbit, "upbit"), spot: { depth: 30, symbols: ["KRW-BTC"] } },
      bithumb: { ...at(bithumb, "bithumb"), spot: { depth: 30, symbols: ["KRW-BTC"] } },
    },
  });
  runtime = await startRuntime(config, silentLogger);
  stops.push(() => runtime.stop());
  await waitFor(() => runtime.feeder!.books().length === 9 && runtime.feeder!.books().every((b) => b.state === 1), "every book live", 20_000, () => bybit.step(1));
  // A tick change at Bybit: u back to 1 → a re-check of linear → one reload → the new tick applied.
  bybit.changeInstrument("linear", "BTCUSDT", { tickSize: "0.01" });
  const stats = () => runtime.feeder!.stats().venues.bybit!;
  // The reload is counted once its query is done, just after the change (Bybit's status had no reload count before).
  await waitFor(() => stats().instrumentChanges === 1 && (stats().instrumentReloads ?? 1) === 1, "Bybit's re-check reloaded linear and applied the tick", 20_000);
  ({ samples, types } = parsePrometheusText(await (await fetch(`${runtime.http!.url}/metrics`)).text()));
}, 60_000);

afterAll(async () => {
  while (stops.length > 0) await stops.pop()!();
});

describe("the instrument schedule's counters in /metrics", () => {
  test("no real adapter's sample is left out: feeder_venue_metrics_rejected is 0 for each of the seven venues", () => {
    // The app's checks of venue samples (metrics.ts writeVenueSample) drop what breaks the rules; a rule an adapter
    // breaks by design would drop its series unseen in any one-venue test. All seven here, live, in one scrape.
    const rejected = Object.fromEntries(samples.filter((s) => s.name === "feeder_venue_metrics_rejected").map((s) => [s.labels.venue, s.value]));
    expect(rejected).toEqual(Object.fromEntries(Object.keys(MARKETS).map((venue) => [venue, 0])));
  });

  test("every venue: one counter series per market of each family, labelled {venue, market} only, nothing venue-wide beside them", () => {
    for (const name of FAMILIES) {
      expect(types.get(name), name).toBe("counter");
      const got = samples.filter((s) => s.name === name);
      for (const s of got) expect(Object.keys(s.labels).sort(), `${name} ${JSON.stringify(s.labels)}`).toEqual(["market", "venue"]);
      const series = got.map((s) => `${s.labels.venue}:${s.labels.market}`).sort();
      const want = Object.entries(MARKETS).flatMap(([venue, markets]) => markets.map((m) => `${venue}:${m}`)).sort();
      expect(series, name).toEqual(want);
    }
  });

  test("Bybit's tick change is counted once, in its linear market: one re-check at least, one reload, one change, no failure", () => {
    const of = (name: string, venue: string, market: string) => samples.find((s) => s.name === `feeder_venue_${name}` && s.labels.venue === venue && s.labels.market === market)!.value;
    expect(of("instrument_changes_total", "bybit", "linear")).toBe(1);
    expect(of("instrument_reloads_total", "bybit", "linear")).toBe(1);
    expect(of("instrument_rechecks_total", "bybit", "linear")).toBeGreaterThanOrEqual(1);
    expect(of("instrument_reload_failures_total", "bybit", "linear")).toBe(0);
    for (const name of ["instrument_changes_total", "instrument_reloads_total", "instrument_rechecks_total"]) expect(of(name, "bybit", "spot"), name).toBe(0);
  });

  test("summed over markets, each family is the venue's status counter (nothing counted twice)", () => {
    const stats = runtime.feeder!.stats().venues;
    for (const venue of Object.keys(MARKETS)) {
      for (const name of FAMILIES) {
        const sum = samples.filter((s) => s.name === name && s.labels.venue === venue).reduce((a, s) => a + s.value, 0);
        expect(sum, `${venue} ${name}`).toBe(stats[venue]![STATS_KEY[name]!]);
      }
    }
  });
});

describe("feeder_venue_connect_budget: every venue's connect gates (common/metrics.ts)", () => {
  // One process: each gate's whole per-IP budget (the venues' protocol.ts limits, as docs/operations.md gives them).
  const WANT: Record<string, number> = { bybit: 400, okx: 3, deribit: 20, coinbase: 4, upbit: 5, bithumb: 8, "binance:spot": 250, "binance:linear": 250 };

  test("one gauge per connect gate: one per venue unlabelled (Bybit's two markets share it), Binance's one per market {market}", () => {
    expect(types.get("feeder_venue_connect_budget")).toBe("gauge");
    const got = samples.filter((s) => s.name === "feeder_venue_connect_budget");
    const series = Object.fromEntries(got.map((s) => [s.labels.market === undefined ? s.labels.venue! : `${s.labels.venue}:${s.labels.market}`, s.value]));
    expect(series).toEqual(WANT);
    expect(got.length).toBe(Object.keys(WANT).length); // no series twice
    for (const s of got) expect(Object.keys(s.labels).sort(), JSON.stringify(s.labels)).toEqual(s.labels.venue === "binance" ? ["market", "venue"] : ["venue"]);
  });
});

describe("OKX: a price that does not fit is a re-check of the one schedule", { timeout: 30_000 }, () => {
  test("the listing's tick is coarser than the book's prices: the misfits ask, each counted in instrument_rechecks_total{market}, and reload", async () => {
    const sim = await startOkxSimulator({ markets: [{ market: "spot", symbols: ["BTC-USDT"] }], seed: 43 });
    stops.push(() => sim.stop());
    // The listing says tick 1 from now on while the book keeps its 0.1 prices: most prices cannot be read at exponent 0.
    sim.announceChange("BTC-USDT", { param: "tickSz", newValue: "1", effTimeMs: 0 });
    const config = {
      ...{ venue: "okx" as const, wsUrl: sim.wsUrl, restUrl: sim.restUrl, instrumentCachePath: join(tempDir("reload-metrics-okx-"), "i.json") },
      ...{ markets: [{ market: "spot" as const, depth: 400, symbols: ["BTC-USDT"] }], overrides: new Map() },
    };
    const adapter = new OkxAdapter(config, [{ market: "spot", symbol: "BTC-USDT", depth: 400 }], { log: silentLogger });
    stops.push(() => adapter.stop());
    expect((await adapter.loadInstruments())[0]?.tickSize).toBe("1");
    adapter.start({ onBookUpdate() {}, onBookInvalid() {}, onInstrumentChanged() {} });
    const of = (name: string) => adapter.metrics().find((m) => m.name === name && m.labels.market === "spot")?.value ?? 0;
    await waitFor(() => of("instrument_rechecks_total") >= 1 && of("instrument_reloads_total") >= 1, "a misfit re-checked and the market reloaded", 20_000, () => sim.step(1));
    expect(adapter.stats().instrumentRechecks).toBe(of("instrument_rechecks_total"));
    expect(of("instrument_changes_total")).toBe(0); // the listing still says 1
  });
});
