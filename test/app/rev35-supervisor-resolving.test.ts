/**
 * With workers, while a venue's instrument REST hangs (up to its 10 s timeout), /readyz and /books name each
 * configured symbol `resolving` and /metrics counts them, as a single process does. (Written when the supervisor
 * resolved every venue before starting any worker and had no worker to ask: /readyz said `no_books`; since s-supres
 * the workers start at once and each answers for its share while it resolves.) The REST is a local server that never
 * answers.
 */
import { afterEach, expect, test, vi } from "vitest";
import { Supervisor } from "../../src/app/supervisor.ts";
import { evaluateReadiness, evaluateSummary, READYZ_NAMED, summaryOfInput } from "../../src/app/readiness.ts";
import { AwaitedReplies } from "../../src/app/worker-reply.ts";
import { parsePrometheusText } from "../../src/app/prometheus.ts";
import { validateConfig } from "../../src/config/load.ts";
import { uniqueDestination, waitFor } from "../e2e/harness.ts";
import { captureLog } from "../support/capture-log.ts";
import { startSilentRest } from "../support/silent-rest.ts";

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

test("workers: while the instrument REST hangs, every configured symbol is resolving (not no_books)", { timeout: 30_000 }, async () => {
  const { log } = captureLog();
  const front = startSilentRest();
  cleanups.push(() => front.stop());
  const { group, port } = uniqueDestination(353);
  const config = validateConfig({
    workers: 2,
    log: { level: "warn", format: "json" },
    http: { enabled: false, listen: "127.0.0.1:0" },
    publish: { heartbeat_interval_ms: 200, startup_listen_ms: 0, destinations: [{ name: "rev35", group, port, interface: "127.0.0.1", ttl: 1, channel: 6 }] },
    venues: { bybit: { ws_url: "ws://127.0.0.1:9", rest_url: front.url, linear: { depth: 50, symbols: ["BTCUSDT", "ETHUSDT"] } } },
  });
  const supervisor = new Supervisor(config, log);
  const starting = supervisor.start();
  cleanups.push(() => starting.catch(() => undefined));
  cleanups.push(() => supervisor.stop()); // ends the REST requests at once
  await waitFor(() => front.requests() >= 1, "a worker's instrument request");

  // Both workers answer once they have their pipelines (a moment after their requests went out).
  let reasons: unknown[][] = [];
  let input = await supervisor.readiness();
  for (const deadline = performance.now() + 10_000; ; await Bun.sleep(20)) {
    input = await supervisor.readiness();
    reasons = evaluateReadiness(input).reasons.map((r) => [r.check, r.symbol, r.reason]);
    if (reasons.length === 2 && reasons.every((r) => r[0] === "symbol_unresolved")) break;
    if (performance.now() > deadline) throw new Error(`both symbols resolving: still ${JSON.stringify(reasons)}`);
  }
  expect(evaluateReadiness(input).ready).toBe(false);
  expect([...reasons].sort()).toEqual([
    ["symbol_unresolved", "BTCUSDT", "resolving"],
    ["symbol_unresolved", "ETHUSDT", "resolving"],
  ]);
  expect(input.unresolved.every((u) => u.venue === "bybit" && u.market === "linear")).toBe(true);
  // /metrics counts them too (the old code: no feeder_symbols_unresolved series at all).
  const unresolved = parsePrometheusText(await supervisor.metricsText()).samples.filter((x) => x.name === "feeder_symbols_unresolved");
  expect(unresolved.reduce((sum, x) => sum + x.value, 0)).toBe(2);
  expect(unresolved.every((x) => x.labels.venue === "bybit" && x.labels.market === "linear")).toBe(true);
});

// Each worker's reply of more than LIST_ITEMS_PER_TURN items comes in parts, a part per turn of the worker
// (worker-reply.ts): the supervisor joins them into the same reply, every symbol once (test/app/worker-reply-parts
// counts the items cloned per turn).
test("workers: 1,500 symbols resolving come back through the replies' parts, each once", { timeout: 30_000 }, async () => {
  const { log, lines } = captureLog();
  const front = startSilentRest();
  cleanups.push(() => front.stop());
  const { group, port } = uniqueDestination(354);
  const symbols = Array.from({ length: 1500 }, (_, i) => `S${i}USDT`);
  const config = validateConfig({
    workers: 2,
    log: { level: "warn", format: "json" },
    http: { enabled: false, listen: "127.0.0.1:0" },
    publish: { heartbeat_interval_ms: 200, startup_listen_ms: 0, destinations: [{ name: "rev35", group, port, interface: "127.0.0.1", ttl: 1, channel: 6 }] },
    venues: { bybit: { ws_url: "ws://127.0.0.1:9", rest_url: front.url, linear: { depth: 50, symbols } } },
  });
  let workerLines = ""; // the workers' log, written by this thread
  const supervisor = new Supervisor(config, log, undefined, { writeLog: (text, done) => ((workerLines += text), done()) });
  const starting = supervisor.start();
  cleanups.push(() => starting.catch(() => undefined));
  cleanups.push(() => supervisor.stop());
  await waitFor(() => front.requests() >= 2, "both workers' instrument requests");
  let names: string[] = [];
  for (const deadline = performance.now() + 10_000; ; await Bun.sleep(20)) {
    names = (await supervisor.readiness()).unresolved.map((u) => u.symbol);
    if (names.length >= symbols.length || performance.now() > deadline) break;
  }
  expect(names.length).toBe(symbols.length);
  expect([...names].sort()).toEqual([...symbols].sort());
  // A reply whose client goes away as it is asked: nothing for it, its workers told to stop (no error of theirs), and
  // the next reply whole.
  const client = new AbortController();
  const asked = supervisor.readiness(undefined, client.signal);
  client.abort();
  expect(await asked).toEqual({ books: [], unresolved: [], connections: [], workersDown: [] });
  expect((await supervisor.readiness()).unresolved).toHaveLength(symbols.length);
  // /readyz's summary: one reply from each worker and no part, however many symbols (until 2026-12-06 /readyz asked
  // each worker for every book and symbol: two parts a worker here, ~80 turns of it at 20,000 books).
  const parts = vi.spyOn(AwaitedReplies.prototype, "part");
  const lasts = vi.spyOn(AwaitedReplies.prototype, "last");
  const summary = await supervisor.readyz();
  expect([parts.mock.calls.length, lasts.mock.calls.length], "parts and replies for /readyz").toEqual([0, 2]);
  parts.mockRestore();
  lasts.mockRestore();
  expect([summary.unresolved, summary.unresolvedFirst.length, summary.books]).toEqual([symbols.length, READYZ_NAMED, 0]);
  expect(evaluateSummary(summary)).toEqual(evaluateSummary(summaryOfInput(await supervisor.readiness())));
  expect(lines.filter((l) => l.level === "error").map((l) => l.msg)).toEqual([]);
  expect(workerLines).not.toContain("could not answer a status request");
});
