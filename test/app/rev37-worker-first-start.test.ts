/**
 * Before a worker's first message (its module loading, a worker's first moments: at every start with workers = N)
 * the supervisor reported it down: /readyz said `worker_down` ('worker 0 is not running (restarting)') and, no
 * worker having answered yet, `no_books` ('this instance has no configured book'), and /books listed nothing: at
 * every start, with nothing down or restarting. Now a worker still on its first start that has not spoken yet is
 * starting: its share of the configured symbols is `symbol_unresolved` / `resolving`, as in one process while a
 * venue's instruments resolve, and a book asked for names it as starting. A restarted worker before its first message is still `worker_down` (restarting:
 * test/app/rev20-worker-first-word). The workers here hold their start until the test lets them go.
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import { Supervisor } from "../../src/app/supervisor.ts";
import { evaluateReadiness } from "../../src/app/readiness.ts";
import { silentLogger } from "../../src/core/log.ts";
import { validateConfig } from "../../src/config/load.ts";
import { startBybitSimulator, type BybitSim } from "../../src/sim/bybit-sim.ts";
import { rawConfig, uniqueDestination, waitFor, type Markets } from "../e2e/harness.ts";
import { HELD_START_CHANNEL } from "./support/held-start-worker.ts";

const SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT", "ADAUSDT"];
const MARKETS: Markets = [{ market: "linear", depth: 50, symbols: SYMBOLS }];

let sim: BybitSim;
let supervisor: Supervisor;
let channel: BroadcastChannel;
const asked = new Set<number>();

beforeAll(async () => {
  channel = new BroadcastChannel(HELD_START_CHANNEL);
  channel.onmessage = (event) => {
    const ask = event.data as { ask?: string; worker: number };
    if (ask.ask === "start") asked.add(ask.worker);
  };
  sim = await startBybitSimulator({ markets: [{ market: "linear", symbols: SYMBOLS }], seed: 38, messagesPerSecond: 0 });
  supervisor = new Supervisor(validateConfig(rawConfig({ sim, markets: MARKETS, ...uniqueDestination(372), workers: 2 })), silentLogger, new URL("./support/held-start-worker.ts", import.meta.url).href);
});

afterAll(async () => {
  channel?.close();
  await supervisor?.stop();
  await sim?.stop();
});

test("a worker that has not spoken yet on its first start is starting, its symbols resolving: not worker_down, not no_books", { timeout: 60_000 }, async () => {
  const starting = supervisor.start();
  await waitFor(() => asked.size === 2, "both workers held at their start", 30_000);
  const input = await supervisor.readiness();
  const checks = evaluateReadiness(input).reasons.map((r) => r.check);
  expect(input.workersDown).toEqual([]);
  expect(checks).not.toContain("worker_down");
  expect(checks).not.toContain("no_books");
  expect(input.unresolved.map((u) => `${u.venue}:${u.market}:${u.symbol}:${u.reason}`).sort()).toEqual(SYMBOLS.map((s) => `bybit:linear:${s}:resolving`).sort());
  // No book yet (/books' rows are these and readiness's unresolved symbols above, as in one process).
  expect(input.books).toEqual([]);
  // A book asked for: unavailable for now, the worker named as starting (it was 'not answering (restarting or hung)').
  await expect(supervisor.book("bybit", "linear", "BTCUSDT", 5)).rejects.toThrow(/^worker 0, 1 is starting: bybit\/linear\/BTCUSDT may be one of its books/);
  // A name of any length (a path segment may be ~16 KB) is cut to 200 characters, as the HTTP server's errors cut it (s-httpsmall).
  const long = "X".repeat(5000);
  await expect(supervisor.book("bybit", "linear", long, 5)).rejects.toThrow(`is starting: ${`bybit/linear/${long}`.slice(0, 200)} may be one of its books`);
  for (const worker of [0, 1]) channel.postMessage({ worker, go: true });
  await starting;
  // Started: every symbol has its book, no worker down.
  const after = await supervisor.readiness();
  expect(after.workersDown).toEqual([]);
  expect(after.unresolved).toEqual([]);
  expect(after.books.length).toBe(SYMBOLS.length);
});
