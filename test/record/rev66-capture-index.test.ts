/**
 * Second read of the capture directory's index (capture-index.ts) and of DIR made again (capture.ts recreateDir).
 */
import { expect, test } from "vitest";
import { chmodSync, existsSync, mkdirSync, rmSync, statSync, utimesSync } from "node:fs";
import { join } from "node:path";
import { makeTempDir } from "../support/temp-dirs.ts";
import { CaptureWriter, readCapture } from "../../src/record/capture.ts";
import { createLogger } from "../../src/core/log.ts";

const lastWrites = (w: CaptureWriter) => (w as unknown as { lastWriteMonoMs: Map<string, number> }).lastWriteMonoMs;

test("--keep-hours with a cleaner taking every finished file: the last-write map stays small (the relist that sees it is the rotation's, not a retention pass's)", () => {
  const dir = makeTempDir("feeder-rev66-cleaner-");
  // A rotation per block; the retention pass of each rotation comes after the rotation's own listing.
  const w = new CaptureWriter({ dir, prefix: "feeder", flushBytes: 1, maxFileBytes: 300, flushIntervalMs: 3_600_000, retention: { keepMs: 7 * 86_400_000 } });
  for (let i = 0; i < 40; i++) {
    w.write(i, "bybit", "linear", "c", "x".repeat(300));
    // An uploader moves the finished file away; the directory's mtime set apart so the change is seen at once (on a
    // real disk it is within a clock tick of the writer's own change, or an hour later at the latest).
    if (w.files.length >= 2) rmSync(w.files.at(-2)!, { force: true });
    utimesSync(dir, 1_000_000 + i, 1_000_000 + i);
  }
  // The open file and at most the one just finished; before, one a file the uploader took (40).
  expect(lastWrites(w).size).toBeLessThanOrEqual(2);
  w.close();
});

test("DIR made again by the operator between the writer's failed open and its own mkdir: their mode stays, and the writer does not say it made it", () => {
  const parent = makeTempDir("feeder-rev66-race-");
  const dir = join(parent, "captures");
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({ format: "json", write: (l) => lines.push(JSON.parse(l)) });
  mkdirSync(dir);
  chmodSync(dir, 0o755);
  const w = new CaptureWriter({ dir, prefix: "feeder", flushBytes: 1, flushIntervalMs: 3_600_000, log });
  w.write(1, "bybit", "linear", "c", "before");
  rmSync(dir, { recursive: true });
  // The open file went with DIR, so the next block opens a new one: ENOENT, and the operator's `mkdir -m 0700` lands
  // between that and the writer's own mkdir.
  const inner = w as unknown as { recreateDir: () => void };
  const recreateDir = inner.recreateDir.bind(w);
  inner.recreateDir = () => {
    mkdirSync(dir);
    chmodSync(dir, 0o700);
    recreateDir();
  };
  w.write(2, "bybit", "linear", "c", "after");
  w.close();
  expect(statSync(dir).mode & 0o777).toBe(0o700);
  expect(readCapture(w.files.at(-1)!).records.map((r) => r.url ?? r.frame)).toEqual(["capture:lost", "after"]); // the deleted file's mark
  expect(w.stats()).toMatchObject({ lostRecords: 0 });
  expect(lines.filter((l) => l.msg === "capture directory was gone; made again")).toEqual([]);
});

test("DIR gone with the filesystem it was on (a data disk unmounted under the mount point): not made again on the one below, each block lost with an error saying why", () => {
  const parent = makeTempDir("feeder-rev66-unmounted-");
  const dir = join(parent, "data", "captures");
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({ format: "json", write: (l) => lines.push(JSON.parse(l)) });
  const w = new CaptureWriter({ dir, prefix: "feeder", flushBytes: 1, flushIntervalMs: 3_600_000, log });
  w.write(1, "bybit", "linear", "c", "before");
  // DIR was on a disk mounted at parent/data; unmounted, parent/data is the empty mount point on the disk below.
  // (Simulated: the device DIR was on when the writer started is made another than the mount point's.)
  (w as unknown as { dirDev: number }).dirDev = statSync(parent).dev + 1;
  rmSync(dir, { recursive: true });
  w.write(2, "bybit", "linear", "c", "after");
  w.close();
  expect(existsSync(dir)).toBe(false);
  expect(w.stats()).toMatchObject({ lostRecords: 1, writeErrors: 1 });
  const err = lines.find((l) => l.msg === "capture block could not be written; its records are lost");
  expect(err?.detail).toContain(`${join(parent, "data")} is on another filesystem`);
  expect(lines.filter((l) => l.msg === "capture directory was gone; made again")).toEqual([]);
});
