/**
 * The workers share one IP, so a venue's 429/418 (or Bybit's 403) hold answered to one worker holds the others'
 * requests too. Before, each worker honoured only the holds its own requests were given: since the workers resolve
 * their own shares at start (s-supres; the supervisor's own request used to be the one answered, and its hold was
 * handed to every worker), a 429 answered to one worker's instrument request left the other worker asking again,
 * into the venue's hold, as soon as its own retry was due (what turns Binance's 429 into a 418 ban). Here the first
 * instrument request is answered 429 with Retry-After and the second (the other worker's) 503, a REST outage that
 * its worker retries after LATE_RETRY_BASE_MS (5 s), sooner than the Retry-After: that retry must wait for the hold.
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import { Supervisor } from "../../src/app/supervisor.ts";
import { silentLogger } from "../../src/core/log.ts";
import { validateConfig } from "../../src/config/load.ts";
import { LATE_RETRY_BASE_MS } from "../../src/venues/common/late-instruments.ts";
import { startBybitSimulator, type BybitSim } from "../../src/sim/bybit-sim.ts";
import { rawConfig, uniqueDestination, waitFor, type Markets } from "../e2e/harness.ts";

// Six symbols: both workers have a share (one instrument request each at start).
const MARKETS: Markets = [{ market: "linear", depth: 50, symbols: ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT", "ADAUSDT"] }];
/** Well past the other worker's first retry (LATE_RETRY_BASE_MS), so a retry that ignores the hold is seen for sure. */
const RETRY_AFTER_S = 9;

let sim: BybitSim;
let proxy: ReturnType<typeof Bun.serve>;
let supervisor: Supervisor;
/** Wall-clock times of the instrument requests the proxy saw; when it answered the 429. */
const requestsAtMs: number[] = [];
let limitedAtMs = 0;

beforeAll(async () => {
  sim = await startBybitSimulator({ markets: [{ market: "linear", symbols: MARKETS[0]!.symbols }], seed: 37, messagesPerSecond: 0 });
  proxy = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const url = new URL(req.url);
      if (url.pathname === "/v5/market/instruments-info") {
        requestsAtMs.push(Date.now());
        if (requestsAtMs.length === 1) {
          limitedAtMs = Date.now();
          return new Response("too many requests", { status: 429, headers: { "retry-after": String(RETRY_AFTER_S) } });
        }
        if (requestsAtMs.length === 2) return new Response("unavailable", { status: 503 });
      }
      return fetch(new URL(url.pathname + url.search, sim.restUrl));
    },
  });
  const raw = rawConfig({ sim, markets: MARKETS, ...uniqueDestination(371), workers: 2 });
  (raw.venues as { bybit: Record<string, unknown> }).bybit.rest_url = `http://127.0.0.1:${proxy.port}`;
  supervisor = new Supervisor(validateConfig(raw), silentLogger);
  await supervisor.start(); // each worker starts with no books (REST unreachable, no cache)
}, 30_000);

afterAll(async () => {
  await supervisor?.stop();
  proxy?.stop(true);
  await sim?.stop();
});

test("a 429 hold answered to one worker holds the other worker's instrument requests too", { timeout: 60_000 }, async () => {
  expect(RETRY_AFTER_S * 1000).toBeGreaterThan(LATE_RETRY_BASE_MS + 2000);
  // The first request of each worker, then their retries: the first retry is the 503'd worker's unless it is held.
  await waitFor(() => requestsAtMs.length >= 3, "a retried instrument request", 40_000);
  for (const at of requestsAtMs.slice(2)) expect(at - limitedAtMs).toBeGreaterThanOrEqual(RETRY_AFTER_S * 1000);
  // Then both workers' books resolve (the requests are answered now).
  let unresolved = MARKETS[0]!.symbols.length;
  const deadline = Date.now() + 40_000;
  while (unresolved > 0 && Date.now() < deadline) {
    unresolved = (await supervisor.readiness()).unresolved.length;
    if (unresolved > 0) await Bun.sleep(20);
  }
  expect(unresolved).toBe(0);
  expect((await supervisor.readiness()).books.length).toBe(MARKETS[0]!.symbols.length);
});
