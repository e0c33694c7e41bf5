/**
 * A symbol left out at start joins while running (src/venues/common/late-instruments.ts), against the real Bybit
 * simulator, a real runtime (HTTP on 127.0.0.1) and a real subscriber on loopback multicast (TTL 1):
 * - the linear market's instrument REST answers 503 at start (no cache): its books are left out while spot's go
 *   live; once REST recovers they are resolved, published (definition, snapshot) and equal the simulator's, and
 *   spot's books never left LIVE;
 * - a symbol the venue lists only later (hidden from instruments-info at start) joins once listed;
 * - a symbol the venue never lists stays out, is retried, and is logged once (the start error), never per retry;
 * /readyz, /status and /metrics say which symbols are unresolved and why all along. Before this, a symbol left out at
 * start stayed out until a restart.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { parsePrometheusText } from "../../src/app/prometheus.ts";
import { startRuntime, type Runtime } from "../../src/app/runtime.ts";
import { validateConfig } from "../../src/config/load.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { createLogger } from "../../src/core/log.ts";
import type { MarketName } from "../../src/core/types.ts";
import { startBybitSimulator, type BybitSim } from "../../src/sim/bybit-sim.ts";
import { FeedSubscriber } from "../../src/subscriber/index.ts";
import { allBooksEqual, rawConfig, uniqueDestination, waitFor, type Markets } from "../e2e/harness.ts";

const MARKETS: Markets = [
  { market: "spot", depth: 50, symbols: ["BTCUSDT", "ETHUSDT", "NOPEUSDT"] },
  { market: "linear", depth: 50, symbols: ["BTCUSDT", "SOLUSDT", "XRPUSDT"] },
];
const topic = (market: MarketName, symbol: string) => ({ market, symbol, id: instrumentIdOf("bybit", market, symbol) });
const SPOT_BTC = [topic("spot", "BTCUSDT")];
const LINEAR = ["BTCUSDT", "SOLUSDT", "XRPUSDT"].map((s) => topic("linear", s));
const SPOT_ETH = [topic("spot", "ETHUSDT")];

interface Reason {
  check: string;
  market?: string;
  symbol?: string;
  reason?: string;
  detail: string;
}

let sim: BybitSim;
let subscriber: FeedSubscriber;
let runtime: Runtime;
let cachePath = "";
const lines: { level: string; msg: string; [k: string]: unknown }[] = [];

async function get<T>(path: string): Promise<T> {
  return (await (await fetch(`${runtime.http!.url}${path}`)).json()) as T;
}
async function metrics() {
  return parsePrometheusText(await (await fetch(`${runtime.http!.url}/metrics`)).text()).samples;
}
/** `market:symbol` and reason of every symbol_unresolved reason of /readyz. */
async function unresolved(): Promise<[string, string | undefined][]> {
  const body = await get<{ reasons: Reason[] }>("/readyz");
  return body.reasons.filter((r) => r.check === "symbol_unresolved").map((r) => [`${r.market}:${r.symbol}`, r.reason]);
}
/** Polls an async condition (no fixed sleeps). */
async function until(cond: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
const feederBook = (market: string, symbol: string) => runtime.feeder!.bookSummaries().find((b) => b.market === market && b.symbol === symbol);

beforeAll(async () => {
  sim = await startBybitSimulator({
    markets: [
      { market: "spot", symbols: ["BTCUSDT", "ETHUSDT"] },
      { market: "linear", symbols: ["BTCUSDT", "SOLUSDT", "XRPUSDT"] },
    ],
    unlisted: ["spot:ETHUSDT"],
    seed: 71,
    messagesPerSecond: 0,
  });
  sim.setRestAvailable(false, "linear");
  const { group, port } = uniqueDestination(71);
  subscriber = new FeedSubscriber({ groups: [{ group, port, iface: "127.0.0.1" }] });
  await subscriber.start();
  const log = createLogger({ level: "info", format: "json", write: (l) => lines.push(JSON.parse(l)) });
  const config = validateConfig(rawConfig({ sim, markets: MARKETS, group, port, http: true }));
  cachePath = config.venues[0]!.instrumentCachePath;
  runtime = await startRuntime(config, log, {
    feederOptions: { adapterOptions: { lateRetryBaseMs: 200, lateRetryMaxMs: 800, listingRetryMs: 300, lateCheckMs: 20 } },
  });
}, 30_000);

afterAll(async () => {
  await runtime?.stop();
  await subscriber?.stop();
  await sim?.stop();
});

describe("symbols left out at start", { timeout: 60_000 }, () => {
  test("REST down at start for linear: spot goes live; linear is reported, retried, and joins once REST is back", async () => {
    await waitFor(() => allBooksEqual(subscriber, sim, SPOT_BTC), "spot BTCUSDT at the subscriber", 20_000);
    expect(runtime.feeder!.books().map((b) => `${b.instrument.market}:${b.instrument.symbol}`)).toEqual(["spot:BTCUSDT"]);
    // Which symbols and why: /readyz (and /status, which the status page shows) and /metrics.
    expect(await unresolved()).toEqual([
      ["spot:ETHUSDT", "not_listed"],
      ["spot:NOPEUSDT", "not_listed"],
      ["linear:BTCUSDT", "rest_unreachable"],
      ["linear:SOLUSDT", "rest_unreachable"],
      ["linear:XRPUSDT", "rest_unreachable"],
    ]);
    const status = await get<{ reasons: Reason[] }>("/status");
    const sol = status.reasons.find((r) => r.symbol === "SOLUSDT")!;
    expect(sol.detail).toMatch(/linear:SOLUSDT: instrument not resolved .*REST unreachable: bybit REST http:\/\/127\.0\.0\.1:\d+\/v5\/market\/instruments-info\?category=linear.*HTTP 503.*; retried in \d+ s/);
    // Retried while down (each a failed query of the linear market), with backoff.
    await until(async () => (await metrics()).find((s) => s.name === "feeder_venue_instrument_retry_failures_total")!.value >= 2, "two failed retries");
    const samples = await metrics();
    const gauge = (market: string, reason: string) => samples.find((s) => s.name === "feeder_venue_instruments_unresolved" && s.labels.market === market && s.labels.reason === reason)?.value;
    expect([gauge("linear", "rest_unreachable"), gauge("spot", "not_listed"), gauge("spot", "rest_unreachable"), gauge("linear", "not_listed")]).toEqual([3, 2, 0, 0]);
    expect(samples.filter((s) => s.name === "feeder_symbols_unresolved").map((s) => [s.labels.market, s.value])).toEqual([
      ["spot", 2],
      ["linear", 3],
    ]);

    sim.setRestAvailable(true, "linear");
    await waitFor(() => allBooksEqual(subscriber, sim, [...SPOT_BTC, ...LINEAR]), "linear books at the subscriber after REST recovered", 20_000);
    for (let i = 0; i < 5; i++) {
      sim.step(1);
      await waitFor(() => allBooksEqual(subscriber, sim, [...SPOT_BTC, ...LINEAR]), `books after step ${i}`);
    }
    for (const t of LINEAR) expect(feederBook("linear", t.symbol)?.state).toBe("live");
    // The other market's book was LIVE all along: it never stopped being live.
    expect(feederBook("spot", "BTCUSDT")).toMatchObject({ state: "live", invalidations: 0 });
    expect(runtime.feeder!.stats().venues.bybit!.instrumentsResolvedLate).toBe(3);
    // The late specs are merged into the cache after their books joined (under the cache's lock, shared with other
    // writers): waited for, not assumed done once the books are equal (under load it had not been: spot:BTCUSDT alone).
    const cachedKeys = async () => Object.keys((JSON.parse(await Bun.file(cachePath).text()) as { instruments: Record<string, unknown> }).instruments).sort();
    await until(async () => (await cachedKeys()).some((k) => k.startsWith("linear:")), "the late linear specs merged into the instrument cache");
    expect(await cachedKeys()).toEqual(["linear:BTCUSDT", "linear:SOLUSDT", "linear:XRPUSDT", "spot:BTCUSDT"]);
  });

  test("a symbol listed after start joins; one never listed stays out and is logged once", async () => {
    const retries = async () => (await metrics()).find((s) => s.name === "feeder_venue_instrument_retries_total")!.value;
    const before = await retries();
    sim.setListed("spot", "ETHUSDT", true);
    await waitFor(() => allBooksEqual(subscriber, sim, SPOT_ETH), "spot ETHUSDT at the subscriber once listed", 20_000);
    sim.step(1);
    await waitFor(() => allBooksEqual(subscriber, sim, [...SPOT_BTC, ...SPOT_ETH, ...LINEAR]), "every listed book after a step");
    // NOPEUSDT: asked again at the listing cadence, still not listed, and still reported.
    const afterEth = await retries();
    expect(afterEth).toBeGreaterThan(before);
    await until(async () => (await retries()) >= afterEth + 3, "three more listing retries");
    expect(await unresolved()).toEqual([["spot:NOPEUSDT", "not_listed"]]);
    const nope = (await get<{ reasons: Reason[] }>("/readyz")).reasons.find((r) => r.symbol === "NOPEUSDT")!;
    expect(nope.detail).toContain("not listed by http://127.0.0.1:");
    expect(runtime.feeder!.books().map((b) => `${b.instrument.market}:${b.instrument.symbol}`).sort()).toEqual(
      ["linear:BTCUSDT", "linear:SOLUSDT", "linear:XRPUSDT", "spot:BTCUSDT", "spot:ETHUSDT"],
    );
    // Logged once: the start error that named it; the retries since said nothing about it.
    const mentions = lines.filter((l) => JSON.stringify(l).includes("NOPEUSDT"));
    expect(mentions.map((l) => l.level)).toEqual(["error"]);
    expect(String(mentions[0]!.msg)).toContain("retried while running");
    // Each late symbol was logged as it joined.
    expect(lines.filter((l) => l.msg === "bybit: instrument resolved after start; subscribing").map((l) => `${l.market}:${l.symbol}`).sort()).toEqual(
      ["linear:BTCUSDT", "linear:SOLUSDT", "linear:XRPUSDT", "spot:ETHUSDT"],
    );
  });
});
