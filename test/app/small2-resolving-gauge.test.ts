/**
 * While a venue's instrument REST has not answered at start, /metrics' two counts of symbols without a book agree:
 * `feeder_symbols_unresolved` counts every configured symbol (`resolving`, as /readyz says) and so does
 * `feeder_venue_instruments_unresolved{reason="resolving"}`. Before, the venue gauge had no `resolving` reason and
 * read 0 for every reason meanwhile. The REST is a local server that never answers (the Feeder's stop ends it).
 */
import { afterEach, expect, test } from "vitest";
import { Feeder } from "../../src/app/feeder.ts";
import { renderMetrics } from "../../src/app/metrics.ts";
import { parsePrometheusText } from "../../src/app/prometheus.ts";
import { evaluateReadiness } from "../../src/app/readiness.ts";
import { validateConfig } from "../../src/config/load.ts";
import { uniqueDestination, waitFor } from "../e2e/harness.ts";
import { captureLog } from "../support/capture-log.ts";
import { startSilentRest } from "../support/silent-rest.ts";

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

test("instrument REST not answered yet: feeder_venue_instruments_unresolved counts the symbols as resolving, like feeder_symbols_unresolved", { timeout: 30_000 }, async () => {
  const { log } = captureLog();
  const front = startSilentRest();
  cleanups.push(() => front.stop());
  const { group, port } = uniqueDestination(362);
  const config = validateConfig({
    workers: 1,
    log: { level: "warn", format: "json" },
    http: { enabled: false, listen: "127.0.0.1:0" },
    publish: { heartbeat_interval_ms: 200, startup_listen_ms: 0, destinations: [{ name: "small2", group, port, interface: "127.0.0.1", ttl: 1, channel: 6 }] },
    venues: { bybit: { ws_url: "ws://127.0.0.1:9", rest_url: front.url, linear: { depth: 50, symbols: ["BTCUSDT", "ETHUSDT", "BTCUSDT@1"] }, spot: { depth: 50, symbols: ["BTCUSDT"] } } },
  });
  const feeder = new Feeder({ config, log });
  const starting = feeder.start();
  cleanups.push(() => starting.catch(() => undefined));
  cleanups.push(() => feeder.stop()); // ends the REST requests at once
  await waitFor(() => front.requests() >= 2, "both markets' instrument requests");

  const reasons = evaluateReadiness(feeder.readinessInput()).reasons.map((r) => [r.check, r.market, r.symbol, r.reason]);
  expect(reasons.map((r) => r.join(" ")).sort()).toEqual([
    "symbol_unresolved linear BTCUSDT resolving",
    "symbol_unresolved linear BTCUSDT@1 resolving",
    "symbol_unresolved linear ETHUSDT resolving",
    "symbol_unresolved spot BTCUSDT resolving",
  ]);
  const samples = parsePrometheusText(renderMetrics({ pipelines: [feeder.metricsSnapshot()] })).samples;
  const byMarket = (name: string, reason?: string) =>
    samples
      .filter((s) => s.name === name && s.labels.venue === "bybit" && (reason === undefined || s.labels.reason === reason))
      .map((s) => [s.labels.market, s.value])
      .sort();
  expect(byMarket("feeder_symbols_unresolved")).toEqual([
    ["linear", 3],
    ["spot", 1],
  ]);
  // The old code: no `resolving` series (and 0 for every other reason).
  expect(byMarket("feeder_venue_instruments_unresolved", "resolving")).toEqual(byMarket("feeder_symbols_unresolved"));
  for (const reason of ["rest_unreachable", "not_listed", "bad_spec", "join_failed"]) {
    expect(byMarket("feeder_venue_instruments_unresolved", reason)).toEqual([
      ["linear", 0],
      ["spot", 0],
    ]);
  }
});
