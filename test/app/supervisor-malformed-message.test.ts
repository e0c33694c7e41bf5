/**
 * A message from a worker that the supervisor cannot take (a worker's bug) is logged naming the worker and dropped.
 * Before, the exception it raised in the supervisor's message handler was the main thread's uncaught exception: the
 * process exited, every worker's books with it. The worker here is a stand-in (support/malformed-worker.ts): no
 * pipeline, no sockets, so this costs two thread starts.
 */
import { expect, test } from "vitest";
import { Supervisor } from "../../src/app/supervisor.ts";
import { validateConfig } from "../../src/config/load.ts";
import type { BybitSim } from "../../src/sim/bybit-sim.ts";
import { captureLog } from "../support/capture-log.ts";
import { rawConfig, uniqueDestination } from "../e2e/harness.ts";
import { THROWING_SOURCE_ID } from "./support/malformed-worker.ts";

test("malformed worker messages are logged naming the worker and dropped; the process and the workers go on", { timeout: 30_000 }, async () => {
  const { log, lines } = captureLog();
  // Never connected to: the stand-in worker opens nothing.
  const sim = { wsUrl: "ws://127.0.0.1:9/", restUrl: "http://127.0.0.1:9" } as BybitSim;
  const config = validateConfig(rawConfig({ sim, markets: [{ market: "linear", depth: 50, symbols: ["BTCUSDT", "ETHUSDT"] }], ...uniqueDestination(191), workers: 2 }));
  const supervisor = new Supervisor(config, log, new URL("./support/malformed-worker.ts", import.meta.url).href);
  const sessions: number[] = [];
  supervisor.onWorkerSession = (sourceId) => {
    if (sourceId === THROWING_SOURCE_ID) throw new Error("test: this session cannot be taken");
    sessions.push(sourceId);
  };
  try {
    await supervisor.start();
    expect(sessions.sort()).toEqual([1000, 1001]);
    for (const worker of [0, 1]) {
      const dropped = lines.filter((l) => l.fields.worker === worker && l.msg.startsWith("worker sent a"));
      expect(dropped.map((l) => [l.msg, l.fields.type])).toEqual([
        ["worker sent a malformed message; dropped", "object"],
        ["worker sent a malformed message; dropped", "number"],
        ["worker sent a malformed message; dropped", "7"],
        ["worker sent a malformed message; dropped", "response-part"],
        ["worker sent a malformed message; dropped", "started"],
        ["worker sent a message that could not be taken; dropped", "session"],
      ]);
      expect(dropped.every((l) => typeof l.fields.error === "string" && l.fields.error.length > 0)).toBe(true);
    }
    // The "started" without a list left nothing of it as the workers' last books: the stand-in answers no request
    // (down), so /books shows those last books, none (kept, the string's characters were shown as 10 books each).
    const readiness = await supervisor.readiness();
    expect(readiness.workersDown).toEqual([0, 1]);
    expect(readiness.books).toEqual([]);
    expect(supervisor.restarts).toBe(0);
  } finally {
    await supervisor.stop();
  }
});
