/**
 * The workers share one IP, so a WebSocket connect the venue refuses with 429 (or 418, 403: a rate limit or a ban on
 * connect) holds every worker's connects, as a REST 429/418 hold does (s-rev37): relayed to the other workers and
 * carried to restarted ones. Before, a refused handshake was an ordinary failed connect: the worker reconnected on
 * its backoff (~0.5 s) and every other worker connected as if nothing had happened, into the venue's limit.
 * Real worker threads, the Bybit simulator behind a WebSocket proxy that answers the first handshake 429
 * (Bun's WebSocket client gives the status in its error text; no Retry-After: connect-hold.ts's hold is used).
 * Each test waits out a real hold (other threads hold it): the two run at once, each with its own simulator, proxy
 * and destination (uniqueDestination(163 + seed)).
 */
import { test } from "vitest";
import { Supervisor } from "../../src/app/supervisor.ts";
import { silentLogger } from "../../src/core/log.ts";
import { validateConfig } from "../../src/config/load.ts";
import { CONNECT_HOLD_MS } from "../../src/venues/common/connect-hold.ts";
import { startBybitSimulator, type BybitSim } from "../../src/sim/bybit-sim.ts";
import { rawConfig, uniqueDestination, waitFor, type Markets } from "../e2e/harness.ts";
import { startWsProxy, type WsProxy } from "../venues/ws-proxy.ts";

// Six symbols: both workers have a share (a connection each).
const MARKETS: Markets = [{ market: "linear", depth: 50, symbols: ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT", "ADAUSDT"] }];
const HOLD_MS = CONNECT_HOLD_MS[429]!;
/** The hold starts when the worker reads the 429, a moment after the proxy sent it. */
const SLACK_MS = 500;

/** What one test started, stopped when it finishes (the two tests run at once: each waits out a real hold). */
interface Rig {
  sim?: BybitSim;
  ws?: WsProxy;
  rest?: ReturnType<typeof Bun.serve>;
  supervisor?: Supervisor;
}

/** A rig whose parts `onTestFinished` stops, whatever of it was started. */
function rigStoppedBy(onTestFinished: (fn: () => Promise<void>) => void): Rig {
  const rig: Rig = {};
  onTestFinished(async () => {
    await rig.supervisor?.stop();
    rig.ws?.stop();
    rig.rest?.stop(true);
    await rig.sim?.stop();
  });
  return rig;
}

/** A supervisor of two workers whose venue answers the first handshake 429; `instrumentsGate` may hold an instrument request. */
async function start(rig: Rig, seed: number, instrumentsGate: (request: number) => Promise<void>, writeLog?: (text: string, done: () => void) => void) {
  const sim = (rig.sim = await startBybitSimulator({ markets: [{ market: "linear", symbols: MARKETS[0]!.symbols }], seed, messagesPerSecond: 20 }));
  const simRest = sim.restUrl;
  const ws = (rig.ws = startWsProxy(new URL(sim.wsUrl).origin));
  const refusedAt = { ms: 0 };
  ws.refuseUpgrade = (attempt) => {
    if (attempt !== 0) return undefined;
    refusedAt.ms = Date.now();
    return 429;
  };
  let instrumentRequests = 0;
  const rest = (rig.rest = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const url = new URL(req.url);
      if (url.pathname === "/v5/market/instruments-info") await instrumentsGate(instrumentRequests++);
      return fetch(new URL(url.pathname + url.search, simRest));
    },
  }));
  const raw = rawConfig({ sim, markets: MARKETS, ...uniqueDestination(163 + seed), workers: 2 });
  const bybit = (raw.venues as { bybit: Record<string, unknown> }).bybit;
  bybit.ws_url = `${ws.origin}/v5/public`;
  bybit.rest_url = `http://127.0.0.1:${rest.port}`;
  raw.log = { level: "info", format: "json" };
  const supervisor = (rig.supervisor = new Supervisor(validateConfig(raw), silentLogger, undefined, writeLog ? { writeLog } : {}));
  return { refusedAt, proxy: ws, supervisor };
}

