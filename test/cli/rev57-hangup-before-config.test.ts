/**
 * SIGHUP to `feeder run` / `feeder record` before its configuration is loaded. main() leaves SIGHUP to these commands
 * (`hangupChecksConfig`: it re-checks the file, config-reload.ts), which listen for it only once the file is loaded;
 * meanwhile nothing listened, so SIGHUP's default action killed the process (a signal exit, which systemd takes as
 * clean: not restarted), while SIGTERM in the same moment was listened for and stopped it cleanly. Now main listens
 * for SIGHUP from the start for these commands too, and a SIGHUP that came during the load is answered by the
 * re-check once the file is loaded. The load is held open deterministically: the configuration path is a FIFO,
 * which blocks the command's read until the test writes it (the test knows the read is under way when its own
 * non-blocking open for writing succeeds); a regular file replaces it before that read can end, for the re-check.
 * The venue is unreachable (127.0.0.1:9). Loopback only, TTL 1.
 */
import { closeSync, constants, openSync, renameSync, writeFileSync, writeSync } from "node:fs";
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
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

function configText(dir: string): string {
  return [
    'log = { level = "info", format = "json" }',
    "http = { enabled = false }",
    "[publish]",
    "startup_listen_ms = 0",
    ...loopbackDestinationToml(uniqueDestination(157)),
    ...unreachableBybitToml(dir),
    "[venues.bybit.linear]",
    "depth = 50",
    'symbols = ["BTCUSDT"]',
    '[venues.bybit.overrides."linear:BTCUSDT"]',
    'tick_size = "0.1"',
    'lot_size = "0.001"',
    "",
  ].join("\n");
}

test.each([["run"], ["record"]])("feeder %s: a SIGHUP while the configuration is being read neither kills nor stops it; the file is re-checked once loaded", { timeout: 90_000 }, async (command) => {
  const dir = makeTempDir("feeder-hangup-before-config-");
  const fifo = join(dir, "run.toml");
  expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
  const args = command === "record" ? ["record", "-c", fifo, "--out", join(dir, "captures")] : ["run", "-c", fifo];
  const proc = Bun.spawn([process.execPath, "src/cli/main.ts", ...args], { cwd: ROOT, stdin: "ignore", stdout: "ignore", stderr: "pipe" });
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
  // The command's read of the FIFO is under way once a non-blocking open for writing succeeds (ENXIO until then).
  let fd = -1;
  await until(() => {
    try {
      fd = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
      return true;
    } catch {
      return proc.exitCode !== null || proc.signalCode !== null; // ended before reading: the assertions below say so
    }
  }, "the command reading its configuration", BOUND_MS);
  proc.kill("SIGHUP");
  try {
    writeSync(fd, configText(dir));
  } catch {
    // old code: the reader was killed (EPIPE)
  } finally {
    // The re-check reads the path again: a regular file by then (renamed over the FIFO before the first read can end).
    writeFileSync(join(dir, "regular.toml"), configText(dir));
    renameSync(join(dir, "regular.toml"), fifo);
    if (fd >= 0) closeSync(fd);
  }
  const ended = proc.exited.then(() => "ended");
  const checked = until(() => lines.some((l) => String(l.msg).startsWith("configuration reload")), "the re-check's log line", BOUND_MS).then(() => "checked", () => "not checked");
  // Old: killed by the SIGHUP (signal SIGHUP, no line).
  expect([await Promise.race([ended, checked]), proc.signalCode, proc.exitCode]).toEqual(["checked", null, null]);
  proc.kill("SIGTERM");
  expect(await exitCodeWithin(proc, BOUND_MS)).toBe(0);
  await pump; // the last lines read to the end of stderr
  // "stopped", or "stopped during start-up" when the SIGTERM came before the (unreachable) venue's start ended.
  expect(lines.some((l) => String(l.msg).startsWith("stopped"))).toBe(true);
});
