/**
 * The open capture cut to nothing (logrotate's copytruncate) in the moment between the writer's pre-block check
 * (fstat: still the length written) and the block's write. The block then lands at the old length, after a hole
 * of zeros where the header was, and the file is as long as the writer thinks: every later pre-block check passed,
 * so every block until the next rotation (an hour by default) went after the hole, where no reader reads (the file
 * no longer starts with a capture header: replay and export refuse it, exit 2 for the whole argument list). The
 * cut is injected deterministically: the writer's first write(2) of the block (node:fs writeSync, wrapped) does it
 * first. (Until 2026-12-06 the monotonic clock the writer read between the check and the write did it; the rotation
 * is now decided before the block is compressed, so no clock is read there.)
 */
import { readFileSync } from "node:fs";
import { expect, test, vi } from "vitest";
import { createLogger } from "../../src/core/log.ts";
import { makeTempDir } from "../support/temp-dirs.ts";

/** The file to cut to nothing just before the next write to any file (set by the test). */
const cut = vi.hoisted(() => ({ next: undefined as string | undefined }));

vi.mock("node:fs", async (importOriginal) => {
  const real = await importOriginal<typeof import("node:fs")>();
  const writeSync = ((...args: Parameters<typeof real.writeSync>) => {
    if (cut.next !== undefined) real.truncateSync(cut.next, 0);
    cut.next = undefined;
    return (real.writeSync as (...a: unknown[]) => number)(...args);
  }) as typeof real.writeSync;
  return { ...real, default: { ...real, writeSync }, writeSync };
});

const { CaptureWriter, captureFileProblem, readCapture } = await import("../../src/record/capture.ts");

test("a cut between the check and the write is found at the next block: no block is written after the hole, the file is left readable", () => {
  const dir = makeTempDir("feeder-capture-cut-race-");
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({ format: "json", write: (l) => lines.push(JSON.parse(l)) });
  const w = new CaptureWriter({ dir, prefix: "feeder", flushBytes: 1, log, compression: "none" });
  w.write(1, "bybit", "linear", "c", "copied-1");
  const first = w.files[0]!;
  cut.next = first; // after the pre-block check of the next block, before its write
  w.write(2, "bybit", "linear", "c", "lost-in-the-race");
  for (let n = 3; n <= 5; n++) w.write(n, "bybit", "linear", "c", `kept-${n}`);
  w.close();
  // Every file of the directory is a capture a reader reads (the cut one empty again, as the cut left it) ...
  for (const f of w.files) expect(captureFileProblem(f)).toBeUndefined();
  expect(readFileSync(first).byteLength).toBe(0);
  // ... and every block after the race is in the new file.
  expect(w.files.length).toBe(2);
  // After the mark that the cut file's records are gone (capture:lost).
  expect(readCapture(w.files[1]!).records.map((r) => r.url ?? r.frame)).toEqual(["capture:lost", "kept-3", "kept-4", "kept-5"]);
  expect(lines.filter((l) => typeof l.msg === "string" && l.msg.startsWith("capture file was cut shorter"))).toEqual([
    expect.objectContaining({ level: "warn", file: first }),
  ]);
});
