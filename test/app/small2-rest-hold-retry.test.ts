/**
 * A 429 with `Retry-After: 3600` at start: the venue's symbols are left out (rest_unreachable) and their retry waits
 * in the REST budget until the hold ends, an hour later. /readyz, /books and the status page (which shows /readyz's
 * reasons) say so: "retried in 3600 s (at …)", nextAttemptMs the hold's end, before the retry comes due and while
 * it waits in the budget. Before, they said the late retrier's own deadline (5 s jitter here 100 ms), then "retried
 * in 0 s" for the whole hour. Coinbase simulator on 127.0.0.1, multicast TTL 1.
 */
import { join } from "node:path";
import { afterEach, expect, test } from "vitest";
import { Feeder } from "../../src/app/feeder.ts";
import { unresolvedSummary } from "../../src/app/book-json.ts";
import { evaluateReadiness } from "../../src/app/readiness.ts";
import { validateConfig } from "../../src/config/load.ts";
import { startCoinbaseSimulator } from "../../src/sim/coinbase-sim.ts";
import { tempDir, uniqueDestination, waitFor } from "../e2e/harness.ts";
import { captureLog } from "../support/capture-log.ts";

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const HOLD_S = 3_600;

test("after a 429 hold at start, a left-out symbol is said to be retried when the hold ends, not in 0 s", { timeout: 60_000 }, async () => {
  const { log } = captureLog();
  const coinbase = await startCoinbaseSimulator({ products: ["BTC-USD", "ETH-USD"], seed: 361, messagesPerSecond: 0, levels: 20, heartbeatMs: 100 });
  cleanups.push(() => coinbase.stop());
  coinbase.rateLimitInstruments(1_000, HOLD_S); // every products request refused: only the hold ends the wait
  const { group, port } = uniqueDestination(361);
  const config = validateConfig({
    workers: 1,
    log: { level: "warn", format: "json" },
    http: { enabled: false, listen: "127.0.0.1:0" },
    publish: { heartbeat_interval_ms: 200, startup_listen_ms: 0, destinations: [{ name: "small2", group, port, interface: "127.0.0.1", ttl: 1, channel: 6 }] },
    venues: { coinbase: { ws_url: coinbase.wsUrl, rest_url: coinbase.restUrl, instrument_cache: join(tempDir("feeder-small2-hold-"), "instruments.json"), spot: { symbols: ["BTC-USD", "ETH-USD"] } } },
  });
  const feeder = new Feeder({ config, log, adapterOptions: { lateRetryBaseMs: 100, lateRetryMaxMs: 400, listingRetryMs: 300, lateCheckMs: 20 } });
  cleanups.push(() => feeder.stop()); // ends the budget wait at once
  const startedMs = Date.now();
  await feeder.start();

  const check = () => {
    const nowMs = Date.now();
    const unresolved = feeder.readinessInput().unresolved;
    expect(unresolved.map((u) => [u.symbol, u.reason])).toEqual([
      ["BTC-USD", "rest_unreachable"],
      ["ETH-USD", "rest_unreachable"],
    ]);
    for (const u of unresolved) {
      // The hold's end: an hour after the 429 (the old code: its own deadline, 100 ms after start, then past).
      expect(u.nextAttemptMs!).toBeGreaterThanOrEqual(startedMs + (HOLD_S - 60) * 1000);
      expect(u.nextAttemptMs!).toBeLessThanOrEqual(nowMs + HOLD_S * 1000);
    }
    const reasons = evaluateReadiness(feeder.readinessInput(), nowMs).reasons.filter((r) => r.check === "symbol_unresolved");
    expect(reasons).toHaveLength(2);
    for (const r of reasons) expect(r.detail).toMatch(/; retried in 3[56]\d\d s \(at \d{4}-\d\d-\d\dT[\d:.]+Z\)$/);
    // /books lists them as http-server.ts does: the same time.
    const books = unresolved.map(unresolvedSummary);
    expect(books.map((b) => [b.state, b.nextAttemptMs])).toEqual(unresolved.map((u) => ["symbol_unresolved", u.nextAttemptMs]));
  };
  check();
  // /metrics counts them without listing them (until 2026-12-06 every scrape built the list to count it).
  const adapter = (feeder as unknown as { pipelines: { adapter: { unresolvedInstruments(): unknown } }[] }).pipelines[0]!.adapter;
  const listUnresolved = adapter.unresolvedInstruments.bind(adapter);
  let listed = 0;
  adapter.unresolvedInstruments = () => (listed++, listUnresolved());
  expect(feeder.metricsSnapshot().unresolved).toEqual([{ venue: "coinbase", market: "spot", count: 2 }]);
  expect(listed).toBe(0);
  adapter.unresolvedInstruments = listUnresolved;

  // The retry came due and went out: it waits in the REST budget for the hold, and is still said to go then.
  const coinbaseMetric = (name: string) => feeder.metricsSnapshot().venues.coinbase!.find((m) => m.name === name)?.value ?? 0;
  await waitFor(() => coinbaseMetric("instrument_retries_total") >= 1 && coinbaseMetric("instrument_rest_waiting") >= 1, "the retry waiting in the REST budget", 20_000);
  check();
});