async function allLive(s: Supervisor): Promise<void> {
  const deadline = Date.now() + 40_000;
  for (;;) {
    const { books } = await s.readiness();
    if (books.length === MARKETS[0]!.symbols.length && books.every((b) => b.state === "live")) return;
    if (Date.now() > deadline) throw new Error(`books not all live: ${JSON.stringify(books.map((b) => [b.symbol, b.state]))}`);
    await Bun.sleep(50);
  }
}

test.concurrent("a connect refused 429 in one worker holds the other worker's first connect until the hold ends", { timeout: 90_000 }, async ({ expect, onTestFinished }) => {
  let refused: { ms: number } | undefined;
  // The second worker's instrument request is answered 3 s after the 429: its first connect comes inside the hold.
  const { refusedAt, proxy, supervisor: s } = await start(rigStoppedBy(onTestFinished), 1, async (request) => {
    if (request !== 1) return;
    while (refused === undefined || refused.ms === 0) await Bun.sleep(10);
    await Bun.sleep(3_000);
  });
  refused = refusedAt;
  await s.start();
  await allLive(s);
  const t0 = refusedAt.ms;
  expect(t0).toBeGreaterThan(0);
  const inHold = proxy.upgradesAtMs.filter((at) => at > t0 + 2_000 && at < t0 + HOLD_MS - SLACK_MS).map((at) => at - t0);
  expect(inHold, "handshakes (ms after the 429) made during the hold").toEqual([]);
  expect(proxy.upgradesAtMs.filter((at) => at >= t0 + HOLD_MS - SLACK_MS).length).toBeGreaterThanOrEqual(2); // both connect once it ends
});

test.concurrent("a worker restarted during a connect hold waits for it too (its own slot's and the one relayed)", { timeout: 90_000 }, async ({ expect, onTestFinished }) => {
  const lines: string[] = [];
  // The handshakes checked are those the proxy takes after the restarted workers' first instrument request (a
  // counted event: a worker resolves its instruments by REST before it connects; the connect hold holds no REST).
  // Every handshake an old worker sent (the other worker may be mid-connect when the relayed hold reaches it) was
  // in this thread's sockets before its exit, so the proxy has taken it by then: the restart waits 200 ms after the
  // exit and a new worker boots before it asks. Before, they were told apart by the time of the kill: one in flight
  // then, taken by the proxy a few ms later, was read as a restarted worker's handshake during the hold.
  let killed = false;
  let restartedFrom: number | undefined;
  let upgrades: readonly number[] = [];
  const { refusedAt, proxy, supervisor: s } = await start(rigStoppedBy(onTestFinished), 2, async () => {
    if (killed && restartedFrom === undefined) restartedFrom = upgrades.length;
  }, (text, done) => {
    lines.push(text);
    done();
  });
  upgrades = proxy.upgradesAtMs;
  await s.start();
  await waitFor(() => refusedAt.ms > 0, "the refused handshake", 20_000);
  // The refusing worker's report (the hold, kept for both slots' next workers) reaches the supervisor before its log
  // line does (one message queue).
  await waitFor(() => lines.some((l) => l.includes("refused a connect")), "the refused connect's log line", 20_000);
  killed = true;
  s.kill(0);
  s.kill(1);
  await waitFor(() => s.restarts >= 2, "both workers restarted", 20_000);
  await allLive(s);
  expect(restartedFrom, "the restarted workers asked for their instruments").toBeDefined();
  const t0 = refusedAt.ms;
  const restarted = proxy.upgradesAtMs.slice(restartedFrom);
  const early = restarted.filter((at) => at < t0 + HOLD_MS - SLACK_MS).map((at) => at - t0);
  expect(early, "handshakes (ms after the 429) of the restarted workers during the hold").toEqual([]);
  expect(restarted.length).toBeGreaterThanOrEqual(2); // both connect once it ends
});
