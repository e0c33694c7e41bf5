/**
 * SIGHUP (the terminal closed: an ssh session dropped) stops a long-running command as SIGTERM does. Before, no
 * handler: the default action killed the process where it stood (exit 129), so `feeder sim` never stopped cleanly.
 * `run` and `record` take SIGHUP as "re-check the configuration" (test/cli/config-reload.test.ts) and run on: a
 * record that was sent one is still stopped cleanly by SIGTERM afterwards, its last block flushed.
 * Destination uniqueDestination(48), interface 127.0.0.1, TTL 1.
 */
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterEach, expect, test } from "vitest";
import { readCapture } from "../../src/record/capture.ts";
import { startBybitSimulator } from "../../src/sim/bybit-sim.ts";
import { rawConfig, tempDir, toToml, uniqueDestination, waitFor, type Markets } from "../e2e/harness.ts";
import { exitCodeWithin } from "../support/exit-within.ts";

const ROOT = resolve(import.meta.dirname, "../..");
/** Generous bound on each awaited event (a log line, an exit); a hang fails the test. */
const BOUND_MS = 30_000;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** `feeder ...args` as a child whose stderr JSON lines are collected in `logs`. */
function spawnFeeder(args: string[]): { proc: Bun.Subprocess<"ignore", "ignore", "pipe">; logs: Record<string, unknown>[]; pump: Promise<void> } {
  const proc = Bun.spawn([process.execPath, "src/cli/main.ts", ...args], { cwd: ROOT, stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  cleanups.push(() => proc.kill("SIGKILL"));
  const logs: Record<string, unknown>[] = [];
  const pump = (async () => {
    let buf = "";
    for await (const chunk of proc.stderr.pipeThrough(new TextDecoderStream())) {
      buf += chunk;
      for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          logs.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          logs.push({ msg: line });
        }
      }
    }
  })();
  return { proc, logs, pump };
}

test("sim stopped by SIGHUP: stops as on SIGTERM, exit 0 (before: killed, 129)", { timeout: 60_000 }, async () => {
  const { proc, logs } = spawnFeeder(["sim", "--port", "0", "--rate", "0"]);
  await waitFor(() => logs.some((l) => String(l.msg).endsWith("simulator running")), "simulator running", BOUND_MS);
  proc.kill("SIGHUP");
  expect(await exitCodeWithin(proc, BOUND_MS)).toBe(0);
  await waitFor(() => logs.some((l) => l.msg === "stopping simulator"), "stopping simulator", BOUND_MS);
});

test("record after a SIGHUP: still recording (the file re-checked, nothing stopped); SIGTERM then flushes the last block, exit 0", { timeout: 60_000 }, async () => {
  const markets: Markets = [{ market: "linear", depth: 50, symbols: ["BTCUSDT"] }];
  const sim = await startBybitSimulator({ markets: markets.map((m) => ({ market: m.market, symbols: m.symbols })), seed: 48, messagesPerSecond: 200 });
  cleanups.push(() => sim.stop());
  const dir = tempDir("feeder-hangup-");
  const raw = rawConfig({ sim, markets, ...uniqueDestination(48) });
  (raw.log as Record<string, string>).level = "info";
  writeFileSync(join(dir, "record.toml"), toToml(raw));
  const out = join(dir, "captures");
  const { proc, logs, pump } = spawnFeeder(["record", "--config", join(dir, "record.toml"), "--out", out, "--progress-seconds", "0.2"]);
  await waitFor(() => logs.some((l) => l.msg === "recording progress" && (l.records as number) > 0), "frames recorded", BOUND_MS);
  proc.kill("SIGHUP");
  await waitFor(() => logs.some((l) => String(l.msg).startsWith("configuration reload")), "the reload check's log line", BOUND_MS);
  const progressAtHangup = logs.filter((l) => l.msg === "recording progress").length;
  await waitFor(() => logs.filter((l) => l.msg === "recording progress").length > progressAtHangup + 1, "recording on after SIGHUP", BOUND_MS);
  expect(proc.exitCode).toBeNull();
  proc.kill("SIGTERM");
  expect(await exitCodeWithin(proc, BOUND_MS)).toBe(0);
  await pump;
  const stopped = logs.find((l) => l.msg === "stopped");
  expect(stopped).toBeDefined();
  const files = logs.filter((l) => l.msg === "capture file opened").map((l) => l.file as string);
  const read = files.map((f) => readCapture(f));
  expect(read.map((r) => r.truncated)).toEqual(files.map(() => undefined));
  expect(read.reduce((s, r) => s + r.records.length, 0)).toBe(stopped!.records);
});
