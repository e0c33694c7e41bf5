/**
 * One venue's instrument REST at start-up holds and fails no other venue (app/feeder.ts startVenue): Bybit and
 * Coinbase simulators in one Feeder (multicast on 127.0.0.1, TTL 1).
 * - Coinbase's products REST answers 503 at start (no cache): start() resolves, Bybit's books go LIVE, /readyz's
 *   input names Coinbase's symbols (rest_unreachable); when REST comes back they join and go LIVE. Before, start()
 *   threw ("cannot resolve instruments … REST unreachable") and the process exited: no venue ran.
 * - Coinbase's REST hangs: Bybit's books go LIVE while it hangs (start() not settled yet), Coinbase's symbols show as
 *   "resolving"; released, Coinbase joins. Before, no venue connected until every venue's REST had answered.
 * - A worker's share whose Coinbase symbols are all not listed starts empty, logged as such (before: as an outage,
 *   "REST unreachable, not a configuration error"), and reports what it found (Feeder.venueStarts).
 */
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { Feeder } from "../../src/app/feeder.ts";
import { SymbolsUnusableError } from "../../src/core/errors.ts";
import { evaluateReadiness } from "../../src/app/readiness.ts";
import { validateConfig } from "../../src/config/load.ts";
import { startBybitSimulator, type BybitSim } from "../../src/sim/bybit-sim.ts";
import { startCoinbaseSimulator, type CoinbaseSim } from "../../src/sim/coinbase-sim.ts";
import { tempDir, uniqueDestination, waitFor } from "../e2e/harness.ts";
import { captureLog } from "../support/capture-log.ts";

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const { log, lines: logLines } = captureLog({ info: true });

async function sims(seed: number): Promise<{ bybit: BybitSim; coinbase: CoinbaseSim }> {
  const bybit = await startBybitSimulator({ markets: [{ market: "linear", symbols: ["BTCUSDT", "ETHUSDT"] }], seed, messagesPerSecond: 0 });
  cleanups.push(() => bybit.stop());
  const coinbase = await startCoinbaseSimulator({ products: ["BTC-USD", "ETH-USD"], seed, messagesPerSecond: 0, levels: 20, heartbeatMs: 100 });
  cleanups.push(() => coinbase.stop());
  return { bybit, coinbase };
}

function feederOf(seed: number, bybit: BybitSim, coinbase: CoinbaseSim, coinbaseRestUrl: string): Feeder {
  const { group, port } = uniqueDestination(seed);
  const cache = (v: string) => join(tempDir(`feeder-startiso-${v}-`), "instruments.json");
  const config = validateConfig({
    workers: 1,
    log: { level: "info", format: "json" },
    http: { enabled: false, listen: "127.0.0.1:0" },
    publish: { heartbeat_interval_ms: 200, snapshot_interval_ms: 1000, startup_listen_ms: 0, destinations: [{ name: "startiso", group, port, interface: "127.0.0.1", ttl: 1, channel: 6 }] },
    venues: {
      bybit: { ws_url: bybit.wsUrl, rest_url: bybit.restUrl, instrument_cache: cache("bybit"), linear: { depth: 50, symbols: ["BTCUSDT", "ETHUSDT"] } },
      coinbase: { ws_url: coinbase.wsUrl, rest_url: coinbaseRestUrl, instrument_cache: cache("coinbase"), spot: { symbols: ["BTC-USD", "ETH-USD"] } },
    },
  });
  const feeder = new Feeder({ config, log, adapterOptions: { lateRetryBaseMs: 100, lateRetryMaxMs: 400, listingRetryMs: 300, lateCheckMs: 20 } });
  cleanups.push(() => feeder.stop());
  return feeder;
}

const liveOf = (feeder: Feeder, venue: string) => feeder.bookSummaries().filter((b) => b.venue === venue && b.state === "live").map((b) => b.symbol).sort();

