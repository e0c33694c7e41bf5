/**
 * The file being written deleted by someone else (`rm DIR/*.fcap` to make room, a cleanup job): the next block goes
 * to a new file, and the deleted one is closed, so its space is freed and the loss is named. Before, the writer
 * wrote on into the deleted file until its next rotation (an hour by default): every block of that hour lost
 * without a word, and the disk space the operator meant to free stayed taken. The new file begins with a
 * `capture:lost` mark (until s-rdrec nothing in the capture said records were gone there: a replay of the files in
 * a row, a copytruncate copy and the new file, read across the hole with its books LIVE).
 */
import { existsSync, statSync, truncateSync, unlinkSync } from "node:fs";
import { expect, test } from "vitest";
import { basename } from "node:path";
import { CAPTURE_LOST_URL, CaptureWriter, readCapture } from "../../src/record/capture.ts";
import { createLogger } from "../../src/core/log.ts";
import { makeTempDir } from "../support/temp-dirs.ts";

test("the next block opens a new file; the deletion is logged with what was lost", () => {
  const dir = makeTempDir("feeder-capture-deleted-");
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({ format: "json", write: (l) => lines.push(JSON.parse(l)) });
  const w = new CaptureWriter({ dir, prefix: "feeder", flushBytes: 1, log });
  w.write(1, "bybit", "linear", "c", "gone-1");
  w.write(2, "bybit", "linear", "c", "gone-2");
  const first = w.files[0]!;
  unlinkSync(first);
  w.write(3, "bybit", "linear", "c", "kept-1");
  w.write(4, "bybit", "linear", "c", "kept-2");
  w.close();
  expect(w.files.length).toBe(2);
  expect(existsSync(w.files[1]!)).toBe(true);
  expect(readCapture(w.files[1]!).records.map((r) => [r.url, r.frame])).toEqual([
    [CAPTURE_LOST_URL, `${basename(first)} was deleted while being written (2 records)`],
    [undefined, "kept-1"],
    [undefined, "kept-2"],
  ]);
  expect(lines.filter((l) => l.msg === "capture file was deleted while being written; its records are gone, a new file is opened")).toEqual([
    expect.objectContaining({ level: "warn", file: first, records: 2 }),
  ]);
});

test("cut to nothing under the writer (logrotate copytruncate): the next block opens a new file, nothing is written into the cut one", () => {
  const dir = makeTempDir("feeder-capture-cut-");
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({ format: "json", write: (l) => lines.push(JSON.parse(l)) });
  const w = new CaptureWriter({ dir, prefix: "feeder", flushBytes: 1, log });
  w.write(1, "bybit", "linear", "c", "copied-1");
  const first = w.files[0]!;
  truncateSync(first, 0);
  w.write(2, "bybit", "linear", "c", "kept-1");
  w.close();
  expect(statSync(first).size).toBe(0);
  expect(w.files.length).toBe(2);
  expect(readCapture(w.files[1]!).records.map((r) => [r.url, r.frame])).toEqual([
    [CAPTURE_LOST_URL, `${basename(first)} was cut shorter while being written (1 records)`],
    [undefined, "kept-1"],
  ]);
  expect(lines.filter((l) => l.msg === "capture file was cut shorter while being written; its records are gone, a new file is opened")).toEqual([
    expect.objectContaining({ level: "warn", file: first, size: 0, records: 1 }),
  ]);
});
