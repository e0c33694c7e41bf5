/**
 * A capture directory on a disk that fills, then has room again (`feeder record` for months, the disk full for a
 * while): the blocks that did not fit are lost and counted, the file stays readable to its end with no damaged
 * block in it, the writer goes on in the same file once there is room, and no empty files pile up meanwhile.
 * Before: the block cut by the full disk stayed in the file (counted as written; a reader stopped there, so every
 * block written after it was unreadable too), and every later block opened one more empty file (five a second
 * while the disk stayed full), each warned about under the name of the file before it. A real tmpfs of 64 KiB in
 * a mount namespace of its own (skipped where one cannot be made: not root).
 */
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { makeTempDir } from "../support/temp-dirs.ts";
import { exitCodeWithin } from "../support/exit-within.ts";

const ROOT = join(import.meta.dirname, "../..");
const BOUND_MS = 30_000;

function canMountTmpfs(): boolean {
  const dir = makeTempDir("feeder-capture-mount-probe-");
  return spawnSync("unshare", ["-m", "bash", "-c", `mount -t tmpfs -o size=64k tmpfs "${dir}"`]).status === 0;
}

describe("a capture on a disk that fills, then has room", { timeout: 60_000 }, () => {
  test.skipIf(!canMountTmpfs())("lost blocks are counted and named; the file reads to its end; writing goes on in it; no empty files", async () => {
    const dir = makeTempDir("feeder-capture-full-disk-");
    const script = join(dir, "record.ts");
    // In the mount namespace: writes 3 KB blocks until three could not be written, makes room, writes three more,
    // then reports what is on the disk (the tmpfs goes with the namespace).
    writeFileSync(
      script,
      [
        `import { readdirSync, rmSync } from "node:fs";`,
        `import { CaptureWriter, readCapture } from ${JSON.stringify(join(ROOT, "src/record/capture.ts"))};`,
        `import { createLogger } from ${JSON.stringify(join(ROOT, "src/core/log.ts"))};`,
        `const mnt = process.argv[2];`,
        `const lines = [];`,
        `const log = createLogger({ format: "json", write: (l) => lines.push(JSON.parse(l)) });`,
        `const w = new CaptureWriter({ dir: mnt + "/cap", prefix: "feeder", flushBytes: 1, log, compression: "none" });`,
        `let n = 0;`,
        `while (w.writeErrors < 3 && n < 1000) w.write(++n, "bybit", "linear", "c", String(n).padStart(6, "0") + "x".repeat(3000));`,
        `rmSync(mnt + "/filler");`,
        `for (let i = 0; i < 3; i++) w.write(++n, "bybit", "linear", "c", String(n).padStart(6, "0") + "y".repeat(3000));`,
        `w.close();`,
        `const files = readdirSync(mnt + "/cap").sort().map((f) => { const r = readCapture(mnt + "/cap/" + f); return { f, frames: r.records.filter((x) => x.url === undefined).map((x) => Number(x.frame.slice(0, 6))), marks: r.records.filter((x) => x.url === "capture:lost").map((x) => x.frame), truncated: r.truncated }; });`,
        `console.log(JSON.stringify({ stats: w.stats(), files, lines }));`,
        "",
      ].join("\n"),
    );
    const harness = `set -e; mkdir "$1/mnt"; mount -t tmpfs -o size=64k tmpfs "$1/mnt"; head -c 20000 /dev/zero > "$1/mnt/filler"; "$0" "$1/record.ts" "$1/mnt"`;
    const proc = Bun.spawn(["unshare", "-m", "bash", "-c", harness, process.execPath, dir], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    const code = await exitCodeWithin(proc, BOUND_MS);
    if (code === "still running") proc.kill("SIGKILL");
    const stdout = await new Response(proc.stdout).text();
    expect(code, await new Response(proc.stderr).text()).toBe(0);
    const { stats, files, lines } = JSON.parse(stdout) as {
      stats: { records: number; lostRecords: number; writeErrors: number; files: number };
      files: { f: string; frames: number[]; marks: string[]; truncated: string | undefined }[];
      lines: { msg: string; level: string; detail?: string; file?: string }[];
    };
    // One file, read to its end: every record the writer did not count as lost is in it, the last three included.
    expect(files.map((f) => f.truncated)).toEqual([undefined]);
    expect(stats.files).toBe(1);
    const frames = files[0]!.frames;
    expect(stats.writeErrors).toBe(3);
    expect(stats.lostRecords).toBe(3);
    // One mark of the three blocks lost in a row (CAPTURE_LOST_URL), before the first written again: a record of the file.
    expect(files[0]!.marks).toEqual([expect.stringMatching(/^3 records in 3 blocks not written: .*ENOSPC/)]);
    const lastFrame = stats.records - 1;
    expect(frames.length).toBe(lastFrame - stats.lostRecords);
    expect(frames.slice(-3)).toEqual([lastFrame - 2, lastFrame - 1, lastFrame]);
    // Named: the error and the file it was for; and once there is room again, that writing goes on.
    const errors = lines.filter((l) => l.msg === "capture block could not be written; its records are lost");
    expect(errors[0]).toMatchObject({ level: "error", detail: expect.stringMatching(/ENOSPC/), file: join(dir, "mnt/cap", files[0]!.f) });
    expect(lines.filter((l) => l.msg === "capture blocks written again after write errors")).toEqual([
      expect.objectContaining({ level: "warn", lostRecords: 3, file: join(dir, "mnt/cap", files[0]!.f) }),
    ]);
  });

  test.skipIf(spawnSync("prlimit", ["--version"]).status !== 0)("a file size limit (ulimit -f): the file ends at its last whole block, the next block opens a new file", async () => {
    const dir = makeTempDir("feeder-capture-fsize-");
    const script = join(dir, "record.ts");
    writeFileSync(
      script,
      [
        `import { readdirSync } from "node:fs";`,
        `import { CaptureWriter, readCapture } from ${JSON.stringify(join(ROOT, "src/record/capture.ts"))};`,
        `const cap = process.argv[2] + "/cap";`,
        `const w = new CaptureWriter({ dir: cap, prefix: "feeder", flushBytes: 1, compression: "none" });`,
        `for (let n = 1; n <= 20; n++) w.write(n, "bybit", "linear", "c", String(n).padStart(6, "0") + "x".repeat(3000));`,
        `w.close();`,
        `const files = readdirSync(cap).map((f) => { const r = readCapture(cap + "/" + f); return { f, frames: r.records.filter((x) => x.url === undefined).map((x) => Number(x.frame.slice(0, 6))), marks: r.records.length - r.records.filter((x) => x.url === undefined).length, truncated: r.truncated }; });`,
        `console.log(JSON.stringify({ stats: w.stats(), files }));`,
        "",
      ].join("\n"),
    );
    // Bun leaves SIGXFSZ ignored: a write past the limit is cut short, then fails with EFBIG.
    const proc = Bun.spawn(["prlimit", "--fsize=20000", process.execPath, script, dir], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    const code = await exitCodeWithin(proc, BOUND_MS);
    if (code === "still running") proc.kill("SIGKILL");
    const stdout = await new Response(proc.stdout).text();
    expect(code, await new Response(proc.stderr).text()).toBe(0);
    const { stats, files } = JSON.parse(stdout) as { stats: { records: number; lostRecords: number; files: number }; files: { f: string; frames: number[]; marks: number; truncated: string | undefined }[] };
    // Six 3 KB blocks fit under 20,000 bytes: the seventh of each file is lost and the file ends; the next opens a new one.
    expect(stats.files).toBeGreaterThanOrEqual(3);
    expect(files.map((f) => f.truncated)).toEqual(files.map(() => undefined));
    const read = files.flatMap((f) => f.frames);
    expect(stats.lostRecords).toBe(stats.files - 1);
    expect(read.length).toBe(20 - stats.lostRecords);
    expect(read).toContain(20);
    // Every file after the first begins with the mark of the block lost before it (CAPTURE_LOST_URL).
    expect(files.reduce((n, f) => n + f.marks, 0)).toBe(stats.files - 1);
  });
});
