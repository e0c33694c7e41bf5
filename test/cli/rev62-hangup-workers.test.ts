/**
 * `feeder run` with workers = 2, SIGHUP while it starts: from when main listens (SIGHUP in the process's caught set,
 * /proc/<pid>/status SigCgt) each SIGHUP, sent once the one before was answered, is answered by exactly one
 * re-check line (main's do-nothing listener adds none), the signal reaches no worker thread (none ends or is
 * restarted), both workers start, and SIGTERM then stops it with exit 0. The venue is unreachable (127.0.0.1:9).
 * Loopback only, TTL 1. Coverage of s-rev57's listener: passes on the current code.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, expect, test } from "vitest";
import { uniqueDestination } from "../e2e/harness.ts";
import { loopbackDestinationToml, unreachableBybitToml } from "../support/config-toml.ts";
import { exitCodeWithin } from "../support/exit-within.ts";
import { makeTempDir } from "../support/temp-dirs.ts";
import { until } from "../support/until.ts";

const ROOT = join(import.meta.dirname, "../..");
const BOUND_MS = 30_000;

const cleanups: (() => unknown)[] = [];
afterEach(() => {
  while (cleanups.length > 0) cleanups.pop()!();
});

/** Whether the process catches SIGHUP (bit 0 of SigCgt); false once it has ended. */
function catchesHangup(pid: number): boolean {
  try {
    const m = /^SigCgt:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m !== null && (BigInt("0x" + m[1]) & 1n) === 1n;
  } catch {
    return false;
  }
}

test("run with workers = 2: each SIGHUP during start-up is answered once by the re-check; no worker ends", { timeout: 120_000 }, async () => {
  const dir = makeTempDir("feeder-hangup-workers-");
  const path = join(dir, "run.toml");
  writeFileSync(path, [
    "workers = 2",
    'log = { level = "info", format = "json" }',
    "http = { enabled = false }",
    "[publish]",
    "startup_listen_ms = 0",
    ...loopbackDestinationToml(uniqueDestination(162)),
    ...unreachableBybitToml(dir),
    "[venues.bybit.linear]",
    'symbols = ["BTCUSDT", "ETHUSDT"]',
    '[venues.bybit.overrides."linear:BTCUSDT"]',
    'tick_size = "0.1"',
    'lot_size = "0.001"',
    '[venues.bybit.overrides."linear:ETHUSDT"]',
    'tick_size = "0.01"',
    'lot_size = "0.01"',
    "",
  ].join("\n"));
  const proc = Bun.spawn([process.execPath, "src/cli/main.ts", "run", "-c", path], { cwd: ROOT, stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  cleanups.push(() => proc.kill("SIGKILL"));
  const lines: Record<string, unknown>[] = [];
  const pump = (async () => {
    let rest = "";
    for await (const chunk of proc.stderr as unknown as AsyncIterable<Uint8Array>) {
      rest += new TextDecoder().decode(chunk);
      const parts = rest.split("\n");
      rest = parts.pop()!;
      for (const p of parts) lines.push(p.startsWith("{") ? (JSON.parse(p) as Record<string, unknown>) : { msg: p });
    }
  })();
  const count = (msg: string) => lines.filter((l) => String(l.msg).startsWith(msg)).length;
  await until(() => catchesHangup(proc.pid) || proc.exitCode !== null, "main listening for SIGHUP", BOUND_MS);
  let sent = 0;
  let beforeStarted = 0; // sent before both workers had said they started
  while (count("worker started") < 2 && proc.exitCode === null && proc.signalCode === null) {
    proc.kill("SIGHUP");
    sent++;
    if (count("worker started") < 2) beforeStarted++;
    await until(() => count("configuration reload") >= sent || proc.exitCode !== null, `the re-check of SIGHUP ${sent}`, BOUND_MS);
  }
  expect({ exit: proc.exitCode, signal: proc.signalCode, workersStarted: count("worker started") }).toEqual({ exit: null, signal: null, workersStarted: 2 });
  expect(beforeStarted).toBeGreaterThan(0);
  expect(count("configuration reload")).toBe(sent); // once each: not twice (main's listener), none lost
  proc.kill("SIGTERM");
  expect(await exitCodeWithin(proc, BOUND_MS)).toBe(0);
  await pump;
  expect(count("configuration reload")).toBe(sent);
  expect(lines.filter((l) => /^worker (exited|error|could not|has said|is not)/.test(String(l.msg)))).toEqual([]);
});
