/**
 * `feeder replay` and a stop asked for during its start-up. Before, the replay command did not look at the signal
 * until start-up had finished: with the instrument REST not answering it waited for the request to fail and exited
 * 1 ("could not start"); and a signal that came before the replay began was only seen at the first yield of a fast
 * replay, after 511 frames had been fed and published. The venue's instrument REST is held, so the order is certain.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { Feeder } from "../../src/app/feeder.ts";
import { replayCaptures } from "../../src/app/replay.ts";
import { loadConfigFile } from "../../src/config/load.ts";
import { silentLogger } from "../../src/core/log.ts";
import { tempDir, uniqueDestination, waitFor } from "../e2e/harness.ts";
import { writeXrpCapture, writeXrpConfig } from "../support/xrp-capture.ts";
import { exitCodeWithin } from "../support/exit-within.ts";

const ROOT = join(import.meta.dirname, "../..");
/** Generous bound for the child to exit; it is killed (and the test fails) if it has not. */
const EXIT_BOUND_MS = 30_000;

const stops: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()!();
});

describe("a stop asked for before a replay feeds its first frame", { timeout: 60_000 }, () => {
  test("replayCaptures with the signal already given feeds no frame", async () => {
    const dir = tempDir("feeder-rev23-replay-");
    const config = loadConfigFile(writeXrpConfig(dir, uniqueDestination(231)));
    const { file } = writeXrpCapture(dir);
    const feeder = new Feeder({ config: { ...config, publish: { ...config.publish, snapshotIntervalMs: 0 } }, log: silentLogger, replay: true });
    await feeder.start();
    stops.push(() => feeder.stop());
    const before = feeder.publisher.counters.datagrams;
    const result = await replayCaptures(feeder, [file], { pace: "fast", stopSignal: Promise.resolve("SIGTERM") });
    expect(result).toMatchObject({ frames: 0, ingested: 0, stoppedEarly: true });
    expect(feeder.publisher.counters.datagrams).toBe(before);
  });

  test("feeder replay: SIGTERM while instruments resolve exits 0 at once, nothing fed", async () => {
    // The instrument REST holds every request until the test ends.
    let held = 0;
    let release = () => {};
    const released = new Promise<void>((r) => (release = r));
    const proxy = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch() {
        held++;
        await released;
        return new Response("", { status: 503 });
      },
    });
    stops.push(() => proxy.stop(true));
    stops.push(() => release());
    const dir = tempDir("feeder-rev23-replay-cli-");
    const { file } = writeXrpCapture(dir);
    // The XRP config without its overrides (instruments from REST, nothing cached), logging at info.
    const path = writeXrpConfig(dir, uniqueDestination(232));
    const text = readFileSync(path, "utf8")
      .replace('log = { level = "warn", format = "json" }', 'log = { level = "info", format = "json" }')
      .replace('rest_url = "http://127.0.0.1:9"', `rest_url = "http://127.0.0.1:${proxy.port}"`)
      .replace(/\[venues\.bybit\.overrides[^\n]*\n[^\n]*\n[^\n]*\n/, "");
    expect(text).not.toContain("overrides");
    writeFileSync(path, text);
    const proc = Bun.spawn([process.execPath, "src/cli/main.ts", "replay", "--config", path, file], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    stops.push(() => void proc.kill("SIGKILL"));
    await waitFor(() => held > 0, "the instrument request held", 20_000);
    proc.kill("SIGTERM");
    const code = await exitCodeWithin(proc, EXIT_BOUND_MS);
    const stdout = await new Response(proc.stdout).text();
    const stderr = await new Response(proc.stderr).text();
    expect(code, stderr).toBe(0);
    expect(stderr).toContain("stopped during start-up");
    expect(stderr).not.toContain("could not start");
    expect(JSON.parse(stdout.trim())).toMatchObject({ frames: 0, ingested: 0, stoppedEarly: true, datagrams: 0 });
  });
});
