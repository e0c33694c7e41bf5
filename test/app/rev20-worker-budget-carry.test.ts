/**
 * A restarted worker must not get a fresh per-IP budget while the venue still counts its predecessor's. Here the
 * venue answers the workers' instrument requests 429 with Retry-After: every request from this IP is to wait. Worker 1
 * is then killed: before, its restart queried the instrument REST again at once (a fresh RestWeightBudget, no hold),
 * which is what turns Binance's 429 into a 418 ban. Now the supervisor keeps what each worker slot spent and the
 * holds it got, and the restarted worker's budgets start from them: its first request waits for the Retry-After.
 * The same for a 429 answered to the supervisor's own instrument request at start: the workers used to ask at once.
 *
 * Both cases wait out a Retry-After of RETRY_AFTER_S, so they run side by side (test.concurrent): each has its own
 * supervisor, REST proxy, instrument cache and multicast destination; they share only the simulator's instrument
 * REST, which answers both alike. Neither bound is an upper one: a slower run only makes the waits longer.
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import { Feeder } from "../../src/app/feeder.ts";
import { Supervisor } from "../../src/app/supervisor.ts";
import { instrumentCacheWritesSettled } from "../../src/venues/common/instruments.ts";
import { silentLogger } from "../../src/core/log.ts";
import { validateConfig } from "../../src/config/load.ts";
import { startBybitSimulator, type BybitSim } from "../../src/sim/bybit-sim.ts";
import { rawConfig, uniqueDestination, waitFor, type Markets } from "../e2e/harness.ts";

const MARKETS: Markets = [{ market: "linear", depth: 50, symbols: ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT", "ADAUSDT"] }];
/** Longer than any restart takes, so a restart that ignores it is seen for sure. */
const RETRY_AFTER_S = 8;

let sim: BybitSim;
let proxy: ReturnType<typeof Bun.serve>;
let supervisor: Supervisor;
/** Wall-clock times of the instrument requests the proxy saw, and of its 429 answers. */
const requestsAtMs: number[] = [];
const limitedAtMs: number[] = [];
/** While set, instrument requests after the first (the supervisor's own resolve) are answered 429. */
let limiting = true;

beforeAll(async () => {
  sim = await startBybitSimulator({ markets: [{ market: "linear", symbols: MARKETS[0]!.symbols }], seed: 11, messagesPerSecond: 0 });
  proxy = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const url = new URL(req.url);
      if (url.pathname === "/v5/market/instruments-info") {
        requestsAtMs.push(Date.now());
        if (limiting && requestsAtMs.length > 1) {
          limitedAtMs.push(Date.now());
          return new Response("too many requests", { status: 429, headers: { "retry-after": String(RETRY_AFTER_S) } });
        }
      }
      return fetch(new URL(url.pathname + url.search, sim.restUrl));
    },
  });
  const raw = rawConfig({ sim, markets: MARKETS, ...uniqueDestination(175), workers: 2 });
  (raw.venues as { bybit: Record<string, unknown> }).bybit.rest_url = `http://127.0.0.1:${proxy.port}`;
  supervisor = new Supervisor(validateConfig(raw), silentLogger);
  await supervisor.start();
}, 30_000);

afterAll(async () => {
  await supervisor?.stop();
  proxy?.stop(true);
  await sim?.stop();
});

test.concurrent("a restarted worker waits out the 429 hold its predecessor was given", { timeout: 60_000 }, async () => {
  // The supervisor's resolve, then one request per worker, each answered 429 (each worker then used the cache).
  expect(requestsAtMs.length).toBe(3);
  expect(limitedAtMs.length).toBe(2);
  limiting = false;
  const before = requestsAtMs.length;
  supervisor.kill(1);
  await waitFor(() => requestsAtMs.length > before, "the restarted worker's instrument request", 30_000);
  // Its predecessor's hold ends RETRY_AFTER_S after the earlier of the two 429s at the latest.
  expect(requestsAtMs[before]! - Math.min(...limitedAtMs)).toBeGreaterThanOrEqual(RETRY_AFTER_S * 1000);
  expect(supervisor.restarts).toBe(1);
  // Then it starts (the request is answered now): no worker is reported down.
  let down: number[] = [1];
  const deadline = Date.now() + 30_000;
  while (down.length > 0 && Date.now() < deadline) {
    down = (await supervisor.readiness()).workersDown;
    if (down.length > 0) await Bun.sleep(20);
  }
  expect(down).toEqual([]);
});

test.concurrent("a 429 answered to the supervisor's own instrument request holds the workers' first requests too", { timeout: 60_000 }, async () => {
  const raw = rawConfig({ sim, markets: MARKETS, ...uniqueDestination(176), workers: 2 });
  const bybit = (raw.venues as { bybit: Record<string, unknown> }).bybit;
  // The cache the supervisor falls back to (as after an earlier run), filled from the venue directly.
  await new Feeder({ config: validateConfig(raw), log: silentLogger }).resolveInstruments();
  await instrumentCacheWritesSettled();
  const seenAtMs: number[] = [];
  let limitedAt = 0;
  const limiter = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const url = new URL(req.url);
      if (url.pathname === "/v5/market/instruments-info") {
        seenAtMs.push(Date.now());
        if (seenAtMs.length === 1) {
          limitedAt = Date.now();
          return new Response("too many requests", { status: 429, headers: { "retry-after": String(RETRY_AFTER_S) } });
        }
      }
      return fetch(new URL(url.pathname + url.search, sim.restUrl));
    },
  });
  bybit.rest_url = `http://127.0.0.1:${limiter.port}`;
  const second = new Supervisor(validateConfig(raw), silentLogger);
  try {
    await second.start();
    expect(seenAtMs.length).toBe(3); // the supervisor's (429, then the cache), then one per worker
    for (const at of seenAtMs.slice(1)) expect(at - limitedAt).toBeGreaterThanOrEqual(RETRY_AFTER_S * 1000);
  } finally {
    await second.stop();
    limiter.stop(true);
  }
});
