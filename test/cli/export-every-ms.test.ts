/**
 * `feeder export --books --every-ms T` with T finer than a microsecond (receive times are whole µs, ~1.7e15): the
 * grid's next time plus 0.1 µs is the same number, so the export wrote the rows of one instant forever (325,264 rows
 * of a 50 ms capture in 10 s, never ending). Such a T is now refused naming it, exit 2, before anything is read.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { makeTempDir } from "../support/temp-dirs.ts";
import { exitCodeWithin } from "../support/exit-within.ts";
import { writeXrpCapture, writeXrpConfig } from "../support/xrp-capture.ts";
import { runMain } from "./run-main.ts";

const ROOT = join(import.meta.dirname, "../..");
const EXIT_BOUND_MS = 30_000;

/**
 * The export with `--every-ms everyMs`: as a real process when `inProcess` is false (the refusal, whose regression
 * never ended: a child can be killed, this process's loop could not), else through main() in this process (no Bun
 * start and app import per case).
 */
async function exportWith(everyMs: string, inProcess = false): Promise<{ code: number | "still running"; stderr: string; out: string }> {
  const dir = makeTempDir("feeder-export-every-ms-");
  const { file } = writeXrpCapture(dir);
  const config = writeXrpConfig(dir, { group: "239.255.45.9", port: 45_909 });
  const out = join(dir, "books.jsonl");
  const args = ["export", "--books", "-c", config, "--every-ms", everyMs, "-o", out, file];
  let code: number | "still running";
  let stderr: string;
  if (inProcess) {
    const r = await runMain(...args);
    [code, stderr] = [r.code, r.err.join("\n")];
  } else {
    const proc = Bun.spawn([process.execPath, "src/cli/main.ts", ...args], { cwd: ROOT, stdout: "ignore", stderr: "pipe" });
    code = await exitCodeWithin(proc, EXIT_BOUND_MS);
    if (code === "still running") proc.kill("SIGKILL");
    stderr = await new Response(proc.stderr).text();
  }
  let text = "";
  try {
    text = readFileSync(out, "utf8");
  } catch {}
  return { code, stderr, out: text };
}

describe("export --books --every-ms finer than the receive times", { timeout: 60_000 }, () => {
  test("--every-ms 0.0001 is refused naming it, exit 2 (before: it never ended)", async () => {
    const r = await exportWith("0.0001");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('feeder export: --every-ms must be a whole number of microseconds (0.001 at least, 0 = off), got "0.0001"');
  });

  test("--every-ms 0.007 (7 µs, though 0.007 * 1000 is not exactly 7) is accepted: a grid of whole microseconds", async () => {
    const r = await exportWith("0.007", true);
    expect(r.code).toBe(0);
    const times = r.out.trim().split("\n").map((l) => (JSON.parse(l) as { tsUs: number }).tsUs);
    expect(times.length).toBeGreaterThan(10);
    for (const t of times) expect(t % 7, `${t}`).toBe(0);
  });

  test("--every-ms 1.001 (1.001 * 1000 is 1000.9999999999999): every row on a multiple of 1,001 µs (before: 1733011200700779.8, …)", async () => {
    const r = await exportWith("1.001", true);
    expect(r.code).toBe(0);
    const times = r.out.trim().split("\n").map((l) => (JSON.parse(l) as { tsUs: number }).tsUs);
    expect(times.length).toBeGreaterThan(10);
    for (const t of times) expect(t % 1001, `${t}`).toBe(0);
  });
});
