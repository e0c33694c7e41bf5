/**
 * `feeder run` as a runtime (one process): the HTTP endpoints over the real pipeline, the metrics text parsed
 * back with every family the operations doc promises, and readiness following the books.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { unpack } from "msgpackr";
import { startRuntime, type Runtime } from "../../src/app/runtime.ts";
import { parsePrometheusText } from "../../src/app/prometheus.ts";
import { silentLogger } from "../../src/core/log.ts";
import { startBybitSimulator, type BybitSim } from "../../src/sim/bybit-sim.ts";
import { feederConfig, uniqueDestination, waitFor, type Markets } from "./harness.ts";

const MARKETS: Markets = [
  { market: "linear", depth: 50, symbols: ["BTCUSDT", "ETHUSDT"] },
  { market: "spot", depth: 50, symbols: ["BTCUSDT"] },
];
let sim: BybitSim;
let runtime: Runtime;
let url: string;

beforeAll(async () => {
  sim = await startBybitSimulator({ markets: MARKETS.map((m) => ({ market: m.market, symbols: m.symbols })), seed: 21, messagesPerSecond: 0 });
  runtime = await startRuntime(feederConfig({ sim, markets: MARKETS, ...uniqueDestination(8), http: true }), silentLogger);
  url = runtime.http!.url;
  await waitFor(() => runtime.feeder!.books().every((b) => b.state === 1), "live books");
  for (let i = 0; i < 20; i++) sim.step(1);
  sim.inject("gap", { market: "linear", symbol: "ETHUSDT" });
  sim.inject("malformed", { market: "spot", symbol: "BTCUSDT" });
  await waitFor(() => runtime.feeder!.stats().venues.bybit!.gaps! > 0 && runtime.feeder!.stats().venues.bybit!.parseErrors! > 0, "faults seen", 10_000, () => sim.step(1));
  await waitFor(() => runtime.feeder!.books().every((b) => b.state === 1), "live again", 10_000, () => sim.step(1));
}, 30_000);

afterAll(async () => {
  await runtime?.stop();
  await sim?.stop();
});

describe("runtime HTTP", { timeout: 30_000 }, () => {
  test("/healthz, /readyz, /books and one book in JSON and MessagePack", async () => {
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    const books = (await (await fetch(`${url}/books`)).json()) as { market: string; symbol: string; state: string; valid: boolean }[];
    expect(books.map((b) => `${b.market}:${b.symbol}`).sort()).toEqual(["linear:BTCUSDT", "linear:ETHUSDT", "spot:BTCUSDT"]);
    expect(books.every((b) => b.state === "live" && b.valid)).toBe(true);
    const json = (await (await fetch(`${url}/books/bybit/linear/BTCUSDT?depth=5`)).json()) as { bids: string[][]; asks: string[][] };
    const packed = unpack(new Uint8Array(await (await fetch(`${url}/books/bybit/linear/BTCUSDT?depth=5`, { headers: { accept: "application/msgpack" } })).arrayBuffer()));
    expect(packed.bids).toHaveLength(5);
    expect(Number(packed.bids[0][0])).toBeLessThan(Number(packed.asks[0][0]));
    // Both encodings describe the same book (unless an update landed between the two requests: none is sent here).
    expect(packed.bids).toEqual(json.bids);
    expect(packed.asks).toEqual(json.asks);
  });

  test("/metrics has every promised family, with values that follow the pipeline", async () => {
    const { samples, types } = parsePrometheusText(await (await fetch(`${url}/metrics`)).text());
    const one = (name: string, labels: Record<string, string> = {}) =>
      samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((n, s) => n + s.value, 0);
    expect(types.get("feeder_venue_messages_received_total")).toBe("counter");
    expect(one("feeder_venue_messages_received_total", { venue: "bybit" })).toBeGreaterThan(40);
    // Per connection only (no venue-wide total beside it), so the sum is the venue's total.
    const perConn = samples.filter((s) => s.name === "feeder_venue_messages_received_total");
    expect(perConn.length).toBeGreaterThan(0);
    expect(perConn.every((s) => s.labels.connection && s.labels.market)).toBe(true);
    expect(one("feeder_venue_messages_received_total")).toBe(runtime.feeder!.stats().venues.bybit!.messages);
    expect(one("feeder_venue_received_bytes_total", { venue: "bybit" })).toBeGreaterThan(1000);
    expect(one("feeder_venue_parse_errors_total", { venue: "bybit" })).toBeGreaterThan(0);
    expect(one("feeder_venue_sequence_gaps_total")).toBeGreaterThan(0);
    expect(one("feeder_venue_resyncs_total")).toBeGreaterThan(0);
    expect(samples.some((s) => s.name === "feeder_venue_reconnects_total")).toBe(true);
    expect(one("feeder_books", { state: "live" })).toBe(3);
    expect(one("feeder_books", { state: "live", market: "linear" })).toBe(2);
    expect(one("feeder_books", { state: "resyncing" })).toBe(0);
    expect(one("feeder_datagrams_sent_total")).toBeGreaterThan(10);
    expect(one("feeder_sent_bytes_total")).toBeGreaterThan(1000);
    expect(one("feeder_send_errors_total")).toBe(0);
    for (const h of ["feeder_exchange_to_receipt_seconds", "feeder_receipt_to_send_seconds", "feeder_event_loop_lag_seconds"]) {
      expect(types.get(h)).toBe("histogram");
    }
    expect(one("feeder_exchange_to_receipt_seconds_count", { venue: "bybit" })).toBeGreaterThan(20);
    expect(one("feeder_receipt_to_send_seconds_count")).toBeGreaterThan(20);
    const inf = samples.find((s) => s.name === "feeder_exchange_to_receipt_seconds_bucket" && s.labels.le === "+Inf")!;
    expect(inf.value).toBe(one("feeder_exchange_to_receipt_seconds_count"));
  });
});
