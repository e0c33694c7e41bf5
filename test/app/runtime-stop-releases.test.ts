/**
 * Every stop path releases everything whatever a part's stop throws. Before, runtime.stop() and startRuntime's
 * failure path awaited the pipeline's stop, the publish guard's and the HTTP server's one after another: a pipeline
 * stop that threw left the guard's socket and the HTTP port open (and a failed start reported the stop's error, not
 * its own); `feeder record` then skipped closing its capture (the last block lost, the file unfinished) and its
 * `stopped` line. Here Feeder.stop() is made to throw after doing its work.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, expect, test, vi } from "vitest";
import { Feeder } from "../../src/app/feeder.ts";
import { PublishGuard } from "../../src/app/publish-guard.ts";
import { startRuntime } from "../../src/app/runtime.ts";
import { recordCommand } from "../../src/cli/commands/record.ts";
import { loadConfigFile } from "../../src/config/load.ts";
import { silentLogger } from "../../src/core/log.ts";
import { CaptureWriter } from "../../src/record/capture.ts";
import { captureLog } from "../support/capture-log.ts";
import { loopbackDestinationToml, unreachableBybitToml } from "../support/config-toml.ts";
import { freePort } from "../support/free-port.ts";
import { tempDir, uniqueDestination, waitFor } from "../e2e/harness.ts";

afterEach(() => {
  vi.restoreAllMocks();
});

/** XRPUSDT from overrides (nothing fetched; the venue's endpoints answer nothing), no start-up listening window. */
function writeConfig(dir: string, seed: number, httpPort: number | undefined): string {
  const path = join(dir, "feeder.toml");
  const http = httpPort === undefined ? "http = { enabled = false }" : `http = { listen = "127.0.0.1:${httpPort}" }`;
  const lines = ['log = { level = "info", format = "json" }', http, "[publish]", "startup_listen_ms = 0", ...loopbackDestinationToml(uniqueDestination(seed))];
  lines.push(...unreachableBybitToml(dir), "[venues.bybit.linear]", 'symbols = ["XRPUSDT"]', '[venues.bybit.overrides."linear:XRPUSDT"]', 'tick_size = "0.0001"', 'lot_size = "1"');
  writeFileSync(path, lines.join("\n") + "\n");
  return path;
}

/** Feeder.stop() does its work, then throws (`thrown()`: an Error unless told). */
function feederStopThrows(thrown: () => unknown = () => new Error("test: the pipeline's stop fails")): void {
  const realStop = Feeder.prototype.stop;
  vi.spyOn(Feeder.prototype, "stop").mockImplementation(async function (this: Feeder) {
    await realStop.call(this);
    throw thrown();
  });
}

async function refused(url: string): Promise<boolean> {
  return fetch(url).then(
    () => false,
    () => true,
  );
}

test("runtime.stop(): the guard and the HTTP server are stopped when the pipeline's stop throws; the failure is logged", async () => {
  const port = await freePort();
  const { log, lines } = captureLog();
  const runtime = await startRuntime(loadConfigFile(writeConfig(tempDir("rt-stop-throws-"), 931, port)), log);
  expect(await refused(`http://127.0.0.1:${port}/healthz`)).toBe(false);
  feederStopThrows();
  const guardStop = vi.spyOn(PublishGuard.prototype, "stop");
  const err = await runtime.stop().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(guardStop).toHaveBeenCalledTimes(1);
  expect(err).toMatchObject({ name: "StopFailed", parts: ["pipeline"] });
  expect(await refused(`http://127.0.0.1:${port}/healthz`)).toBe(true);
  expect(lines.filter((l) => l.msg.startsWith("stop failed")).map((l) => [l.level, l.msg, l.fields])).toEqual([
    ["error", "stop failed; the other parts are stopped all the same", { part: "pipeline", error: "test: the pipeline's stop fails" }],
  ]);
});

test("runtime.stop(): a pipeline stop that throws a value with no string form is logged naming it; the guard and HTTP are stopped", async () => {
  // Until 2026-12-07 stopEach's catch described it with String(err), which threw: the guard and HTTP were left open.
  const port = await freePort();
  const { log, lines } = captureLog();
  const runtime = await startRuntime(loadConfigFile(writeConfig(tempDir("rt-stop-no-string-"), 935, port)), log);
  feederStopThrows(() => Object.create(null));
  const guardStop = vi.spyOn(PublishGuard.prototype, "stop");
  const err = await runtime.stop().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toMatchObject({ name: "StopFailed", parts: ["pipeline"] });
  expect(guardStop).toHaveBeenCalledTimes(1);
  expect(await refused(`http://127.0.0.1:${port}/healthz`)).toBe(true);
  expect(lines.filter((l) => l.msg.startsWith("stop failed")).map((l) => l.fields)).toEqual([{ part: "pipeline", error: "a thrown [object Object] with no string form" }]);
});

test("a failed start whose stop throws: the guard and HTTP are stopped, and the start's own error is thrown", async () => {
  const port = await freePort();
  const { log, lines } = captureLog();
  vi.spyOn(Feeder.prototype, "start").mockRejectedValue(new Error("test: the start fails"));
  feederStopThrows();
  const guardStop = vi.spyOn(PublishGuard.prototype, "stop");
  await expect(startRuntime(loadConfigFile(writeConfig(tempDir("rt-start-stop-throws-"), 932, port)), log)).rejects.toThrow("test: the start fails");
  expect(guardStop).toHaveBeenCalledTimes(1);
  expect(await refused(`http://127.0.0.1:${port}/healthz`)).toBe(true);
  expect(lines.filter((l) => l.msg.startsWith("stop failed")).map((l) => l.fields.part)).toEqual(["pipeline"]);
});

test("feeder record: a stop that throws still closes the capture and logs `stopped`; exit 1", async () => {
  const dir = tempDir("record-stop-throws-");
  const path = writeConfig(dir, 933, undefined);
  const written: string[] = [];
  vi.spyOn(process.stderr, "write").mockImplementation((chunk: unknown, ...rest: unknown[]) => {
    written.push(String(chunk));
    (rest.find((r) => typeof r === "function") as (() => void) | undefined)?.();
    return true;
  });
  const closed = vi.spyOn(CaptureWriter.prototype, "close");
  let signal!: (s: string) => void;
  const stopSignal = new Promise<string>((r) => (signal = r));
  const running = recordCommand.run({ values: { config: path, out: join(dir, "captures") }, positionals: [], log: silentLogger, out: () => undefined, stopSignal });
  await waitFor(() => written.some((l) => l.includes('"msg":"recording"')), "recording");
  feederStopThrows();
  signal("SIGTERM");
  // Before, the command threw the stop's error: no close of the capture, no `stopped` line.
  expect(await running).toBe(1);
  expect(closed).toHaveBeenCalled();
  const msgs = written.join("").split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l) as { msg: string; part?: string });
  expect(msgs.find((m) => m.msg === "stop failed; the other parts are stopped all the same")?.part).toBe("pipeline");
  expect(msgs.at(-1)?.msg).toBe("stopped");
});
