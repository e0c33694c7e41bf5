/**
 * Second read of the capture directory's index (capture-index.ts) and of DIR made again (capture.ts recreateDir).
 */
import { expect, test } from "vitest";
import { rmSync, utimesSync } from "node:fs";
import { makeTempDir } from "../support/temp-dirs.ts";
import { CaptureWriter } from "../../src/record/capture.ts";

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
