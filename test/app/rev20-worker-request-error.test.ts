/**
 * An exception while a worker answers a status request (/latency, /metrics, /readyz, /books go to every worker)
 * must cost that answer only. Before, it rejected the worker's async message handler, which ends a Bun Worker: its
 * venue connections and books went dark until the supervisor restarted it, and a scrape every 15 s would have
 * kept it in a restart loop. test/app/support/throwing-request-worker.ts makes latencySnapshot() throw (and
 * metricsSnapshot() throw a value with no string form); no-string-start-worker.ts makes the Feeder's start do so.
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import { Supervisor } from "../../src/app/supervisor.ts";
import { validateConfig } from "../../src/config/load.ts";
import { startBybitSimulator, type BybitSim } from "../../src/sim/bybit-sim.ts";
import { captureLog } from "../support/capture-log.ts";
import { until } from "../support/until.ts";
import { rawConfig, uniqueDestination, type Markets } from "../e2e/harness.ts";

const MARKETS: Markets = [{ market: "linear", depth: 50, symbols: ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"] }];
const { log, lines } = captureLog();

let sim: BybitSim;
let supervisor: Supervisor;
let workerLines = ""; // the workers' log, written by this thread

beforeAll(async () => {
  sim = await startBybitSimulator({ markets: [{ market: "linear", symbols: MARKETS[0]!.symbols }], seed: 3, messagesPerSecond: 0 });
  const config = validateConfig(rawConfig({ sim, markets: MARKETS, ...uniqueDestination(177), workers: 2 }));
  supervisor = new Supervisor(config, log, new URL("./support/throwing-request-worker.ts", import.meta.url).href, { writeLog: (text, done) => ((workerLines += text), done()) });
  await supervisor.start();
}, 30_000);

afterAll(async () => {
  await supervisor?.stop();
  await sim?.stop();
});

test("a status request that throws in a worker is answered as unavailable; the worker keeps running", { timeout: 30_000 }, async () => {
  const startMs = performance.now(); // before the first failure: the workers' clocks run at this one's rate
  const latency = await supervisor.latency();
  expect(latency.receiptToSend.count).toBe(0); // no worker could answer
  // Both workers still answer, the same ones: none exited, none restarted.
  expect((await supervisor.readiness()).workersDown).toEqual([]);
  expect(lines.some((l) => l.msg.includes("worker exited") || l.msg === "worker error")).toBe(false);
  expect(supervisor.restarts).toBe(0);
  // Asked again (a dashboard polling): one error line per worker, not one per request (until s-livecount, a line each).
  for (let n = 0; n < 4; n++) await supervisor.latency();
  // Whatever the load: 5 failures per worker within `elapsedMs` allow 1 + elapsedMs / 5000 lines each (1 unless the
  // machine stalls for seconds; a line per request was 5), the first with count 1.
  const elapsedMs = performance.now() - startMs;
  const failed = workerLines.split("\n").filter((l) => l.includes("could not answer a status request")).map((l) => JSON.parse(l) as { worker: number; count: number; detail: string });
  for (const worker of [0, 1]) {
    const own = failed.filter((l) => l.worker === worker);
    expect(own[0], `worker ${worker}`).toMatchObject({ count: 1, detail: "latency: test: latencySnapshot fails" });
    expect(own.length, `worker ${worker}`).toBeLessThanOrEqual(1 + Math.floor(elapsedMs / 5000));
  }
  for (const l of failed) expect(l.detail).toBe("latency: test: latencySnapshot fails");
});

test("a status request that throws a value with no string form: answered as unavailable, its cause logged; the worker keeps running", { timeout: 30_000 }, async () => {
  // Until 2026-12-07 the worker's catch described it with String(err), which threw: its message handler rejected (no
  // reply; the worker ended). Workers of their own: each worker logs a failed request at most once per 5 s.
  const config = validateConfig(rawConfig({ sim, markets: MARKETS, ...uniqueDestination(179), workers: 2 }));
  let ownLines = "";
  const own = captureLog();
  const other = new Supervisor(config, own.log, new URL("./support/throwing-request-worker.ts", import.meta.url).href, { writeLog: (text, done) => ((ownLines += text), done()) });
  try {
    await other.start();
    await other.metricsText();
    const failed = () => ownLines.split("\n").filter((l) => l.includes("could not answer a status request")).map((l) => JSON.parse(l) as { worker: number; detail: string });
    await until(() => failed().length === 2, () => `each worker's failure logged: ${ownLines}`);
    expect(failed().map((l) => [l.worker, l.detail]).sort()).toEqual([0, 1].map((w) => [w, "metrics: a thrown [object Object] with no string form"]));
    expect((await other.readiness()).workersDown).toEqual([]);
    expect(own.lines.some((l) => l.msg.includes("worker exited") || l.msg === "worker error")).toBe(false);
    expect(other.restarts).toBe(0);
  } finally {
    await other.stop();
  }
});

test("a worker start that throws a value with no string form: the start fails naming it", { timeout: 30_000 }, async () => {
  // Until 2026-12-07 the catch described it with String(err), which threw: no `start-failed` was sent.
  const config = validateConfig(rawConfig({ sim, markets: MARKETS, ...uniqueDestination(180), workers: 2 }));
  const failing = new Supervisor(config, captureLog().log, new URL("./support/no-string-start-worker.ts", import.meta.url).href, { writeLog: (_text, done) => done() });
  try {
    const failed = await failing.start().then(
      () => "started",
      (err: Error) => err.message,
    );
    expect(failed).toMatch(/^worker [01]: a thrown \[object Object\] with no string form/);
  } finally {
    await failing.stop();
  }
});
