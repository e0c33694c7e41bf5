/**
 * workers = 2: the subscriptions are split over two Bun Workers, each with its own connections, builders and
 * publisher socket (source id 1 and 2 on the same channel). A killed worker is restarted by the supervisor and
 * its books recover; HTTP aggregates both workers' books and metrics.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startRuntime, type Runtime } from "../../src/app/runtime.ts";
import { parsePrometheusText } from "../../src/app/prometheus.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { silentLogger } from "../../src/core/log.ts";
import { inWorkerShare } from "../../src/app/feeder.ts";
import { startBybitSimulator, type BybitSim } from "../../src/sim/bybit-sim.ts";
import { FeedSubscriber } from "../../src/subscriber/index.ts";
import type { FeederConfig } from "../../src/config/types.ts";
import { readFileSync } from "node:fs";
import { allBooksEqual, feederConfig, uniqueDestination, waitFor, type Markets } from "./harness.ts";

const MARKETS: Markets = [{ market: "linear", depth: 50, symbols: ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT", "ADAUSDT"] }];
const TOPICS = MARKETS.flatMap((m) => m.symbols.map((symbol) => ({ market: m.market, symbol, id: instrumentIdOf("bybit", m.market, symbol) })));

let sim: BybitSim;
let subscriber: FeedSubscriber;
let runtime: Runtime;
let config: FeederConfig;

function allEqual(): boolean {
  return allBooksEqual(subscriber, sim, TOPICS);
}

beforeAll(async () => {
  sim = await startBybitSimulator({ markets: MARKETS.map((m) => ({ market: m.market, symbols: m.symbols })), seed: 5, messagesPerSecond: 0 });
  const { group, port } = uniqueDestination(3);
  subscriber = new FeedSubscriber({ groups: [{ group, port, iface: "127.0.0.1" }] });
  await subscriber.start();
  config = feederConfig({ sim, markets: MARKETS, group, port, workers: 2, http: true, snapshotIntervalMs: 500 });
  runtime = await startRuntime(config, silentLogger);
}, 30_000);

afterAll(async () => {
  await runtime?.stop();
  await subscriber?.stop();
  await sim?.stop();
});

describe("workers = 2", { timeout: 40_000 }, () => {
  test("both workers publish their share; books equal the simulator's", async () => {
    // The split is stable and uses both workers for this symbol set.
    const shares = TOPICS.map((t) => (inWorkerShare("bybit", { market: t.market, symbol: t.symbol, depth: 50 }, 0, 2) ? 0 : 1));
    expect(new Set(shares).size).toBe(2);
    await waitFor(allEqual, "initial books from both workers", 20_000);
    for (let i = 0; i < 10; i++) {
      sim.step(1);
      await waitFor(allEqual, `books after step ${i}`);
    }
    const sources = new Set(subscriber.streamInfo().map((s) => s.sourceId));
    expect(sources).toEqual(new Set([1, 2]));
    // The supervisor resolved every instrument once, so the cache holds all of them (not one worker's share).
    const cache = JSON.parse(readFileSync(config.venues[0]!.instrumentCachePath, "utf8"));
    expect(Object.keys(cache.instruments).sort()).toEqual(MARKETS[0]!.symbols.map((s) => `linear:${s}`).sort());
  });

  test("HTTP aggregates books and metrics of both workers", async () => {
    const books = (await (await fetch(`${runtime.http!.url}/books`)).json()) as { symbol: string; state: string }[];
    expect(books.map((b) => b.symbol).sort()).toEqual([...MARKETS[0]!.symbols].sort());
    expect(books.every((b) => b.state === "live")).toBe(true);
    expect((await fetch(`${runtime.http!.url}/readyz`)).status).toBe(200);
    const { samples } = parsePrometheusText(await (await fetch(`${runtime.http!.url}/metrics`)).text());
    const live = samples.filter((s) => s.name === "feeder_books" && s.labels.state === "live");
    expect(live.map((s) => s.labels.worker).sort()).toEqual(["0", "1"]);
    expect(live.reduce((n, s) => n + s.value, 0)).toBe(TOPICS.length);
    expect(samples.find((s) => s.name === "feeder_workers_ready")!.value).toBe(2);
    // One host IP: each of the 2 workers may use half of Bybit's connection-rate budget (400 per window).
    const budgets = samples.filter((s) => s.name === "feeder_venue_connect_budget");
    expect(budgets.map((s) => [s.labels.worker, s.value]).sort()).toEqual([["0", 200], ["1", 200]]);
    // The process's own numbers once (a worker shares its CPU, memory and fds), never per worker.
    for (const name of ["process_cpu_seconds_total", "process_resident_memory_bytes", "process_start_time_seconds", "feeder_build_info"]) {
      expect(samples.filter((s) => s.name === name).map((s) => s.labels.worker), name).toEqual([undefined]);
    }
    const latency = (await (await fetch(`${runtime.http!.url}/status`)).json()) as { latency: { receiptToSend: { count: number } } };
    const sent = samples.filter((s) => s.name === "feeder_receipt_to_send_seconds_count").reduce((n, s) => n + s.value, 0);
    expect(latency.latency.receiptToSend.count).toBeGreaterThanOrEqual(sent); // the status page merges both workers' histograms
  });

  test("a killed worker is restarted and its books recover", async () => {
    const supervisor = runtime.supervisor!;
    const restarts: number[] = [];
    subscriber.on("session", (e) => {
      if (e.kind === "restarted") restarts.push(e.sourceId);
    });
    supervisor.kill(1);
    await waitFor(() => supervisor.restarts === 1, "worker 1 restarted", 20_000);
    // The restarted worker is a new publisher session on source 2; its books come back from fresh snapshots.
    await waitFor(allEqual, "books after the restart", 20_000, () => sim.step(1));
    for (let i = 0; i < 5; i++) {
      sim.step(1);
      await waitFor(allEqual, `books after restart, step ${i}`);
    }
    expect(restarts).toEqual([2]); // worker 1 publishes as source 2: the subscriber saw its new session
    const { samples } = parsePrometheusText(await (await fetch(`${runtime.http!.url}/metrics`)).text());
    expect(samples.find((s) => s.name === "feeder_worker_restarts_total")!.value).toBe(1);
  });
});

describe("workers = 2 with a symbol the venue does not list", { timeout: 40_000 }, () => {
  test("a worker whose whole share is unresolvable starts empty; the other worker's books go live", async () => {
    const share = (symbol: string) => (inWorkerShare("bybit", { market: "linear", symbol, depth: 50 }, 0, 2) ? 0 : 1);
    const good = MARKETS[0]!.symbols.filter((s) => share(s) === 0);
    const bad = Array.from({ length: 20 }, (_, i) => `NOPE${i}USDT`).find((s) => share(s) === 1)!;
    expect(good.length).toBeGreaterThan(0);
    expect(bad).toBeDefined();
    const markets: Markets = [{ market: "linear", depth: 50, symbols: [...good, bad] }];
    const { group, port } = uniqueDestination(4);
    const rt = await startRuntime(feederConfig({ sim, markets, group, port, workers: 2, http: true }), silentLogger);
    try {
      const all = async () => (await (await fetch(`${rt.http!.url}/books`)).json()) as { symbol: string; state: string; reason: string }[];
      // /books lists the unresolved symbol too (state symbol_unresolved): the books are the others.
      const books = async () => (await all()).filter((b) => b.state !== "symbol_unresolved");
      let last: { symbol: string; state: string }[] = [];
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline) {
        last = await books();
        if (last.length === good.length && last.every((b) => b.state === "live")) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(last.map((b) => b.symbol).sort()).toEqual([...good].sort());
      expect(last.every((b) => b.state === "live")).toBe(true);
      expect((await all()).filter((b) => b.state === "symbol_unresolved").map((b) => [b.symbol, b.reason])).toEqual([[bad, "not_listed"]]);
      const { samples } = parsePrometheusText(await (await fetch(`${rt.http!.url}/metrics`)).text());
      expect(samples.find((s) => s.name === "feeder_workers_ready")!.value).toBe(2);
      const unresolved = samples.filter((s) => s.name === "feeder_symbols_unresolved");
      expect(unresolved.map((s) => [s.labels.worker, s.value]).sort()).toEqual([["0", 0], ["1", 1]]);
      // Not every configured book: /readyz says which symbol is missing.
      const ready = await fetch(`${rt.http!.url}/readyz`);
      expect(ready.status).toBe(503);
      const reasons = ((await ready.json()) as { reasons: { check: string; symbol?: string }[] }).reasons;
      expect(reasons.map((r) => [r.check, r.symbol])).toEqual([["symbol_unresolved", bad]]);
    } finally {
      await rt.stop();
    }
  });
});

describe("workers = 2 with the linear instrument REST down at start", { timeout: 60_000 }, () => {
  test("each worker retries its share of the left-out symbols, and they join once REST answers", async () => {
    const markets: Markets = [
      { market: "spot", depth: 50, symbols: ["BTCUSDT", "ETHUSDT"] },
      { market: "linear", depth: 50, symbols: ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"] },
    ];
    const linear = markets[1]!.symbols.map((symbol) => ({ market: "linear" as const, symbol, id: instrumentIdOf("bybit", "linear", symbol) }));
    const shares = new Set(linear.map((t) => (inWorkerShare("bybit", { market: "linear", symbol: t.symbol, depth: 50 }, 0, 2) ? 0 : 1)));
    expect(shares).toEqual(new Set([0, 1])); // both workers have left-out symbols to retry
    const s = await startBybitSimulator({ markets: markets.map((m) => ({ market: m.market, symbols: m.symbols })), seed: 17, messagesPerSecond: 0 });
    s.setRestAvailable(false, "linear");
    const { group, port } = uniqueDestination(5);
    const sub = new FeedSubscriber({ groups: [{ group, port, iface: "127.0.0.1" }] });
    await sub.start();
    const rt = await startRuntime(feederConfig({ sim: s, markets, group, port, workers: 2, http: true }), silentLogger);
    try {
      const books = async () => (await (await fetch(`${rt.http!.url}/books`)).json()) as { market: string; symbol: string; state: string }[];
      const reasons = ((await (await fetch(`${rt.http!.url}/readyz`)).json()) as { reasons: { check: string; market?: string; reason?: string }[] }).reasons;
      expect(reasons.filter((r) => r.check === "symbol_unresolved").map((r) => [r.market, r.reason])).toEqual(linear.map(() => ["linear", "rest_unreachable"]));
      // No linear book: each is listed as symbol_unresolved (REST unreachable) instead.
      expect((await books()).filter((b) => b.market === "linear").map((b) => b.state)).toEqual(linear.map(() => "symbol_unresolved"));
      s.setRestAvailable(true, "linear");
      // The production retry timing (a first retry 2.5–5 s after start): each worker asks for its own share.
      await waitFor(() => allBooksEqual(sub, s, linear), "linear books from both workers after REST recovered", 30_000);
      let last: { market: string; state: string }[] = [];
      for (let i = 0; i < 200 && !(last.length === 6 && last.every((b) => b.state === "live")); i++) {
        last = await books();
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(last.map((b) => b.state)).toEqual(Array(6).fill("live"));
      expect((await fetch(`${rt.http!.url}/readyz`)).status).toBe(200);
      const { samples } = parsePrometheusText(await (await fetch(`${rt.http!.url}/metrics`)).text());
      const late = samples.filter((x) => x.name === "feeder_venue_instruments_resolved_late_total");
      expect(late.map((x) => x.labels.worker).sort()).toEqual(["0", "1"]);
      expect(late.reduce((n, x) => n + x.value, 0)).toBe(linear.length);
    } finally {
      await rt.stop();
      await sub.stop();
      await s.stop();
    }
  });
});
