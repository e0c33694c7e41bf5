/**
 * The supervisor's hang check judges the workers' silence, not its own: when the main thread itself is held up
 * (the process stopped and continued, a VM paused, the main thread blocked) for longer than the hang bound, no
 * ping was sent meanwhile, so every worker looks silent at the first check after it. Healthy workers must not be
 * terminated for that. The stall is modelled by blocking the main thread (Bun.sleepSync) past hangAfterMs; the
 * workers are the real worker-main (test/app/support/ping-counting-worker.ts reports the pings they get).
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import { Supervisor } from "../../src/app/supervisor.ts";
import { startBybitSimulator, type BybitSim } from "../../src/sim/bybit-sim.ts";
import { PING_CHANNEL } from "./support/ping-counting-worker.ts";
import { feederConfig, uniqueDestination, waitFor, type Markets } from "../e2e/harness.ts";
import { captureLog } from "../support/capture-log.ts";

const MARKETS: Markets = [{ market: "linear", depth: 50, symbols: ["BTCUSDT", "ETHUSDT"] }];
const HANG_AFTER_MS = 1000; // as review-bounds-workers: far above a loaded machine's scheduling delays

const { log, lines } = captureLog();

let sim: BybitSim;
let supervisor: Supervisor;
let pings: BroadcastChannel;
const pingsOf = [0, 0];

beforeAll(async () => {
  pings = new BroadcastChannel(PING_CHANNEL);
  pings.onmessage = (event) => void pingsOf[(event.data as { worker: number }).worker]!++;
  sim = await startBybitSimulator({ markets: [{ market: "linear", symbols: MARKETS[0]!.symbols }], seed: 12, messagesPerSecond: 0 });
  const { group, port } = uniqueDestination(142);
  const config = feederConfig({ sim, markets: MARKETS, group, port, workers: 2, heartbeatIntervalMs: 100 });
  supervisor = new Supervisor(config, log, new URL("./support/ping-counting-worker.ts", import.meta.url).href, { hangAfterMs: HANG_AFTER_MS });
  await supervisor.start();
}, 30_000);

afterAll(async () => {
  pings?.close();
  await supervisor?.stop();
  await sim?.stop();
});

test("a main thread held up past the hang bound does not terminate its healthy workers", { timeout: 30_000 }, async () => {
  // Both workers answer pings before the stall.
  await waitFor(() => pingsOf[0]! >= 2 && pingsOf[1]! >= 2, "both workers pinged");
  Bun.sleepSync(3 * HANG_AFTER_MS); // the main thread stalls; the workers are idle and healthy
  const after = [pingsOf[0]!, pingsOf[1]!];
  // Two hang checks after the stall (each pings every worker it keeps): any verdict has been given by then.
  await waitFor(
    () => (pingsOf[0]! >= after[0]! + 2 && pingsOf[1]! >= after[1]! + 2) || lines.some((l) => l.msg.includes("not answering")),
    "two hang checks after the stall, or a verdict",
  );
  expect(lines.filter((l) => l.msg.includes("not answering")).map((l) => l.fields)).toEqual([]);
  expect((await supervisor.readiness()).workersDown).toEqual([]);
  expect(supervisor.restarts).toBe(0);
});
