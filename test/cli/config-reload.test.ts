/**
 * SIGHUP, the usual "reload your configuration" signal, sent to `feeder run` (and `feeder record`). Before, it ended the process at once
 * (Bun's default for an unhandled SIGHUP): no book published halted, and systemd, which takes SIGHUP as a clean
 * exit, did not restart it. Now the process runs on as started and each SIGHUP logs what re-reading the file found:
 * the same settings (info), the keys a restart would change (warn), or why the file cannot be used (error: invalid,
 * half-written, gone). Nothing is ever applied. The venue is unreachable (127.0.0.1:9), so no simulator is needed;
 * HTTP on a free loopback port shows the process still answers. Loopback only, TTL 1.
 */
import { renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { freePort } from "../support/free-port.ts";
import { makeTempDir } from "../support/temp-dirs.ts";
import { exitCodeWithin } from "../support/exit-within.ts";
import { uniqueDestination } from "../e2e/harness.ts";
import { loopbackDestinationToml, unreachableBybitToml } from "../support/config-toml.ts";

const ROOT = join(import.meta.dirname, "../..");
const DEADLINE_MS = 20_000;

function configText(httpPort: number, dir: string, depth: number): string {
  const dest = uniqueDestination(77);
  return [
    'log = { level = "info", format = "json" }',
    `http = { enabled = true, listen = "127.0.0.1:${httpPort}" }`,
    "[publish]",
    "startup_listen_ms = 0",
    ...loopbackDestinationToml(dest),
    ...unreachableBybitToml(dir),
    "[venues.bybit.linear]",
    `depth = ${depth}`,
    'symbols = ["BTCUSDT"]',
    '[venues.bybit.overrides."linear:BTCUSDT"]',
    'tick_size = "0.1"',
    'lot_size = "0.001"',
    "",
  ].join("\n");
}

describe("feeder run / record and SIGHUP", { timeout: 90_000 }, () => {
  test.each([["run"], ["record"]])("feeder %s: each SIGHUP re-checks the file and logs the outcome; nothing stops and nothing is applied", async (command) => {
    const dir = makeTempDir("feeder-config-reload-");
    const httpPort = await freePort();
    const path = join(dir, "run.toml");
    writeFileSync(path, configText(httpPort, dir, 50));
    const args = command === "record" ? ["record", "-c", path, "--out", join(dir, "captures")] : ["run", "-c", path];
    const proc = Bun.spawn([process.execPath, "src/cli/main.ts", ...args], { cwd: ROOT, stdout: "ignore", stderr: "pipe" });
    const lines: Record<string, any>[] = [];
    void (async () => {
      let rest = "";
      for await (const chunk of proc.stderr as unknown as AsyncIterable<Uint8Array>) {
        rest += new TextDecoder().decode(chunk);
        const parts = rest.split("\n");
        rest = parts.pop()!;
        for (const p of parts) if (p.startsWith("{")) lines.push(JSON.parse(p));
      }
    })();
    /** The first log line with this message after the first `from` lines, polled until the deadline. */
    const logged = async (msg: string, from: number) => {
      const end = Date.now() + DEADLINE_MS;
      while (Date.now() < end && proc.exitCode === null && proc.signalCode === null) {
        const line = lines.slice(from).find((l) => l.msg === msg);
        if (line !== undefined) return line;
        await Bun.sleep(20);
      }
      throw new Error(`no "${msg}" line (exit code ${proc.exitCode}, signal ${proc.signalCode}); logged: ${lines.map((l) => l.msg).join(" | ")}`);
    };
    const hangup = async (msg: string) => {
      const from = lines.length;
      proc.kill("SIGHUP");
      const line = await logged(msg, from);
      expect(proc.exitCode).toBeNull();
      expect((await fetch(`http://127.0.0.1:${httpPort}/healthz`)).status).toBe(200);
      return line;
    };
    try {
      await logged("HTTP listening", 0);
      expect((await hangup("configuration reload: the file is valid and the same as the running configuration")).path).toBe(path);

      writeFileSync(path, configText(httpPort, dir, 200));
      const changed = await hangup("configuration reload refused: feeder applies its configuration at start only; running on as started (restart to apply)");
      expect(changed.changed).toEqual(["venues.bybit.linear.depth"]);

      writeFileSync(path, configText(httpPort, dir, 200).slice(0, 60)); // half-written
      const half = await hangup("configuration reload refused: the file cannot be used; running on as started");
      expect(half.problems[0]).toMatch(/not valid TOML at line 2/);

      renameSync(path, `${path}.gone`);
      const gone = await hangup("configuration reload refused: the file cannot be used; running on as started");
      expect(gone.problems).toEqual([`${path}: cannot read the file (ENOENT)`]);

      proc.kill("SIGTERM");
      expect(await exitCodeWithin(proc, DEADLINE_MS)).toBe(0);
    } finally {
      proc.kill("SIGKILL");
    }
  });
});
