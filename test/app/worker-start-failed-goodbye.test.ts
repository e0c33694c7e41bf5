/**
 * A worker whose start fails after one of its venues started publishing (here: Bybit publishes, then Binance's
 * start throws) says goodbye before it reports `start-failed`: its books HALTED (shutdown) and its stream's
 * END_OF_SESSION, as `feeder run` without workers does. Before, the supervisor ended the thread with nothing said:
 * subscribers saw the stream only go stale (after their stale limit; here that is off, so they saw nothing).
 * Then the first-start case: the supervisor's start fails, its caller stops it (runtime.ts), and the healthy
 * worker's books go HALTED and its stream ends too.
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import { Supervisor } from "../../src/app/supervisor.ts";
import { inWorkerShare } from "../../src/app/feeder.ts";
import { validateConfig } from "../../src/config/load.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { silentLogger } from "../../src/core/log.ts";
import { BookState, StatusReason, type MarketName } from "../../src/core/types.ts";
import { startBinanceSimulator, type BinanceSim } from "../../src/sim/binance-sim.ts";
import { startBybitSimulator, type BybitSim } from "../../src/sim/bybit-sim.ts";
import { FeedSubscriber } from "../../src/subscriber/index.ts";
import { rawConfig, tempDir, uniqueDestination, waitFor } from "../e2e/harness.ts";
import { FAILING_VENUE_CHANNEL } from "./support/failing-venue-worker.ts";

const BYBIT = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]; // worker 0, 0, 1
const BINANCE = ["BTCUSDT", "DOGEUSDT"]; // worker 0, 1
const TOPICS = [...BYBIT.map((symbol) => ({ venue: "bybit", market: "linear" as MarketName, symbol })), ...BINANCE.map((symbol) => ({ venue: "binance", market: "spot" as MarketName, symbol }))].map((t) => ({
  ...t,
  id: instrumentIdOf(t.venue as "bybit" | "binance", t.market, t.symbol),
  worker: inWorkerShare(t.venue, { market: t.market, symbol: t.symbol, depth: 20 }, 0, 2) ? 0 : 1,
}));

let bybit: BybitSim;
let binance: BinanceSim;
let subscriber: FeedSubscriber;
let supervisor: Supervisor;
let channel: BroadcastChannel;
/** Asks of each worker slot, in order; the test answers worker 0's first ask itself, every other one at once. */
const asks = [0, 0];
const ended = new Set<number>(); // source ids whose stream sent END_OF_SESSION
const halted = new Set<number>(); // instrument ids given HALTED (shutdown)

beforeAll(async () => {
  bybit = await startBybitSimulator({ markets: [{ market: "linear", symbols: BYBIT }], seed: 61, messagesPerSecond: 0 });
  binance = await startBinanceSimulator({ markets: [{ market: "spot", symbols: BINANCE }], seed: 61, messagesPerSecond: 0 });
  const { group, port } = uniqueDestination(611);
  subscriber = new FeedSubscriber({ groups: [{ group, port, iface: "127.0.0.1" }], staleAfterMs: 0 }); // staleness never says it
  subscriber.on("session", (e) => e.kind === "ended" && ended.add(e.sourceId));
  subscriber.on("status", (e) => e.state === BookState.HALTED && e.reason === StatusReason.SHUTDOWN && halted.add(e.book.instrumentId));
  await subscriber.start();
  const raw = rawConfig({ sim: bybit, markets: [{ market: "linear", depth: 50, symbols: BYBIT }], group, port, workers: 2 });
  (raw.venues as Record<string, unknown>).binance = { ws_url: binance.wsUrl, rest_url: binance.restUrl, instrument_cache: `${tempDir("feeder-bye-")}/binance.json`, spot: { depth: 20, symbols: BINANCE } };
  channel = new BroadcastChannel(FAILING_VENUE_CHANNEL);
  channel.onmessage = (event) => {
    const ask = event.data as { ask?: string; worker: number };
    if (ask.ask !== "binance") return;
    asks[ask.worker]!++;
    if (ask.worker !== 0 || asks[0]! > 1) channel.postMessage({ worker: ask.worker, fail: false });
  };
  supervisor = new Supervisor(validateConfig(raw), silentLogger, new URL("./support/failing-venue-worker.ts", import.meta.url).href);
});

afterAll(async () => {
  channel?.close();
  await supervisor?.stop();
  await subscriber?.stop();
  await bybit?.stop();
  await binance?.stop();
});

test("a worker whose start fails halts its started books and ends its stream; at a failed first start the healthy worker does too", { timeout: 60_000 }, async () => {
  const worker0Bybit = TOPICS.filter((t) => t.worker === 0 && t.venue === "bybit");
  const worker1 = TOPICS.filter((t) => t.worker === 1);
  expect(worker0Bybit.length).toBeGreaterThan(0);
  expect(worker1.some((t) => t.venue === "binance")).toBe(true);
  const usable = (ts: typeof TOPICS) => ts.every((t) => subscriber.book(t.id)?.usable === true);
  const starting = supervisor.start();
  const failed = starting.then(
    () => "started",
    (err: Error) => err.message,
  );
  // Worker 0's Bybit books are published and usable while its Binance start waits; worker 1 has started.
  await waitFor(() => asks[0] === 1 && usable(worker0Bybit) && usable(worker1), "worker 0's Bybit books and all of worker 1's usable", 30_000);
  channel.postMessage({ worker: 0, fail: true });
  expect(await failed).toMatch(/^worker 0: binance: test: this venue's start fails/);
  // Worker 0 (source 1) said goodbye; no stale limit runs, so nothing else could have marked these books.
  await waitFor(() => ended.has(1) && worker0Bybit.every((t) => halted.has(t.id)), "END_OF_SESSION from worker 0 and its Bybit books HALTED", 10_000);
  expect(ended.has(2)).toBe(false);
  expect(worker1.some((t) => halted.has(t.id))).toBe(false);
  // The first start failed: the caller stops the supervisor (runtime.ts); the healthy worker says goodbye too.
  await supervisor.stop();
  await waitFor(() => ended.has(2) && worker1.every((t) => halted.has(t.id)), "END_OF_SESSION from worker 1 and its books HALTED", 10_000);
});
