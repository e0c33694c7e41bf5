/**
 * A worker stuck before it has said anything (no session, no pong) must be restarted like one that hangs later.
 * Before, the hang check skipped a worker it had never heard from: such a worker stayed down for good, its books
 * reported unavailable and never coming back (and a supervisor's start waiting on it never ended). Now one silent
 * for firstWordMs (WORKER_FIRST_WORD_MS, 30 s) since it was spawned is terminated and restarted.
 *
 * Only the one worker kept silent gets the short bound (SILENT_FIRST_WORD_MS); every other spawn gets a generous one:
 * a worker's module loading takes seconds on a loaded machine, and with 2 s for all of them the start failed there
 * ("worker 1 exited during start") or a restart was given up while loading (one restart too many).
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import { Supervisor } from "../../src/app/supervisor.ts";
import { validateConfig } from "../../src/config/load.ts";
import { startBybitSimulator, type BybitSim } from "../../src/sim/bybit-sim.ts";
import { captureLog } from "../support/capture-log.ts";
import { rawConfig, uniqueDestination, waitFor, type Markets } from "../e2e/harness.ts";
import { MUTE_CHANNEL } from "./support/mute-worker.ts";

const MARKETS: Markets = [{ market: "linear", depth: 50, symbols: ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"] }];
/** Pings every second: a loaded machine's worker answers well within this. */
const HANG_AFTER_MS = 4000;
/** The bound of the one worker kept silent: it says nothing, whether muted or still loading when given up. */
const SILENT_FIRST_WORD_MS = 2000;
/** Every other spawn's bound: module loading on a loaded machine. */
const LOADING_FIRST_WORD_MS = 30_000;
const { log, lines } = captureLog();

let sim: BybitSim;
let supervisor: Supervisor;
let channel: BroadcastChannel;
/**
 * Each worker's spawns so far (the supervisor asks firstWordMs once per spawn, naming the worker): counted per worker,
 * so a restart of worker 0 meanwhile changes nothing of worker 1's. Until 2026-12-07 one count of every spawn decided
 * the mute: worker 0 restarted between worker 1's short-bound spawn and its ask, worker 1 was not muted (a timeout).
 */
const spawnsOf = [0, 0];
/** Worker 1's next spawn gets SILENT_FIRST_WORD_MS. */
let silentNext = false;
/** Which of worker 1's spawns (1-based) got SILENT_FIRST_WORD_MS: 0 until one has. */
let silentSpawn = 0;
const firstWordMs = (worker: number): number => {
  spawnsOf[worker]!++;
  if (worker !== 1 || !silentNext) return LOADING_FIRST_WORD_MS;
  silentNext = false;
  silentSpawn = spawnsOf[1]!;
  return SILENT_FIRST_WORD_MS;
};

beforeAll(async () => {
  channel = new BroadcastChannel(MUTE_CHANNEL);
  channel.onmessage = (event) => {
    const ask = event.data as { ask?: string; worker: number };
    if (ask.ask !== "start") return;
    // Worker 1's newest spawn, if it is the short-bound one (given up while loading, it never asks: its successor is not muted).
    channel.postMessage({ worker: ask.worker, mute: ask.worker === 1 && silentSpawn !== 0 && spawnsOf[1] === silentSpawn });
  };
  sim = await startBybitSimulator({ markets: [{ market: "linear", symbols: MARKETS[0]!.symbols }], seed: 4, messagesPerSecond: 0 });
  const config = validateConfig(rawConfig({ sim, markets: MARKETS, ...uniqueDestination(178), workers: 2 }));
  supervisor = new Supervisor(config, log, new URL("./support/mute-worker.ts", import.meta.url).href, { hangAfterMs: HANG_AFTER_MS, firstWordMs });
  await supervisor.start();
}, 30_000);

afterAll(async () => {
  channel?.close();
  await supervisor?.stop();
  await sim?.stop();
});

test("a restarted worker that never says a word is terminated and restarted again", { timeout: 60_000 }, async () => {
  expect(spawnsOf).toEqual([1, 1]);
  silentNext = true;
  supervisor.kill(1);
  await waitFor(() => silentSpawn !== 0, "worker 1 restarted with the short bound", 15_000);
  // Saying nothing: reported down.
  expect((await supervisor.readiness()).workersDown).toEqual([1]);
  const givenUp = () => lines.find((l) => l.msg.startsWith("worker has said nothing") && l.fields.worker === 1);
  await waitFor(() => givenUp() !== undefined, "the silent worker given up on", 30_000);
  expect(givenUp()!.fields.silentMs).toBeGreaterThanOrEqual(SILENT_FIRST_WORD_MS);
  let down: number[] = [1];
  const deadline = Date.now() + 30_000;
  while (down.length > 0 && Date.now() < deadline) {
    down = (await supervisor.readiness()).workersDown;
    if (down.length > 0) await Bun.sleep(20);
  }
  expect(down).toEqual([]);
  expect(supervisor.restarts).toBe(2);
});
