/**
 * `feeder record --out DIR` that cannot be created or written: a failed start-up check (exit 1, which the systemd
 * unit retries until the host is fixed), not a usage error (exit 2, never retried), as README and
 * docs/operations.md's start-up checks say. A DIR that is a file stays a usage error (test/e2e/record-cli.test.ts).
 */
import { expect, test } from "vitest";
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { makeTempDir } from "../support/temp-dirs.ts";
import { loopbackDestinationToml, unreachableBybitToml } from "../support/config-toml.ts";
import { uniqueDestination } from "../e2e/harness.ts";

const ROOT = resolve(import.meta.dirname, "../..");

test("an --out that cannot be created exits 1 from the start-up checks, naming --out and why", async () => {
  const dir = makeTempDir("feeder-record-out-ro-");
  const toml = ["[http]", "enabled = false", "[publish]", "startup_listen_ms = 0", ...loopbackDestinationToml(uniqueDestination(94)), ...unreachableBybitToml(dir)];
  toml.push("[venues.bybit.linear]", 'symbols = ["BTCUSDT"]', '[venues.bybit.overrides."linear:BTCUSDT"]', 'tick_size = "0.1"', 'lot_size = "0.001"');
  writeFileSync(join(dir, "record.toml"), toml.join("\n") + "\n");
  // Nothing can be created in /proc, not even by root (the tests run as root: a chmod 0555 directory would not do).
  const out = `/proc/feeder-record-test-${process.pid}`;
  // A child process: the command's log goes to its stderr.
  const proc = Bun.spawn([process.execPath, join(ROOT, "src/cli/main.ts"), "record", "--config", join(dir, "record.toml"), "--out", out], { cwd: dir, stdout: "ignore", stderr: "pipe" });
  const [code, text] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
  expect(code, text).toBe(1);
  const failed = text.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === "feeder could not start");
  expect(failed, text).toMatchObject({ level: "error", error: `--out: directory ${JSON.stringify(out)} is not writable (ENOENT)` });
});
