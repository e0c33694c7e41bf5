/**
 * The open capture cut to nothing (logrotate's copytruncate) in the moment between the writer's pre-block check
 * (fstat: still the length written) and the block's write. The block then lands at the old length, after a hole
 * of zeros where the header was, and the file is as long as the writer thinks: every later pre-block check passed,
 * so every block until the next rotation (an hour by default) went after the hole, where no reader reads (the file
 * no longer starts with a capture header: replay and export refuse it, exit 2 for the whole argument list). The
 * cut is injected deterministically: the monotonic clock the writer reads between the check and the write does it.
 */
import { readFileSync, truncateSync } from "node:fs";
import { expect, test } from "vitest";
import { CaptureWriter, captureFileProblem, readCapture } from "../../src/record/capture.ts";
import { createLogger } from "../../src/core/log.ts";
import { makeTempDir } from "../support/temp-dirs.ts";

test("a cut between the check and the write is found at the next block: no block is written after the hole, the file is left readable", () => {
  const dir = makeTempDir("feeder-capture-cut-race-");
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({ format: "json", write: (l) => lines.push(JSON.parse(l)) });
  let cutNext: string | undefined;
  const monoNow = (): number => {
    // Read by flush() after the pre-block check, just before the block is written (the file's age for rotation).
    if (cutNext !== undefined) truncateSync(cutNext, 0);
    cutNext = undefined;
    return performance.now();
  };
  const w = new CaptureWriter({ dir, prefix: "feeder", flushBytes: 1, log, monoNow, compression: "none" });
  w.write(1, "bybit", "linear", "c", "copied-1");
  const first = w.files[0]!;
  cutNext = first;
  w.write(2, "bybit", "linear", "c", "lost-in-the-race");
  for (let n = 3; n <= 5; n++) w.write(n, "bybit", "linear", "c", `kept-${n}`);
  w.close();
  // Every file of the directory is a capture a reader reads (the cut one empty again, as the cut left it) ...
  for (const f of w.files) expect(captureFileProblem(f)).toBeUndefined();
  expect(readFileSync(first).byteLength).toBe(0);
  // ... and every block after the race is in the new file.
  expect(w.files.length).toBe(2);
  expect(readCapture(w.files[1]!).records.map((r) => r.frame)).toEqual(["kept-3", "kept-4", "kept-5"]);
  expect(lines.filter((l) => typeof l.msg === "string" && l.msg.startsWith("capture file was cut shorter"))).toEqual([
    expect.objectContaining({ level: "warn", file: first }),
  ]);
});
