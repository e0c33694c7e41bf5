/**
 * Two `feeder record` processes given one --out DIR: the busier one's --keep-bytes deleted the quieter one's open
 * file. Now the first claims DIR (DIR/.feeder-record.lock), the second fails its start-up check (exit 1) naming DIR
 * and the first's PID, and the first removes its claim when stopped (SIGTERM). Stale claims: test/record/dir-claim.test.ts.
 * A claim file deleted under the recorder is written again; once another has claimed DIR, the recorder stops, exit 1.
 */
import { expect, test } from "vitest";
import { existsSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { DirClaim } from "../../src/record/dir-claim.ts";
import { makeTempDir } from "../support/temp-dirs.ts";
import { loopbackDestinationToml, unreachableBybitToml } from "../support/config-toml.ts";
import { uniqueDestination } from "../e2e/harness.ts";
import { stderrReader } from "./stderr-reader.ts";

const ROOT = resolve(import.meta.dirname, "../..");

function logLines(text: string): Record<string, unknown>[] {
  return text.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);
}

function recorderArgs(dirName: string, group: number): { out: string; args: string[] } {
  const dir = makeTempDir(dirName);
  const out = join(dir, "captures");
  const toml = ["[http]", "enabled = false", "[publish]", "startup_listen_ms = 0", ...loopbackDestinationToml(uniqueDestination(group)), ...unreachableBybitToml(dir)];
  toml.push("[venues.bybit.linear]", 'symbols = ["BTCUSDT"]', '[venues.bybit.overrides."linear:BTCUSDT"]', 'tick_size = "0.1"', 'lot_size = "0.001"');
  writeFileSync(join(dir, "record.toml"), toml.join("\n") + "\n");
  return { out, args: [process.execPath, join(ROOT, "src/cli/main.ts"), "record", "--config", join(dir, "record.toml"), "--out", out, "--keep-bytes", "1G"] };
}

test("a second recorder into the same DIR exits 1 naming DIR and the first's PID; the first's claim is gone once it stopped", async () => {
  const { out, args } = recorderArgs("feeder-record-claim-", 197);
  const dir = join(out, "..");
  const first = Bun.spawn(args, { cwd: dir, stdout: "ignore", stderr: "pipe" });
  try {
    const firstErr = stderrReader(first);
    await firstErr.readUntil('"msg":"recording"');
    expect(firstErr.text).toContain('"msg":"recording"');
    const lock = join(out, ".feeder-record.lock");
    expect(JSON.parse(readFileSync(lock, "utf8"))).toMatchObject({ pid: first.pid });

    const second = Bun.spawn(args, { cwd: dir, stdout: "ignore", stderr: "pipe" });
    const [code, text] = await Promise.all([second.exited, new Response(second.stderr).text()]);
    expect(code, text).toBe(1);
    const failed = logLines(text).find((l) => l.msg === "feeder could not start");
    expect(failed, text).toMatchObject({ level: "error" });
    expect(String(failed!.error)).toContain(`--out: directory ${JSON.stringify(out)} is being recorded into by another feeder record (pid ${first.pid}`);
    expect(logLines(text).some((l) => l.msg === "capture file opened"), text).toBe(false);
    expect(JSON.parse(readFileSync(lock, "utf8"))).toMatchObject({ pid: first.pid }); // the refused one left it alone

    first.kill("SIGTERM");
    expect(await first.exited).toBe(0);
    expect(existsSync(lock)).toBe(false);
  } finally {
    first.kill("SIGKILL");
  }
});

test("the claim file deleted under a recorder is written again; claimed by another meanwhile, the recorder stops, exit 1", { timeout: 20_000 }, async () => {
  // Before, nothing looked at the claim after start: deleted, the recorder went on without one and a second started.
  const { out, args } = recorderArgs("feeder-record-claim-lost-", 198);
  const lock = join(out, ".feeder-record.lock");
  const rec = Bun.spawn(args, { cwd: join(out, ".."), stdout: "ignore", stderr: "pipe" });
  try {
    const err = stderrReader(rec);
    await err.readUntil('"msg":"recording"');
    unlinkSync(lock);
    await err.readUntil("claim file was gone; written again");
    expect(JSON.parse(readFileSync(lock, "utf8"))).toMatchObject({ pid: rec.pid });
    unlinkSync(lock);
    const other = DirClaim.take(out); // in the same turn: before the recorder's next look
    try {
      expect(await rec.exited).toBe(1);
      await err.readUntil("\u0000"); // to the end
      const stopping = logLines(err.text).find((l) => String(l.msg).startsWith("another recorder claimed the capture directory"));
      expect(stopping, err.text).toMatchObject({ level: "error", dir: out });
      expect(JSON.parse(String(stopping!.holder))).toMatchObject({ pid: process.pid });
      expect(logLines(err.text).some((l) => l.msg === "stopped"), err.text).toBe(true);
      expect(JSON.parse(readFileSync(lock, "utf8"))).toMatchObject({ pid: process.pid }); // the other's claim left alone
    } finally {
      other.release();
    }
  } finally {
    rec.kill("SIGKILL");
  }
});
