/**
 * The workers' one log stream (app/worker-log.ts): a worker's lines go to the main thread, which writes them whole
 * and in order; what a worker has on the way is bounded, its drops counted and reported. The last tests run real
 * worker threads: before, each worker wrote its own stderr and the supervisor's writer saw none of their lines.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { LOG_IN_FLIGHT_MAX_CHARS, WorkerLogIntake, WorkerLogOutbox } from "../../src/app/worker-log.ts";
import type { FromWorker } from "../../src/app/worker-protocol.ts";
import { Supervisor } from "../../src/app/supervisor.ts";
import { createLogger } from "../../src/core/log.ts";
import { validateConfig } from "../../src/config/load.ts";
import { startBybitSimulator, type BybitSim } from "../../src/sim/bybit-sim.ts";
import { rawConfig, uniqueDestination, waitFor } from "../e2e/harness.ts";
import { FLOOD_LINES } from "./support/stop-flood-worker.ts";

describe("WorkerLogOutbox: a worker's lines on the way to the main thread", () => {
  test("past the bound lines are dropped and counted; the count is reported once lines leave, then lines go again", () => {
    const posted: FromWorker[] = [];
    const outbox = new WorkerLogOutbox((m) => posted.push(m), 100);
    for (let i = 0; i < 10; i++) outbox.write("x".repeat(29) + i); // 30 chars each: three fit
    expect(posted).toEqual([0, 1, 2].map((i) => ({ type: "log", line: "x".repeat(29) + i })));
    outbox.taken(30);
    expect(posted.slice(3)).toEqual([{ type: "log-dropped", lines: 7 }]);
    outbox.write("after");
    expect(posted.at(-1)).toEqual({ type: "log", line: "after" });
    outbox.taken(5);
    expect(posted.length).toBe(5); // nothing dropped since: no second report
  });

  test("one line longer than the bound still goes when nothing is on the way", () => {
    const posted: FromWorker[] = [];
    const outbox = new WorkerLogOutbox((m) => posted.push(m), 10);
    outbox.write("y".repeat(50));
    outbox.write("z");
    expect(posted).toEqual([{ type: "log", line: "y".repeat(50) }]);
    outbox.taken(50);
    outbox.write("z");
    expect(posted.slice(1)).toEqual([{ type: "log-dropped", lines: 1 }, { type: "log", line: "z" }]);
  });

  test("the default bound is a megabyte's worth of characters", () => {
    expect(LOG_IN_FLIGHT_MAX_CHARS).toBe(1 << 20);
  });
});

describe("WorkerLogIntake: the main thread's side", () => {
  test("each line written whole with its newline, in order; what left is acknowledged once per turn", async () => {
    const written: string[] = [];
    const dones: (() => void)[] = [];
    const acks: number[] = [];
    const intake = new WorkerLogIntake(
      (text, done) => {
        written.push(text);
        dones.push(done);
      },
      (chars) => acks.push(chars),
    );
    intake.line("first");
    intake.line("second line");
    expect(written).toEqual(["first\n", "second line\n"]);
    for (const d of dones) d();
    expect(acks).toEqual([]); // once per turn
    await waitFor(() => acks.length > 0, "the acknowledgement", 5_000);
    expect(acks).toEqual(["first".length + "second line".length]);
  });
});

/**
 * A Bybit simulator (seed `seed`, linear `symbols`) and a Supervisor of `workers` over it, logging JSON at info: every
 * text its workers log goes into `written`, taken at once (done). `workerUrl` replaces the worker's script.
 */
async function startWritingWorkerLog(
  o: { symbols: string[]; seed: number; workers: number; workerUrl?: string },
  written: string[],
): Promise<{ sim: BybitSim; supervisor: Supervisor }> {
  const sim = await startBybitSimulator({ markets: [{ market: "linear", symbols: o.symbols }], seed: o.seed, messagesPerSecond: 0 });
  const raw = rawConfig({ sim, markets: [{ market: "linear", depth: 50, symbols: o.symbols }], ...uniqueDestination(100 + o.seed), workers: o.workers });
  raw.log = { level: "info", format: "json" };
  const supervisor = new Supervisor(validateConfig(raw), createLogger({ format: "json", write: () => {} }), o.workerUrl, {
    writeLog: (text, done) => {
      written.push(text);
      done();
    },
  });
  try {
    await supervisor.start();
  } catch (e) {
    await supervisor.stop();
    await sim.stop();
    throw e;
  }
  return { sim, supervisor };
}

