/**
 * A command's standard output into a pipe whose reader is slower than the command: everything written reaches the
 * reader before the process exits. Before, the entry point exited as soon as the command returned, and Bun dropped
 * what the pipe had no room for: `feeder check-config -c big.toml | slow-reader` got the first 64 KiB of the
 * settings (a cut TOML), exit 0. A reader that goes away (`| head -c 10`) still ends it at once, exit 0.
 * A long-running command stopped by SIGTERM (`systemctl stop`) whose reader takes nothing exits anyway: it waited for
 * a second signal (systemd: SIGKILL after 90 s).
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { main } from "../../src/cli/main.ts";
import { makeTempDir } from "../support/temp-dirs.ts";
import { exitCodeWithin } from "../support/exit-within.ts";
import { stderrReader } from "./stderr-reader.ts";

const ROOT = join(import.meta.dirname, "../..");
const EXIT_BOUND_MS = 30_000;

/** A valid config whose resolved settings (check-config's output) are far more than a pipe holds (64 KiB). */
function bigConfig(): string {
  const path = join(makeTempDir("feeder-output-drained-"), "big.toml");
  const symbols = Array.from({ length: 20_000 }, (_, i) => `"S${String(i).padStart(5, "0")}USDT"`).join(", ");
  writeFileSync(path, ["http = { enabled = false }", "[venues.bybit]", "[venues.bybit.linear]", `symbols = [${symbols}]`, ""].join("\n"));
  return path;
}

/** A config whose refusal (one problem per bad symbol, on stderr) is far more than a pipe holds. */
function badConfig(): string {
  const path = join(makeTempDir("feeder-output-drained-"), "bad.toml");
  const symbols = Array.from({ length: 3000 }, (_, i) => `"s${String(i).padStart(5, "0")} usdt"`).join(", ");
  writeFileSync(path, ["http = { enabled = false }", "[venues.bybit]", "[venues.bybit.linear]", `symbols = [${symbols}]`, ""].join("\n"));
  return path;
}

async function inProcessBytes(config: string): Promise<number> {
  const out: string[] = [];
  const code = await main(["check-config", "-c", config], { out: (t) => out.push(t.endsWith("\n") ? t : t + "\n"), err: () => {} });
  expect(code).toBe(0);
  return Buffer.byteLength(out.join(""));
}

/** Runs `script` in bash with $0 = bun, $1 = the config; returns bash's exit status and stdout. */
async function bash(script: string, config: string): Promise<{ code: number | "still running"; stdout: string; stderr: string }> {
  const proc = Bun.spawn(["bash", "-c", script, process.execPath, config], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  const code = await exitCodeWithin(proc, EXIT_BOUND_MS);
  if (code === "still running") proc.kill("SIGKILL");
  return { code, stdout: await new Response(proc.stdout).text(), stderr: await new Response(proc.stderr).text() };
}

describe("standard output into a slow pipe", { timeout: 60_000 }, () => {
  test("check-config | a reader that starts late: every byte arrives, exit 0 (before: the first 64 KiB)", async () => {
    const config = bigConfig();
    const expected = await inProcessBytes(config);
    expect(expected).toBeGreaterThan(2 * 65536);
    // The reader takes one byte (the output has begun: it is one write), waits a second, then reads the rest:
    // meanwhile the command has returned and the process would exit. The pipeline's status is check-config's.
    const r = await bash(`"$0" src/cli/main.ts check-config -c "$1" | { dd bs=1 count=1 status=none; sleep 1; cat; } | wc -c; exit "\${PIPESTATUS[0]}"`, config);
    expect(r.stderr).toBe("");
    expect(Number(r.stdout.trim())).toBe(expected);
    expect(r.code).toBe(0);
  });

  test("a refused config's problems on stderr into a pipe: every one arrives, exit 2 (before: the first 128 KiB)", async () => {
    const config = badConfig();
    const err: string[] = [];
    expect(await main(["check-config", "-c", config], { out: () => {}, err: (t) => err.push(t.endsWith("\n") ? t : t + "\n") })).toBe(2);
    const expected = Buffer.byteLength(err.join(""));
    expect(expected).toBeGreaterThan(4 * 65536);
    const r = await bash(`"$0" src/cli/main.ts check-config -c "$1" 2>&1 >/dev/null | { dd bs=1 count=1 status=none; sleep 1; cat; } | wc -c; exit "\${PIPESTATUS[0]}"`, config);
    expect(Number(r.stdout.trim())).toBe(expected);
    expect(r.code).toBe(2);
  });

  test("check-config | head -c 10: the reader gone ends it at once, exit 0, nothing on stderr", async () => {
    const r = await bash(`"$0" src/cli/main.ts check-config -c "$1" | head -c 10; exit "\${PIPESTATUS[0]}"`, bigConfig());
    expect(r.stdout).toHaveLength(10);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });

  test("sim stopped by SIGTERM while its reader takes nothing: it exits, exit 0 (before: waited for a second signal)", async () => {
    // Standard output is a pipe already full (64 KiB) whose reader (a sleep) never reads: the simulator's lines wait
    // in the process. The reader's pid comes first on stderr, so it can be ended afterwards.
    const script = [
      `exec > >(echo "reader $BASHPID" >&2; exec sleep 300 2>/dev/null)`,
      "head -c 65536 /dev/zero",
      `exec "$0" src/cli/main.ts sim --port 0 --rate 0`,
    ].join("\n");
    const proc = Bun.spawn(["bash", "-c", script, process.execPath], { cwd: ROOT, stdout: "ignore", stderr: "pipe" });
    const err = stderrReader(proc);
    try {
      await err.readUntil("simulator running");
      expect(err.text).toContain("simulator running");
      proc.kill("SIGTERM");
      expect(await exitCodeWithin(proc, EXIT_BOUND_MS)).toBe(0);
      await err.readUntil("left behind");
      expect(err.text).toContain("stopping simulator");
      expect(err.text).toContain("feeder: standard output's reader took nothing more; what it had not taken is left behind");
    } finally {
      proc.kill("SIGKILL");
      if (err.readerPid !== undefined) process.kill(err.readerPid, "SIGKILL");
    }
  });
});
