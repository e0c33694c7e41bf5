/**
 * With workers, the supervisor resolves every venue's instruments once before it starts any worker; while a venue's
 * instrument REST hangs there (up to its 10 s timeout), /readyz and /books name each configured symbol `resolving`,
 * as a single process does. Before, the supervisor had no worker to ask yet: /readyz said `no_books` ("this instance
 * has no configured book"), /books was empty and /metrics had no feeder_symbols_unresolved. The REST is a local server that never answers; no worker starts.
 */
import { afterEach, expect, test } from "vitest";
import { Supervisor } from "../../src/app/supervisor.ts";
import { evaluateReadiness } from "../../src/app/readiness.ts";
import { parsePrometheusText } from "../../src/app/prometheus.ts";
import { validateConfig } from "../../src/config/load.ts";
import { uniqueDestination, waitFor } from "../e2e/harness.ts";
import { captureLog } from "../support/capture-log.ts";

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

test("workers: while the supervisor's instrument REST hangs, every configured symbol is resolving (not no_books)", { timeout: 30_000 }, async () => {
  const { log } = captureLog();
  let requests = 0;
  const front = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: () => {
      requests++;
      return new Promise<Response>(() => undefined); // never answers
    },
  });
  cleanups.push(() => front.stop(true));
  const { group, port } = uniqueDestination(353);
  const config = validateConfig({
    workers: 2,
    log: { level: "warn", format: "json" },
    http: { enabled: false, listen: "127.0.0.1:0" },
    publish: { heartbeat_interval_ms: 200, startup_listen_ms: 0, destinations: [{ name: "rev35", group, port, interface: "127.0.0.1", ttl: 1, channel: 6 }] },
    venues: { bybit: { ws_url: "ws://127.0.0.1:9", rest_url: `http://127.0.0.1:${front.port}`, linear: { depth: 50, symbols: ["BTCUSDT", "ETHUSDT"] } } },
  });
  const supervisor = new Supervisor(config, log);
  const starting = supervisor.start();
  cleanups.push(() => starting.catch(() => undefined));
  cleanups.push(() => supervisor.stop()); // ends the REST request at once; no worker is started
  await waitFor(() => requests > 0, "the supervisor's instrument request");

  const input = await supervisor.readiness();
  const readiness = evaluateReadiness(input);
  expect(readiness.ready).toBe(false);
  // The old code: [["no_books", undefined]] (no worker yet to ask).
  expect(readiness.reasons.map((r) => [r.check, r.symbol, r.reason])).toEqual([
    ["symbol_unresolved", "BTCUSDT", "resolving"],
    ["symbol_unresolved", "ETHUSDT", "resolving"],
  ]);
  expect(input.unresolved.every((u) => u.venue === "bybit" && u.market === "linear")).toBe(true);
  expect(supervisor.workerCount()).toBe(0);
  // /metrics counts them too (the old code: no feeder_symbols_unresolved series at all).
  const unresolved = parsePrometheusText(await supervisor.metricsText()).samples.filter((x) => x.name === "feeder_symbols_unresolved");
  expect(unresolved.map((x) => [x.labels.venue, x.labels.market, x.value])).toEqual([["bybit", "linear", 2]]);
});