describe("one venue's instrument REST at start-up", { timeout: 60_000 }, () => {
  test("answering 503 (no cache): the other venue goes LIVE, start() does not fail, the venue joins when REST is back", async () => {
    const { bybit, coinbase } = await sims(81);
    coinbase.setRestAvailable(false);
    const feeder = feederOf(81, bybit, coinbase, coinbase.restUrl);
    await feeder.start(); // the old code threw here: coinbase resolved none of its symbols
    await waitFor(() => liveOf(feeder, "bybit").length === 2, "bybit books LIVE", 20_000);
    expect(liveOf(feeder, "coinbase")).toEqual([]);
    const readiness = evaluateReadiness(feeder.readinessInput());
    expect(readiness.ready).toBe(false);
    const unresolved = readiness.reasons.filter((r) => r.check === "symbol_unresolved");
    expect(unresolved.map((r) => [r.venue, r.symbol, r.reason])).toEqual([
      ["coinbase", "BTC-USD", "rest_unreachable"],
      ["coinbase", "ETH-USD", "rest_unreachable"],
    ]);
    expect(unresolved[0]!.detail).toMatch(/^coinbase spot:BTC-USD: .*REST unreachable/);
    expect(logLines.some((l) => l.level === "error" && /coinbase: cannot resolve instruments .*starts with no books and retries them/.test(l.msg))).toBe(true);

    coinbase.setRestAvailable(true);
    await waitFor(() => liveOf(feeder, "coinbase").length === 2, "coinbase books LIVE after REST came back", 20_000);
    expect(liveOf(feeder, "bybit")).toEqual(["BTCUSDT", "ETHUSDT"]);
    expect(evaluateReadiness(feeder.readinessInput()).ready).toBe(true);
  });

  test("hanging: the other venue goes LIVE while it hangs; the venue joins once REST answers", async () => {
    const { bybit, coinbase } = await sims(82);
    // A REST front that holds every request until released, then forwards it to the simulator.
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const front = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch(req) {
        await released;
        const url = new URL(req.url);
        const answer = await fetch(`${coinbase.restUrl.replace(/\/+$/, "")}${url.pathname}${url.search}`);
        return new Response(await answer.text(), { status: answer.status, headers: { "content-type": "application/json" } });
      },
    });
    cleanups.push(() => front.stop(true));
    cleanups.push(() => release()); // before the front stops (cleanups run in reverse)
    const feeder = feederOf(82, bybit, coinbase, `http://127.0.0.1:${front.port}`);
    let settled = false;
    const starting = feeder.start().finally(() => (settled = true));
    await waitFor(() => liveOf(feeder, "bybit").length === 2 || settled, "bybit books LIVE (or start settled)", 20_000);
    // The old code connected no venue before every venue's instruments had answered: start() settled first.
    expect(settled).toBe(false);
    expect(liveOf(feeder, "bybit")).toEqual(["BTCUSDT", "ETHUSDT"]);
    const resolving = evaluateReadiness(feeder.readinessInput()).reasons.filter((r) => r.check === "symbol_unresolved");
    expect(resolving.map((r) => [r.venue, r.symbol, r.reason])).toEqual([
      ["coinbase", "BTC-USD", "resolving"],
      ["coinbase", "ETH-USD", "resolving"],
    ]);

    release();
    await starting;
    await waitFor(() => liveOf(feeder, "coinbase").length === 2, "coinbase books LIVE once REST answered", 20_000);
    expect(evaluateReadiness(feeder.readinessInput()).ready).toBe(true);
  });

  test("stop() while one venue runs and the other's REST hangs: the REST ends at once, the running venue is halted", async () => {
    const { bybit, coinbase } = await sims(84);
    const front = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Promise<Response>(() => undefined) }); // never answers
    cleanups.push(() => front.stop(true));
    const feeder = feederOf(84, bybit, coinbase, `http://127.0.0.1:${front.port}`);
    let settled = false;
    const starting = feeder.start().finally(() => (settled = true));
    await waitFor(() => liveOf(feeder, "bybit").length === 2 || settled, "bybit books LIVE (or start settled)", 20_000);
    expect(settled).toBe(false);
    let stopped = false;
    const stopping = feeder.stop().then(() => (stopped = true));
    // Stopped during start-up: start() resolves (not a failure) without waiting out Coinbase's 10 s REST timeout.
    await waitFor(() => stopped && settled, "stop() and start() settled", 8_000);
    await starting;
    await stopping;
    expect(feeder.bookSummaries().map((b) => [b.venue, b.symbol, b.state, b.reason])).toEqual([
      ["bybit", "BTCUSDT", "halted", "shutdown"],
      ["bybit", "ETHUSDT", "halted", "shutdown"],
    ]);
    expect(logLines.some((l) => l.msg === "stopped during start-up: the venues connected by then are halted")).toBe(true);
  });

  test("a worker's share (partOfLargerConfig) whose symbols are all not listed starts empty, logged as not listed, and reports it", async () => {
    const { bybit, coinbase } = await sims(85);
    // Listed as delisted: a definite "not listed" (an unknown id, answered with an empty list, is no answer: not_trading).
    coinbase.setProductStatus("ETH-USD", "delisted");
    const { group, port } = uniqueDestination(85);
    const config = validateConfig({
      workers: 1,
      log: { level: "info", format: "json" },
      http: { enabled: false, listen: "127.0.0.1:0" },
      publish: { heartbeat_interval_ms: 200, startup_listen_ms: 0, destinations: [{ name: "startiso", group, port, interface: "127.0.0.1", ttl: 1, channel: 6 }] },
      venues: {
        bybit: { ws_url: bybit.wsUrl, rest_url: bybit.restUrl, instrument_cache: join(tempDir("feeder-startiso-"), "i.json"), linear: { depth: 50, symbols: ["BTCUSDT"] } },
        coinbase: { ws_url: coinbase.wsUrl, rest_url: coinbase.restUrl, instrument_cache: join(tempDir("feeder-startiso-"), "i.json"), spot: { symbols: ["ETH-USD"] } },
      },
    });
    const feeder = new Feeder({ config, log, partOfLargerConfig: true });
    cleanups.push(() => feeder.stop());
    await feeder.start();
    const line = logLines.find((l) => l.level === "error" && l.msg.startsWith("coinbase: cannot resolve instruments for spot:ETH-USD (not listed"));
    // The old line called it an outage: "… the venue starts with no books and retries them while running (REST unreachable, not a configuration error)".
    expect(line?.msg).toMatch(/; this share of the venue \(a worker's or a shard's\) starts with no books and retries them while running$/);
    // What the supervisor's start check reads (app/venue-start.ts).
    const starts = feeder.venueStarts().map((v) => [v.venue, v.books, v.unresolved.map((u) => [u.symbol, u.kind])]);
    expect(starts).toEqual([
      ["bybit", 1, []],
      ["coinbase", 0, [["ETH-USD", "not_listed"]]],
    ]);
  });

  test("a venue whose symbols are all not listed still fails the start, naming them", async () => {
    const { bybit, coinbase } = await sims(83);
    // Listed as delisted: a definite "not listed" (an unknown id, answered with an empty list, is no answer: not_trading).
    coinbase.setProductStatus("ETH-USD", "delisted");
    const { group, port } = uniqueDestination(83);
    const config = validateConfig({
      workers: 1,
      log: { level: "info", format: "json" },
      http: { enabled: false, listen: "127.0.0.1:0" },
      publish: { heartbeat_interval_ms: 200, startup_listen_ms: 0, destinations: [{ name: "startiso", group, port, interface: "127.0.0.1", ttl: 1, channel: 6 }] },
      venues: {
        bybit: { ws_url: bybit.wsUrl, rest_url: bybit.restUrl, instrument_cache: join(tempDir("feeder-startiso-"), "i.json"), linear: { depth: 50, symbols: ["BTCUSDT"] } },
        coinbase: { ws_url: coinbase.wsUrl, rest_url: coinbase.restUrl, instrument_cache: join(tempDir("feeder-startiso-"), "i.json"), spot: { symbols: ["ETH-USD"] } },
      },
    });
    const feeder = new Feeder({ config, log });
    cleanups.push(() => feeder.stop());
    const err = await feeder.start().then(() => undefined, (e: unknown) => e as Error);
    expect(err?.message).toMatch(/coinbase: cannot resolve instruments for spot:ETH-USD \(not listed/);
    // A configuration error (run exits 2, not restarted), not a failure worth retrying (before: a plain Error, exit 1).
    expect(err).toBeInstanceOf(SymbolsUnusableError);
    await feeder.stop();
    // The venue that started by then was halted by stop(): none of its books is LIVE.
    expect(feeder.bookSummaries().filter((b) => b.state === "live")).toEqual([]);
  });
});
