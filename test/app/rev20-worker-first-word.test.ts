/**
 * A worker stuck before it has said anything (no session, no pong) must be restarted like one that hangs later.
 * Before, the hang check skipped a worker it had never heard from: such a worker stayed down for good, its books
 * reported unavailable and never coming back (and a supervisor's start waiting on it never ended). Now one silent
 * for firstWordMs (WORKER_FIRST_WORD_MS, 30 s; 2 s here) since it was spawned is terminated and restarted.
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import { Supervisor } from "../../src/app/supervisor.ts";
import { validateConfig } from "../../src/config/load.ts";
import { startBybitSimulator, type BybitSim } from "../../src/sim/bybit-sim.ts";
import { captureLog } from "../support/capture-log.ts";
import { rawConfig, uniqueDestination, waitFor, type Markets } from "../e2e/harness.ts";
import { MUTE_CHANNEL } from "./support/mute-worker.ts";

const MARKETS: Markets = [{ market: "linear", depth: 50, symbols: ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"] }];
const HANG_AFTER_MS = 1000;
const { log, lines } = captureLog();

let sim: BybitSim;
let supervisor: Supervisor;
let channel: BroadcastChannel;
let muteNextStartOf1 = false;
let mutedStarts = 0;

beforeAll(async () => {
  channel = new BroadcastChannel(MUTE_CHANNEL);
  channel.onmessage = (event) => {
    const ask = event.data as { ask?: string; worker: number };
    if (ask.ask !== "start") return;
    const mute = ask.worker === 1 && muteNextStartOf1;
    if (mute) (muteNextStartOf1 = false), mutedStarts++;
    channel.postMessage({ worker: ask.worker, mute });
  };
  sim = await startBybitSimulator({ markets: [{ market: "linear", symbols: MARKETS[0]!.symbols }], seed: 4, messagesPerSecond: 0 });
  const config = validateConfig(rawConfig({ sim, markets: MARKETS, ...uniqueDestination(178), workers: 2 }));
  supervisor = new Supervisor(config, log, new URL("./support/mute-worker.ts", import.meta.url).href, { hangAfterMs: HANG_AFTER_MS, firstWordMs: 2000 });
  await supervisor.start();
}, 30_000);

afterAll(async () => {
  channel?.close();
  await supervisor?.stop();
  await sim?.stop();
});

test("a restarted worker that never says a word is terminated and restarted again", { timeout: 60_000 }, async () => {
  muteNextStartOf1 = true;
  supervisor.kill(1);
  await waitFor(() => mutedStarts === 1, "worker 1 restarted and muted", 15_000);
  // Not answering: reported down.
  expect((await supervisor.readiness()).workersDown).toEqual([1]);
  await waitFor(() => lines.some((l) => l.msg.startsWith("worker has said nothing") && l.fields.worker === 1), "the mute worker given up on", 30_000);
  let down: number[] = [1];
  const deadline = Date.now() + 30_000;
  while (down.length > 0 && Date.now() < deadline) {
    down = (await supervisor.readiness()).workersDown;
    if (down.length > 0) await Bun.sleep(20);
  }
  expect(down).toEqual([]);
  expect(supervisor.restarts).toBe(2);
});