describe("with workers = 2, real worker threads", () => {
  let sim: BybitSim;
  let supervisor: Supervisor;
  const written: string[] = [];

  beforeAll(async () => {
    ({ sim, supervisor } = await startWritingWorkerLog({ symbols: ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"], seed: 62, workers: 2 }, written));
  }, 30_000);

  afterAll(async () => {
    await supervisor?.stop();
    await sim?.stop();
  });

  test("every worker's log lines reach the main thread's writer: whole JSON lines carrying the worker's id", async () => {
    const started = () => written.map((t) => JSON.parse(t) as Record<string, unknown>).filter((r) => r.msg === "feeder started");
    await waitFor(() => started().length === 2, "both workers' 'feeder started' lines", 20_000);
    for (const text of written) {
      expect(text.endsWith("\n")).toBe(true);
      expect(text.indexOf("\n")).toBe(text.length - 1); // one line per write
    }
    expect(started().map((r) => r.worker).sort()).toEqual([0, 1]);
  });
});

describe("a worker that dies right after logging", () => {
  let sim: BybitSim;
  let supervisor: Supervisor;
  const written: string[] = [];

  beforeAll(async () => {
    const workerUrl = new URL("./support/last-words-worker.ts", import.meta.url).href;
    ({ sim, supervisor } = await startWritingWorkerLog({ symbols: ["BTCUSDT", "ETHUSDT"], seed: 65, workers: 1, workerUrl }, written));
  }, 30_000);

  afterAll(async () => {
    await supervisor?.stop();
    await sim?.stop();
  });

  test("its last lines are all written, in the order it logged them", async () => {
    await supervisor.latency(); // the worker logs 100 lines and exits while answering
    await waitFor(() => supervisor.restarts >= 1, "the worker restarted", 20_000);
    const last = written.map((t) => JSON.parse(t) as Record<string, unknown>).filter((r) => r.msg === "last words");
    expect(last.map((r) => r.i)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(last.every((r) => r.worker === 0)).toBe(true);
  });
});

describe("a worker that drops lines as it stops (a standard error that takes nothing)", () => {
  test("the count is still reported: sent with its stop, before it ends", { timeout: 60_000 }, async () => {
    const sim = await startBybitSimulator({ markets: [{ market: "linear", symbols: ["BTCUSDT"] }], seed: 66, messagesPerSecond: 0 });
    const raw = rawConfig({ sim, markets: [{ market: "linear", depth: 50, symbols: ["BTCUSDT"] }], ...uniqueDestination(166), workers: 1 });
    raw.log = { level: "info", format: "json" };
    const mainLines: Record<string, unknown>[] = [];
    const written: string[] = [];
    const supervisor = new Supervisor(validateConfig(raw), createLogger({ format: "json", write: (l) => mainLines.push(JSON.parse(l)) }), new URL("./support/stop-flood-worker.ts", import.meta.url).href, {
      writeLog: (text) => void written.push(text), // never done: nothing leaves, the worker's bound fills
    });
    try {
      await supervisor.start();
    } finally {
      await supervisor.stop(); // the worker floods as it stops, then says it stopped
      await sim.stop();
    }
    const floodWritten = written.filter((t) => t.includes('"msg":"flood"')).length;
    expect(floodWritten).toBeLessThan(FLOOD_LINES); // the bound was reached
    const reports = mainLines.filter((r) => String(r.msg).startsWith("worker log lines dropped"));
    expect(reports).toHaveLength(1);
    expect(reports[0]!.worker).toBe(0);
    // Every flood line not written was dropped (and counted); the feeder's own stop lines past the bound too.
    expect(reports[0]!.lines as number).toBeGreaterThanOrEqual(FLOOD_LINES - floodWritten);
  });
});
