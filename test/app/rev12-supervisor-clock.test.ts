/**
 * The supervisor's hang check measures silence on a monotonic clock: the wall clock stepped back (NTP, an operator)
 * must not hide a hung worker, nor a step forward make healthy ones look silent. Real workers
 * (test/app/support/faulty-worker.ts, which spins a worker's thread on order); Date.now of the main thread stepped.
 */
import { afterAll, afterEach, beforeAll, expect, test, vi } from "vitest";
import { Supervisor } from "../../src/app/supervisor.ts";
import { startBybitSimulator, type BybitSim } from "../../src/sim/bybit-sim.ts";
import { FAULT_CHANNEL } from "./support/faulty-worker.ts";
import { feederConfig, uniqueDestination, waitFor, type Markets } from "../e2e/harness.ts";
import { captureLog } from "../support/capture-log.ts";

const MARKETS: Markets = [{ market: "linear", depth: 50, symbols: ["BTCUSDT", "ETHUSDT"] }];
const HANG_AFTER_MS = 1000; // as review-bounds-workers: far above a loaded machine's scheduling delays

const { log, lines } = captureLog();

let sim: BybitSim;
let supervisor: Supervisor;
let faults: BroadcastChannel;

beforeAll(async () => {
  faults = new BroadcastChannel(FAULT_CHANNEL);
  faults.onmessage = (event) => {
    const ask = event.data as { ask?: string; worker: number };
    if (ask.ask === "start") faults.postMessage({ worker: ask.worker, failStart: false, hangAtStart: false });
  };
  sim = await startBybitSimulator({ markets: [{ market: "linear", symbols: MARKETS[0]!.symbols }], seed: 13, messagesPerSecond: 0 });
  const { group, port } = uniqueDestination(143);
  const config = feederConfig({ sim, markets: MARKETS, group, port, workers: 2, heartbeatIntervalMs: 100 });
  supervisor = new Supervisor(config, log, new URL("./support/faulty-worker.ts", import.meta.url).href, { hangAfterMs: HANG_AFTER_MS });
  await supervisor.start();
}, 30_000);

afterEach(() => {
  vi.restoreAllMocks();
});

afterAll(async () => {
  faults?.close();
  await supervisor?.stop();
  await sim?.stop();
});

test("a wall clock stepped back an hour does not hide a hung worker", { timeout: 30_000 }, async () => {
  const realNow = Date.now.bind(Date);
  vi.spyOn(Date, "now").mockImplementation(() => realNow() - 3_600_000);
  faults.postMessage({ worker: 1, fault: "hang" });
  await waitFor(() => lines.some((l) => l.msg.includes("not answering") && l.fields.worker === 1), "the hung worker terminated", 15_000);
  await waitFor(() => supervisor.restarts === 1, "worker 1 restarted", 15_000);
  // Worker 0 never stopped answering.
  expect(lines.filter((l) => l.msg.includes("not answering")).map((l) => l.fields.worker)).toEqual([1]);
});
