/**
 * `feeder export`'s output failing as an operator meets it: a reader that goes away (`| head -1`) ends the export
 * quietly, exit 0, without reading on; a full disk (/dev/full) and an --out whose directory is missing are errors
 * naming what was wrong (exit 1 / 2), never "export finished" with exit 0, never a stack trace.
 */
import { closeSync, linkSync, openSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, test } from "vitest";
import { main } from "../../src/cli/main.ts";
import { CaptureWriter } from "../../src/record/capture.ts";
import { makeTempDir } from "../support/temp-dirs.ts";
import { exitCodeWithin } from "../support/exit-within.ts";
import { XRP_LINES, XRP_T0_US } from "../support/xrp-capture.ts";

const ROOT = resolve(import.meta.dirname, "../..");
/** Copies of the recording's frames: ~3 MB of JSON lines, many chunks (256 KiB) and many pipe buffers. */
const COPIES = 40;
const EXIT_BOUND_MS = 30_000;

const dir = makeTempDir("feeder-export-output-");
const capture = (() => {
  const w = new CaptureWriter({ dir, prefix: "feeder", compression: "zstd" });
  let t = XRP_T0_US;
  for (let k = 0; k < COPIES; k++) for (const f of XRP_LINES) w.write((t += 1000), "bybit", "linear", "linear-0", f);
  w.close();
  return w.files[0]!;
})();

async function run(args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out, err };
}

describe("feeder export: where the output goes", { timeout: 60_000 }, () => {
  test("export | head -1: exit 0, no EPIPE stack traces, and it stops instead of exporting everything", async () => {
    // bash's exit status is export's (PIPESTATUS[0]); export's stderr is bash's stderr.
    const script = `"$0" src/cli/main.ts export "$1" | head -1; exit "\${PIPESTATUS[0]}"`;
    const proc = Bun.spawn(["bash", "-c", script, process.execPath, capture], { cwd: ROOT, stdout: "pipe", stderr: "pipe", env: { ...process.env, FEEDER_LOG_LEVEL: "info" } });
    const code = await exitCodeWithin(proc, EXIT_BOUND_MS);
    if (code === "still running") proc.kill("SIGKILL");
    const stdout = await new Response(proc.stdout).text();
    const stderr = await new Response(proc.stderr).text();
    expect(JSON.parse(stdout.trim())).toMatchObject({ venue: "bybit", market: "linear" });
    expect(stderr).not.toMatch(/EPIPE|broken pipe|\n\s+at /);
    // It did not read on to the end claiming success: no "export finished" over every frame.
    expect(stderr).not.toContain("export finished");
    expect(code).toBe(0);
  });

  test("--out on a full disk (/dev/full): exit 1 with the error, not 'export finished'", async () => {
    const r = await run(["export", "--out", "/dev/full", capture]);
    expect(r.code).toBe(1);
    expect(r.out).toEqual([]);
  });

  test("--out in a directory that does not exist: exit 2 naming the path, no stack trace", async () => {
    const out = join(dir, "no-such-dir", "frames.jsonl");
    const r = await run(["export", "--out", out, capture]);
    expect(r).toEqual({ code: 2, out: [], err: [`feeder export: --out ${out}: cannot be written (ENOENT) (see feeder export --help)`] });
  });
});

describe("feeder export -o onto one of its captures", () => {
  test("is refused, exit 2, naming both, and the capture is left as it was (before: overwritten with JSON, exit 0)", async () => {
    const sub = makeTempDir("feeder-export-victim-");
    const victim = join(sub, "feeder-20261205T000000Z-0.fcap");
    writeFileSync(victim, readFileSync(capture));
    const before = readFileSync(victim);
    const alias = `${sub}/./feeder-20261205T000000Z-0.fcap`; // the same file by another name, as a glob may give it
    const r = await run(["export", "-o", victim, alias]);
    expect(r.code).toBe(2);
    expect(r.err[0]).toContain(`--out ${victim} is the capture ${alias}: it would be overwritten while it is read`);
    expect(readFileSync(victim).equals(before)).toBe(true);
  });
});

describe("feeder export -o onto a capture by a symlink or a hard link", () => {
  test("each is the same file (device and inode): refused, exit 2, the capture left as it was", async () => {
    const sub = makeTempDir("feeder-export-links-");
    const victim = join(sub, "feeder-20261205T000000Z-0.fcap");
    writeFileSync(victim, readFileSync(capture));
    const before = readFileSync(victim);
    symlinkSync(victim, join(sub, "sym.fcap"));
    linkSync(victim, join(sub, "hard.fcap"));
    for (const [out, input] of [
      [join(sub, "sym.fcap"), victim],
      [join(sub, "hard.fcap"), victim],
      [victim, join(sub, "sym.fcap")],
    ] as const) {
      const r = await run(["export", "-o", out, input]);
      expect(r.code, `-o ${out} ${input}`).toBe(2);
      expect(r.err[0]).toContain(`--out ${out} is the capture ${input}`);
    }
    expect(readFileSync(victim).equals(before)).toBe(true);
  });
});

describe("feeder export with standard output opened onto one of its captures (>> capture)", { timeout: 60_000 }, () => {
  test("is refused, exit 2, naming it, and the capture is left as it was (before: the JSON appended to it, 'export finished', exit 0)", async () => {
    const sub = makeTempDir("feeder-export-stdout-victim-");
    const victim = join(sub, "feeder-20261205T000000Z-0.fcap");
    writeFileSync(victim, readFileSync(capture));
    const before = readFileSync(victim);
    const fd = openSync(victim, "a"); // what the shell's `>> victim` gives the process as its stdout
    try {
      const proc = Bun.spawn([process.execPath, "src/cli/main.ts", "export", victim], { cwd: ROOT, stdout: fd, stderr: "pipe" });
      const code = await exitCodeWithin(proc, EXIT_BOUND_MS);
      if (code === "still running") proc.kill("SIGKILL");
      const stderr = await new Response(proc.stderr).text();
      expect(readFileSync(victim).equals(before), "the capture was written into").toBe(true);
      expect(stderr).toContain(`feeder export: standard output is the capture ${victim}: the export would be written into it while it is read`);
      expect(code).toBe(2);
    } finally {
      closeSync(fd);
    }
  });
});
