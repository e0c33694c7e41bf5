/**
 * A restarted worker must not get a fresh per-IP budget while the venue still counts its predecessor's. Here the
 * venue answers the workers' instrument requests 429 with Retry-After: every request from this IP is to wait (each
 * worker starts with no books: REST unreachable, no cache). Worker 1 is then killed: before, its restart queried the
 * instrument REST again at once (a fresh RestWeightBudget, no hold), which is what turns Binance's 429 into a 418
 * ban. Now the supervisor keeps what each worker slot spent and the holds it got, and the restarted worker's budgets
 * start from them: its first request waits for the Retry-After. The bound is not an upper one: a slower run only
 * makes the wait longer. Every symbol is worker 1's share, so its requests are the only ones (worker 0 has no Bybit
 * budget; a hold one worker is given holds the others too since test/app/rev37-worker-hold-shared, which with two
 * shares made the count of requests at start depend on whether the workers asked at once).
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import { Supervisor } from "../../src/app/supervisor.ts";
import { silentLogger } from "../../src/core/log.ts";
import { validateConfig } from "../../src/config/load.ts";
import { startBybitSimulator, type BybitSim } from "../../src/sim/bybit-sim.ts";
import { inWorkerShare } from "../../src/app/feeder.ts";
import { rawConfig, uniqueDestination, waitFor, type Markets } from "../e2e/harness.ts";

const CANDIDATES = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT", "ADAUSDT", "LTCUSDT", "DOTUSDT", "LINKUSDT", "AVAXUSDT"];
const SYMBOLS = CANDIDATES.filter((symbol) => inWorkerShare("bybit", { market: "linear", symbol, depth: 50 }, 1, 2)).slice(0, 3);
const MARKETS: Markets = [{ market: "linear", depth: 50, symbols: SYMBOLS }];
/** Longer than any restart takes, so a restart that ignores it is seen for sure. */
const RETRY_AFTER_S = 8;

let sim: BybitSim;
let proxy: ReturnType<typeof Bun.serve>;
let supervisor: Supervisor;
/** Wall-clock times of the instrument requests the proxy saw, and of its 429 answers. */
const requestsAtMs: number[] = [];
const limitedAtMs: number[] = [];
/** While set, instrument requests are answered 429. */
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
        if (limiting) {
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

test("a restarted worker waits out the 429 hold its predecessor was given", { timeout: 60_000 }, async () => {
  expect(SYMBOLS.length).toBeGreaterThan(0);
  // Worker 1's one request, answered 429: it started with no books (worker 0 has none to ask for).
  expect(requestsAtMs.length).toBe(1);
  expect(limitedAtMs.length).toBe(1);
  limiting = false;
  const before = requestsAtMs.length;
  supervisor.kill(1);
  // The next instrument request: the restarted worker's (it asks at once unless it waits out its predecessor's hold).
  await waitFor(() => requestsAtMs.length > before, "the next instrument request", 30_000);
  expect(requestsAtMs[before]! - limitedAtMs[0]!).toBeGreaterThanOrEqual(RETRY_AFTER_S * 1000);
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
