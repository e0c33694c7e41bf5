/**
 * `feeder record` (and `run`) signalled again while stopping: the second SIGINT is logged and ignored, the stop
 * finishes (capture closed, `stopped`), exit 0. Before, main listened for the first signal only: the second met
 * its default action and killed the process mid-stop, the capture left without its last block and `stopped` line.
 * The child's Feeder.stop() is held (test/support/held-stop-preload.ts) until the test has signalled it again.
 */
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { expect, test } from "vitest";
import { tempDir, uniqueDestination } from "../e2e/harness.ts";
import { loopbackDestinationToml, unreachableBybitToml } from "../support/config-toml.ts";
import { exitCodeWithin } from "../support/exit-within.ts";
import { until } from "../support/until.ts";

const ROOT = resolve(import.meta.dirname, "../..");

test("record: a second SIGINT during the stop is logged and ignored; the capture is closed, `stopped`, exit 0", async () => {
  const dir = tempDir("record-second-signal-");
  const config = join(dir, "feeder.toml");
  const lines = ['log = { level = "info", format = "json" }', "http = { enabled = false }", "[publish]", "startup_listen_ms = 0", ...loopbackDestinationToml(uniqueDestination(941))];
  lines.push(...unreachableBybitToml(dir), "[venues.bybit.linear]", 'symbols = ["XRPUSDT"]', '[venues.bybit.overrides."linear:XRPUSDT"]', 'tick_size = "0.0001"', 'lot_size = "1"');
  writeFileSync(config, lines.join("\n") + "\n");
  const out = join(dir, "captures");
  const child = Bun.spawn([process.execPath, "--preload", join(ROOT, "test/support/held-stop-preload.ts"), join(ROOT, "src/cli/main.ts"), "record", "-c", config, "-o", out], { stdout: "ignore", stderr: "pipe" });
  let stderr = "";
  void (async () => {
    for await (const chunk of child.stderr) stderr += new TextDecoder().decode(chunk);
  })();
  try {
    await until("recording", () => stderr.includes('"msg":"recording"'));
    child.kill("SIGINT");
    await until("the stop under way", () => stderr.includes("test: stop held"));
    child.kill("SIGINT");
    // Before: the process killed by this signal.
    await until("the second signal heard", () => stderr.includes("stop signal again while stopping") || child.exitCode !== null || child.signalCode !== null);
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGUSR2");
    expect(await exitCodeWithin(child, 10_000)).toBe(0);
    expect(child.signalCode).toBeNull();
    const msgs = stderr.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as { msg: string; level: string; signal?: string });
    expect(msgs.find((m) => m.msg.startsWith("stop signal again"))).toMatchObject({ level: "warn", signal: "SIGINT" });
    expect(msgs.at(-1)?.msg).toBe("stopped"); // written after the capture is closed
  } finally {
    child.kill("SIGKILL");
  }
});
