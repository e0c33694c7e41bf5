/**
 * `feeder record` (and `run`) while its stop is under way. The child's Feeder.stop() is held
 * (test/support/held-stop-preload.ts) until SIGUSR2, or for good.
 * - Signalled again: the second SIGINT is logged and ignored, the stop finishes (capture closed, `stopped`), exit 0.
 *   Before, main listened for the first signal only: the second met its default action and killed the process
 *   mid-stop (exit 130), the capture left without its last block and `stopped` line.
 * - A stop that never ends: cut off at the deadline, as documented (exit 0), and now said so in the log; before, the
 *   `stopped` line alone read as a stop that had ended.
 * - A frame a venue delivers once the cut stop closed the capture (test/support/tap-after-close-preload.ts): the raw
 *   taps are detached before the close, so it reaches no writer. Before s-sm9 it went to the closed writer, counted
 *   in lateRecords after the `stopped` line had been written (never shown).
 */
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { expect, test } from "vitest";
import { tempDir, uniqueDestination } from "../e2e/harness.ts";
import { loopbackDestinationToml, unreachableBybitToml } from "../support/config-toml.ts";
import { exitCodeWithin } from "../support/exit-within.ts";
import { until } from "../support/until.ts";

const ROOT = resolve(import.meta.dirname, "../..");

/** `feeder record` with its stop held, recording (nothing: the venue answers nothing) once this resolves. */
async function heldRecord(seed: number, preload = "held-stop-preload.ts") {
  const dir = tempDir("record-held-stop-");
  const config = join(dir, "feeder.toml");
  const lines = ['log = { level = "info", format = "json" }', "http = { enabled = false }", "[publish]", "startup_listen_ms = 0", ...loopbackDestinationToml(uniqueDestination(seed))];
  lines.push(...unreachableBybitToml(dir), "[venues.bybit.linear]", 'symbols = ["XRPUSDT"]', '[venues.bybit.overrides."linear:XRPUSDT"]', 'tick_size = "0.0001"', 'lot_size = "1"');
  writeFileSync(config, lines.join("\n") + "\n");
  const child = Bun.spawn([process.execPath, "--preload", join(ROOT, "test/support", preload), join(ROOT, "src/cli/main.ts"), "record", "-c", config, "-o", join(dir, "captures")], { stdout: "ignore", stderr: "pipe" });
  const io = { child, stderr: "" };
  void (async () => {
    for await (const chunk of child.stderr) io.stderr += new TextDecoder().decode(chunk);
  })();
  await until(() => io.stderr.includes('"msg":"recording"'), "recording", 30_000);
  return io;
}

const messages = (stderr: string) => stderr.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as { msg: string; level: string; signal?: string });

test("record: a second SIGINT during the stop is logged and ignored; the capture is closed, `stopped`, exit 0", async () => {
  const io = await heldRecord(941);
  const { child } = io;
  try {
    child.kill("SIGINT");
    await until(() => io.stderr.includes("test: stop held"), "the stop under way", 30_000);
    child.kill("SIGINT");
    // Before: the process killed by this signal.
    await until(() => io.stderr.includes("stop signal again while stopping") || child.exitCode !== null || child.signalCode !== null, "the second signal heard", 30_000);
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGUSR2");
    expect(await exitCodeWithin(child, 10_000)).toBe(0);
    expect(child.signalCode).toBeNull();
    const msgs = messages(io.stderr);
    expect(msgs.find((m) => m.msg.startsWith("stop signal again"))).toMatchObject({ level: "warn", signal: "SIGINT" });
    expect(msgs.at(-1)?.msg).toBe("stopped"); // written after the capture is closed
  } finally {
    child.kill("SIGKILL");
  }
});

test("record: a stop that does not end is cut off at its deadline, said in the log, then `stopped`, exit 0", async () => {
  const io = await heldRecord(942);
  const { child } = io;
  try {
    child.kill("SIGINT"); // the stop is held for good
    expect(await exitCodeWithin(child, 10_000)).toBe(0);
    const msgs = messages(io.stderr).map((m) => [m.level, m.msg]);
    expect(msgs.slice(-2)).toEqual([
      ["warn", "stop not finished within its deadline: ending with it under way (a venue that does not close)"],
      ["info", "stopped"],
    ]);
  } finally {
    child.kill("SIGKILL");
  }
});

test("record: a stop cut at its deadline detaches the raw taps before the capture closes: a frame after the close reaches no writer", async () => {
  const io = await heldRecord(943, "tap-after-close-preload.ts");
  const { child } = io;
  try {
    child.kill("SIGINT"); // the stop is held for good: cut at the deadline
    expect(await exitCodeWithin(child, 10_000)).toBe(0);
    // Before: 1 (the frame written to the closed writer, counted after the `stopped` line).
    expect(io.stderr).toContain("test: lateRecords 0\n");
    expect(messages(io.stderr).at(-1)?.msg).toBe("stopped");
  } finally {
    child.kill("SIGKILL");
  }
});
