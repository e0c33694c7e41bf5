/**
 * A kill() of a worker whose failed start is logged (terminated, its close not come yet) adds nothing: the failed
 * start's line says it all, with the crash backoff's delay its successor waits. Before, the kill made its close log a
 * second line, "worker killed; restarting", for the same end. The worker is a stand-in (support/fail-start-worker.ts).
 */
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, test } from "vitest";
import { Supervisor } from "../../src/app/supervisor.ts";
import { validateConfig } from "../../src/config/load.ts";
import type { Logger } from "../../src/core/log.ts";
import type { BybitSim } from "../../src/sim/bybit-sim.ts";
import { captureLog } from "../support/capture-log.ts";
import { makeTempDir } from "../support/temp-dirs.ts";
import { until } from "../support/until.ts";
import { rawConfig, uniqueDestination } from "../e2e/harness.ts";
import { FAIL_START_IF } from "./support/fail-start-worker.ts";

test("a kill after a failed start is logged adds no line; the failed start's line keeps its delay", { timeout: 30_000 }, async () => {
  const captured = captureLog({ info: true });
  const lines = captured.lines;
  let supervisor: Supervisor | undefined;
  let failedStarts = 0;
  const marker = join(makeTempDir("supervisor-kill-failed-start"), "fail");
  const log: Logger = {
    ...captured.log,
    error: (msg, fields) => {
      captured.log.error(msg, fields);
      // Right after the line is written (the failed start's handler done), before the terminated worker's close.
      if (msg !== "worker could not start; restarting it" || ++failedStarts !== 2) return;
      rmSync(marker); // the next start succeeds
      queueMicrotask(() => supervisor!.kill(0));
    },
  };
  // Never connected to: the stand-in worker opens nothing.
  const sim = { wsUrl: "ws://127.0.0.1:9/", restUrl: "http://127.0.0.1:9" } as BybitSim;
  const config = validateConfig(rawConfig({ sim, markets: [{ market: "linear", depth: 50, symbols: ["BTCUSDT"] }], ...uniqueDestination(473), workers: 1 }));
  supervisor = new Supervisor({ ...config, [FAIL_START_IF]: marker } as typeof config, log, new URL("./support/fail-start-worker.ts", import.meta.url).href);
  const started = () => lines.filter((l) => l.msg === "worker started").length;
  try {
    await supervisor.start();
    writeFileSync(marker, "");
    supervisor.kill(0); // its successors' starts fail: the second one's is killed
    await until(() => started() === 2, "worker 0 started after its failed starts", 20_000);
    const ends = lines.filter((l) => /restarting/.test(l.msg));
    // Before: a fourth line, ["info", "worker killed; restarting", 400], the second failed start's crash backoff.
    expect(ends.map((l) => [l.level, l.msg, l.fields.inMs])).toEqual([
      ["info", "worker killed; restarting", 200], // the first kill's
      ["error", "worker could not start; restarting it", 200],
      ["error", "worker could not start; restarting it", 400],
    ]);
    expect(supervisor.restarts).toBe(3);
  } finally {
    await supervisor.stop();
  }
});
