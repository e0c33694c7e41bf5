/**
 * With workers, a worker whose one venue's instrument REST hangs at start runs its other venue's books meanwhile
 * (app/feeder.ts startVenue), and the supervisor shows them: they are in /readyz's input and /books, one of them is
 * answered by /books/{venue}/{market}/{symbol}, the late venue's symbols are `resolving`, no worker is "down".
 * Before, the supervisor asked only workers whose start() had resolved: such a worker was `worker_down` ("not
 * running (restarting)"), its running books absent and a book of it 503 "not answering", for as long as the
 * venue's REST took (its 10 s timeout; a carried 429/418 hold: minutes to hours).
 * Bybit and Coinbase simulators; Coinbase's REST behind a front that holds the workers' requests until released
 * (since s-supres the supervisor makes no request of its own). Multicast on 127.0.0.1, TTL 1.
 */
import { join } from "node:path";
import { afterEach, expect, test } from "vitest";
import { Supervisor } from "../../src/app/supervisor.ts";
import { validateConfig } from "../../src/config/load.ts";
import { startBybitSimulator } from "../../src/sim/bybit-sim.ts";
import { startCoinbaseSimulator } from "../../src/sim/coinbase-sim.ts";
import { tempDir, uniqueDestination } from "../e2e/harness.ts";
import { captureLog } from "../support/capture-log.ts";

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

test("a worker whose other venue's REST hangs at start: its running books are shown, the late symbols are resolving", { timeout: 90_000 }, async () => {
  const { log, lines } = captureLog({ info: true });
  // Worker shares (inWorkerShare, 2 workers): 0 has BTCUSDT and ETH-USD, 1 has SOLUSDT and BTC-USD.
  const bybit = await startBybitSimulator({ markets: [{ market: "linear", symbols: ["BTCUSDT", "SOLUSDT"] }], seed: 351, messagesPerSecond: 0 });
  cleanups.push(() => bybit.stop());
  const coinbase = await startCoinbaseSimulator({ products: ["BTC-USD", "ETH-USD"], seed: 351, messagesPerSecond: 0, levels: 20, heartbeatMs: 100 });
  cleanups.push(() => coinbase.stop());
  // The workers' requests are held until released.
  let requests = 0;
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const front = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      requests++;
      await released;
      const url = new URL(req.url);
      const answer = await fetch(`${coinbase.restUrl.replace(/\/+$/, "")}${url.pathname}${url.search}`);
      return new Response(await answer.text(), { status: answer.status, headers: { "content-type": "application/json" } });
    },
  });
  cleanups.push(() => front.stop(true));
  cleanups.push(() => release()); // before the front stops (cleanups run in reverse)
  const { group, port } = uniqueDestination(351);
  const cache = (v: string) => join(tempDir(`feeder-rev35-${v}-`), "instruments.json");
  const config = validateConfig({
    workers: 2,
    log: { level: "warn", format: "json" },
    http: { enabled: false, listen: "127.0.0.1:0" },
    publish: { heartbeat_interval_ms: 200, startup_listen_ms: 0, destinations: [{ name: "rev35", group, port, interface: "127.0.0.1", ttl: 1, channel: 6 }] },
    venues: {
      bybit: { ws_url: bybit.wsUrl, rest_url: bybit.restUrl, instrument_cache: cache("bybit"), linear: { depth: 50, symbols: ["BTCUSDT", "SOLUSDT"] } },
      coinbase: { ws_url: coinbase.wsUrl, rest_url: `http://127.0.0.1:${front.port}`, instrument_cache: cache("coinbase"), spot: { symbols: ["BTC-USD", "ETH-USD"] } },
    },
  });
  const supervisor = new Supervisor(config, log);
  cleanups.push(() => supervisor.stop());
  let settled = false;
  const starting = supervisor.start().finally(() => (settled = true));

  // Until a worker's start() resolves (the old code's first answer), the workers' REST is held: poll the supervisor.
  const workerStarted = () => lines.some((l) => l.msg === "worker started");
  let seen = false;
  const deadline = Date.now() + 60_000;
  while (!seen && !workerStarted() && !settled && Date.now() < deadline) {
    const r = await supervisor.readiness();
    const live = r.books.filter((b) => b.venue === "bybit" && b.state === "live").map((b) => b.symbol).sort();
    const resolving = r.unresolved.filter((u) => u.venue === "coinbase" && u.reason === "resolving").map((u) => u.symbol).sort();
    seen = r.workersDown.length === 0 && live.join() === "BTCUSDT,SOLUSDT" && resolving.join() === "BTC-USD,ETH-USD";
    if (!seen) await Bun.sleep(20);
  }
  // The old code: no answer from either worker until its start() resolved (workersDown [0, 1], no book).
  expect(seen, "bybit's books LIVE and coinbase's symbols resolving, shown while the workers' coinbase REST is held").toBe(true);
  expect(workerStarted()).toBe(false);
  expect(requests).toBe(2); // one per worker, held
  const book = await supervisor.book("bybit", "linear", "SOLUSDT", 5);
  expect(book !== undefined && "valid" in book && book.valid).toBe(true);

  release();
  await starting;
  const untilReady = Date.now() + 30_000;
  let ready = false;
  while (!ready && Date.now() < untilReady) {
    const r = await supervisor.readiness();
    ready = r.workersDown.length === 0 && r.unresolved.length === 0 && r.books.length === 4 && r.books.every((b) => b.state === "live");
    if (!ready) await Bun.sleep(20);
  }
  expect(ready, "every book LIVE once coinbase's REST answered").toBe(true);
});
